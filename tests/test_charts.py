"""The book's chart preparation: fit to the column, readable axes, nothing empty, small data."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd

from scalingbook.chapters import charts


def _spec(chart: alt.TopLevelMixin) -> dict:
    with alt.theme.enable("default"):
        return chart.to_dict()


def test_a_single_chart_follows_its_container():
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    spec = charts.prepare(_spec(alt.Chart(frame).mark_line().encode(x="x:Q", y="y:Q")))
    assert spec["width"] == "container"
    assert spec["autosize"]["type"] == "fit-x"


def test_wide_concatenations_and_facets_are_narrowed_to_the_column():
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40.0) ** 2, "panel": np.repeat(list("abcdefgh"), 5)})
    base = alt.Chart(frame).mark_line().encode(x="x:Q", y="y:Q")
    wide = alt.hconcat(base.properties(width=400), base.properties(width=400))
    faceted = base.properties(width=250, height=100).facet(facet="panel:N", columns=4)
    for chart in (wide, faceted):
        spec = _spec(chart)
        assert charts.measure(spec) > charts.COLUMN_WIDTH
        assert charts.measure(charts.prepare(spec)) <= charts.COLUMN_WIDTH
    fitted = charts.prepare(_spec(faceted))
    assert fitted["columns"] < 4  # panels would have been too narrow: the facet wraps instead


def test_count_axes_tick_at_whole_numbers_and_large_numbers_are_compact():
    frame = pd.DataFrame({"layers": [1, 2, 3, 4], "flops": [1e9, 1e10, 1e11, 3e11], "loss": [3.0, 2.5, 2.2, 2.1]})
    spec = charts.prepare(_spec(alt.Chart(frame).mark_line().encode(x="layers:Q", y="loss:Q")))
    assert spec["encoding"]["x"]["axis"] == {"tickMinStep": 1, "format": "d"}
    assert "axis" not in spec["encoding"]["y"]
    spec = charts.prepare(
        _spec(alt.Chart(frame).mark_line().encode(x=alt.X("flops:Q", scale=alt.Scale(type="log")), y="loss:Q"))
    )
    assert spec["encoding"]["x"]["axis"]["format"] == "~s"
    chosen = alt.X("flops:Q", axis=alt.Axis(format=".0e"))
    spec = charts.prepare(_spec(alt.Chart(frame).mark_line().encode(x=chosen, y="loss:Q")))
    assert spec["encoding"]["x"]["axis"] == {"format": ".0e"}  # the chapter's choice stays


def test_bars_on_a_log_scale_grow_from_the_axis_and_log_scales_lose_zero():
    frame = pd.DataFrame({"method": ["a", "b"], "speed": [3.0, 3000.0]})
    bars = alt.Chart(frame).mark_bar().encode(x=alt.X("speed:Q", scale=alt.Scale(type="log", zero=False)), y="method:N")
    spec = charts.prepare(_spec(bars))
    assert spec["encoding"]["x2"] == {"value": 0}
    assert spec["encoding"]["x"]["scale"]["domainMin"] == 1.0  # the decade below the smallest bar
    assert "zero" not in spec["encoding"]["x"]["scale"]
    vega = charts.to_vega(spec)
    domain = next(s for s in vega["scales"] if s["name"] == "x")
    assert domain["type"] == "log"


def test_empty_layers_are_left_out():
    lines = alt.Chart(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]})).mark_line().encode(x="x:Q", y="y:Q")
    rules = alt.Chart(pd.DataFrame({"x": pd.Series([], dtype=float)})).mark_rule().encode(x="x:Q")
    spec = charts.prepare(_spec(alt.layer(lines, rules)))
    assert len(spec["layer"]) == 1 and spec["layer"][0]["mark"]["type"] == "line"


def test_data_keeps_only_named_columns_rounded_and_travels_as_csv():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.random(100),
            "y": rng.random(100),
            "unused": rng.random(100),
            "ok": rng.random(100) > 0.5,
            "task": ["a,b"] * 100,
        }
    )
    chart = (
        alt.Chart(frame)
        .mark_point()
        .encode(x="x:Q", y="y:Q", color="task:N", opacity=alt.condition("datum.ok", alt.value(1), alt.value(0.2)))
    )
    spec = charts.prepare(_spec(chart))
    rows = next(iter(spec["datasets"].values()))
    assert set(rows[0]) == {"x", "y", "ok", "task"}
    assert all(float(f"{row['x']:.{charts.SIGNIFICANT}g}") == row["x"] for row in rows)
    vega = charts.to_vega(spec)
    data = next(d for d in vega["data"] if isinstance(d.get("values"), str))
    assert data["format"]["type"] == "csv"
    assert data["format"]["parse"]["x"] == "number" and data["format"]["parse"]["ok"] == "boolean"
    assert '"a,b"' in data["values"]


def test_long_source_lines_wrap():
    chart = charts.with_source(alt.Chart(pd.DataFrame({"x": [1.0]})).mark_point().encode(x="x:Q"), "s" * 200, title="t")
    subtitle = charts.prepare(_spec(chart))["title"]["subtitle"]
    assert len(subtitle) > 1 and all(len(line) <= charts.SOURCE_LINE_CHARS for line in subtitle)


def test_the_renderer_draws_compiled_vega():
    charts.enable()
    bundle = charts._render(_spec(alt.Chart(pd.DataFrame({"x": [1.0]})).mark_point().encode(x="x:Q")))
    assert 'vegaEmbed("#sb-chart-' in bundle["text/html"]
    start = bundle["text/html"].index("const spec = ") + len("const spec = ")
    vega = json.loads(bundle["text/html"][start : bundle["text/html"].index(";\n", start)])
    assert vega["$schema"].startswith("https://vega.github.io/schema/vega/")
