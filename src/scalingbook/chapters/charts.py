"""Altair charts with one shared theme, drawn offline in the built book, at the width of its page.

Every chapter calls :func:`enable` once. From then on each chart it shows goes through
:func:`prepare`, which makes it fit the book's content column and keeps its data small, and is drawn by
vega-embed from the page's own ``_static/vega-bundle.js`` (written by :func:`write_vega_bundle`), so
no chart needs a network; the Vega-Lite spec arrives compiled to Vega here, in Python (with
``vl-convert``), which lets its data travel as CSV. JupyterLab still gets the plain Vega-Lite JSON it draws by
itself.

What :func:`prepare` does to a chart, so that the chapters need not:

* **Fit.** A single or layered chart follows its container's width. A concatenated or faceted chart is
  measured (rendered to SVG with ``vl-convert``) and its panels narrowed until the whole fits
  :data:`COLUMN_WIDTH`; a facet that wraps loses a column first when its panels would get narrower
  than :data:`MIN_PANEL_WIDTH`. Axis titles longer than their panel wrap onto a second line.
* **Readable axes.** A position axis whose field holds only integers (layers, lengths, counts) ticks at
  whole numbers; one whose values reach 100,000 shows them compactly ("300G", not
  "300,000,000,000"), unless the chapter chose a format.
* **Nothing empty or warned about.** Bars on a log scale grow from the axis, since a log scale
  cannot start at zero; ``zero`` is dropped from log scales; a layer whose data is empty is left out.
* **Small.** Columns no encoding or expression names are dropped from the data, floats keep
  :data:`SIGNIFICANT` significant digits, and large tables travel as CSV inside the page.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import altair as alt

THEME = "scalingbook"
RENDERER = "scalingbook"
# Okabe & Ito's colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
BUNDLE_NAME = "vega-bundle.js"
# SVG keeps the marks in the DOM (inspectable, testable, crisp when zoomed).
EMBED_OPTIONS = json.dumps(
    {"renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False}}
)
# The book's content column is 676 px wide in a 1280-px window; charts are laid out a little inside it.
COLUMN_WIDTH = 650
MIN_PANEL_WIDTH = 130
SIGNIFICANT = 4
CSV_MIN_ROWS = 40  # smaller inline tables stay JSON
SOURCE_LINE_CHARS = 95  # source lines under a title wrap at about the column's width
COMPOSITIONS = ("hconcat", "vconcat", "concat", "facet", "repeat")


def _theme() -> alt.theme.ThemeConfig:
    font = "Helvetica Neue, Helvetica, Arial, sans-serif"
    return {
        "config": {
            "view": {"continuousWidth": 280, "continuousHeight": 220, "stroke": None},
            "font": font,
            "title": {"fontSize": 14, "anchor": "start", "subtitleColor": "#555", "subtitleFontSize": 11},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e6e6e6", "domainColor": "#888"},
            # Labels that would touch are dropped rather than run together ("1,0002,000").
            "axisQuantitative": {"labelOverlap": True, "labelSeparation": 6},
            "legend": {"labelFontSize": 11, "titleFontSize": 12},
            "header": {"labelFontSize": 11, "titleFontSize": 12},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
            "point": {"filled": True, "size": 40},
        }
    }


# ---------------------------------------------------------------------------------------------
# prepare: fit, readable axes, nothing empty, small data


def _walk(node: Any) -> Iterator[dict]:
    """Every dict in a spec, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _units(spec: dict) -> Iterator[dict]:
    """Every single-mark view of a spec (inside layers, facets and concatenations)."""
    for node in _walk({k: v for k, v in spec.items() if k != "datasets"}):
        if "mark" in node and isinstance(node.get("encoding", {}), dict):
            yield node


def _rows(spec: dict) -> Iterator[list]:
    yield from spec.get("datasets", {}).values()
    for node in _walk({k: v for k, v in spec.items() if k != "datasets"}):
        data = node.get("data")
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            yield data["values"]


def _values(spec: dict, field: str) -> list:
    return [row[field] for rows in _rows(spec) for row in rows if isinstance(row, dict) and row.get(field) is not None]


def _round(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value != 0 and not value.is_integer():
        return float(f"{value:.{SIGNIFICANT}g}")
    return value


def _compact_data(spec: dict) -> None:
    """Drop columns nothing names, round floats (in place)."""
    text = json.dumps({k: v for k, v in spec.items() if k != "datasets"})
    shows_all = '"tooltip": true' in text or '"content": "data"' in text
    for rows in _rows(spec):
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                rows[i] = {k: _round(v) for k, v in row.items() if shows_all or k in text}


def _scale_of(channel: dict) -> dict:
    scale = channel.get("scale")
    return scale if isinstance(scale, dict) else {}


def _fix_encodings(spec: dict) -> None:
    """Log scales without zero, bars that a log scale can draw, readable position axes (in place)."""
    for unit in _units(spec):
        encoding = unit.get("encoding", {})
        mark = unit["mark"]["type"] if isinstance(unit["mark"], dict) else unit["mark"]
        for channel in encoding.values():
            if isinstance(channel, dict) and _scale_of(channel).get("type") == "log":
                channel["scale"].pop("zero", None)
        for pos, pos2, edge in (("x", "x2", 0), ("y", "y2", {"expr": "height"})):
            channel = encoding.get(pos)
            if not isinstance(channel, dict) or channel.get("type") != "quantitative":
                continue
            log = _scale_of(channel).get("type") == "log"
            field = channel.get("field")
            if mark == "bar" and log and pos2 not in encoding and "bin" not in channel:
                encoding[pos2] = {"value": edge}  # from the axis, not from zero
                values = _values(spec, field) if field is not None else []
                positive = [v for v in values if isinstance(v, (int, float)) and v > 0]
                if positive and "domain" not in channel["scale"] and "domainMin" not in channel["scale"]:
                    channel["scale"]["domainMin"] = 10.0 ** math.floor(math.log10(min(positive)))
            axis = channel.get("axis", {})
            if not isinstance(field, str) or axis is None or "aggregate" in channel or "bin" in channel:
                continue
            if "format" in axis or "labelExpr" in axis:
                continue
            values = _values(spec, field)
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not numbers or len(numbers) != len(values):
                continue
            axis = dict(axis)
            if max(abs(v) for v in numbers) >= 1e5:
                axis["format"] = "~s"
            elif not log and all(isinstance(v, int) for v in numbers):
                axis.setdefault("tickMinStep", 1)
                axis["format"] = "d"
            else:
                continue
            channel["axis"] = axis


def _drop_empty_layers(spec: dict) -> None:
    datasets = spec.get("datasets", {})

    def empty(node: dict) -> bool:
        data = node.get("data")
        return isinstance(data, dict) and (datasets.get(data.get("name"), None) == [] or data.get("values", None) == [])

    for node in _walk(spec):
        layers = node.get("layer")
        if isinstance(layers, list) and len(layers) > 1:
            kept = [layer for layer in layers if not (isinstance(layer, dict) and empty(layer))]
            node["layer"] = kept or layers[:1]


def _views(node: Any) -> Iterator[dict]:
    """The views whose widths set a composed chart's width (units and layers, not inside a layer)."""
    if not isinstance(node, dict):
        return
    if "layer" in node or "mark" in node:
        yield node
        return
    if "spec" in node:
        yield from _views(node["spec"])
    for key in ("hconcat", "vconcat", "concat"):
        for child in node.get(key, []):
            yield from _views(child)


def _continuous_x(view: dict) -> bool:
    for unit in [view, *view.get("layer", [])]:
        x = unit.get("encoding", {}).get("x") if isinstance(unit, dict) else None
        if isinstance(x, dict) and x.get("type") in ("nominal", "ordinal") and "bin" not in x:
            return False
    return True


def _widths(spec: dict) -> list[float]:
    default = spec.get("config", {}).get("view", {}).get("continuousWidth", 300)
    found = []
    for view in _views(spec):
        width = view.get("width")
        if isinstance(width, (int, float)):
            found.append(float(width))
        elif width is None and _continuous_x(view):
            found.append(float(default))
    return found


def _scaled(spec: dict, factor: float) -> dict:
    spec = copy.deepcopy(spec)
    default = spec.get("config", {}).get("view", {}).get("continuousWidth", 300)
    for view in _views(spec):
        width = view.get("width")
        if width is None and _continuous_x(view):
            width = default
        if isinstance(width, (int, float)):
            view["width"] = max(40, int(width * factor))
            for child in view.get("layer", []):
                if isinstance(child, dict) and isinstance(child.get("width"), (int, float)):
                    child["width"] = view["width"]
    return spec


def _vl_version(spec: dict) -> str | None:
    import vl_convert

    found = re.search(r"/v(\d+)\.(\d+)", spec.get("$schema", ""))
    version = f"{found[1]}.{found[2]}" if found else None
    return version if version in vl_convert.get_vegalite_versions() else None


def measure(spec: dict) -> float:
    """The width in pixels of a Vega-Lite chart as drawn (rendered offline to SVG)."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec, vl_version=_vl_version(spec))
    width = re.search(r'<svg[^>]*?\bwidth="([\d.]+)"', svg)
    if width is None:
        raise ValueError(f"vl-convert drew an SVG without a width: {svg[:200]!r}")
    return float(width[1])


def _wrap_axis_titles(spec: dict) -> None:
    """An x-axis title longer than its panel goes onto two or more lines."""
    for view in _views(spec):
        width = view.get("width")
        if not isinstance(width, (int, float)):
            continue
        for unit in [view, *view.get("layer", [])]:
            x = unit.get("encoding", {}).get("x") if isinstance(unit, dict) else None
            if isinstance(x, dict) and isinstance(x.get("title"), str) and len(x["title"]) * 6.5 > width:
                x["title"] = textwrap.wrap(x["title"], max(8, int(width / 6.5)))


def _fit(spec: dict, column: float) -> dict:
    faceted = any(key in spec.get("encoding", {}) for key in ("row", "column", "facet"))
    if not faceted and not any(key in spec for key in COMPOSITIONS):
        return {**spec, "width": "container", "autosize": {"type": "fit-x", "contains": "padding"}}
    for _ in range(6):
        width = measure(spec)
        if width <= column:
            return spec
        narrower = measure(_scaled(spec, 0.5))
        slope = (width - narrower) / 0.5  # width = fixed + slope * factor
        if slope <= 1:
            return spec  # nothing to narrow (a title or legend sets the width)
        factor = (column - (width - slope)) / slope * 0.98
        panels = _widths(spec)
        wrapping = [n for n in _walk(spec) if "facet" in n and isinstance(n.get("columns"), int) and n["columns"] > 1]
        if wrapping and (factor <= 0 or min(panels) * factor < MIN_PANEL_WIDTH):
            for node in wrapping:
                node["columns"] -= 1
            continue
        spec = _scaled(spec, max(factor, 0.1))
        _wrap_axis_titles(spec)
    return spec


def _wrap_titles(spec: dict) -> None:
    """Title and subtitle lines (the source lines of :func:`with_source`) wrap at the column's width."""
    title = spec.get("title")
    if not isinstance(title, dict):
        return
    for key in ("text", "subtitle"):
        lines = title.get(key)
        lines = [lines] if isinstance(lines, str) else lines
        if isinstance(lines, list) and any(len(line) > SOURCE_LINE_CHARS for line in lines):
            title[key] = [
                part for line in lines for part in textwrap.wrap(line, SOURCE_LINE_CHARS, subsequent_indent="  ")
            ]


def prepare(spec: dict, column: float = COLUMN_WIDTH) -> dict:
    """The chart the book draws for a Vega-Lite ``spec``: fitted to ``column`` px, readable, small.

    See the module docstring for every change; the input is not modified.
    """
    spec = copy.deepcopy(spec)
    _compact_data(spec)
    _drop_empty_layers(spec)
    _fix_encodings(spec)
    _wrap_titles(spec)
    return _fit(spec, column)


# ---------------------------------------------------------------------------------------------
# drawing: Vega alone, data as CSV


def _as_csv(data: dict) -> None:
    """Replace a Vega dataset's inline JSON rows by CSV text with typed columns (in place)."""
    rows = data.get("values")
    if not isinstance(rows, list) or len(rows) < CSV_MIN_ROWS or not all(isinstance(r, dict) for r in rows):
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    parse = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            parse[column] = "boolean"
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            parse[column] = "number"
        elif all(isinstance(v, str) for v in values):
            parse[column] = "string"
        else:
            return  # mixed or nested values stay JSON
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                ""
                if row.get(c) is None
                else (
                    "true"
                    if row[c] is True
                    else "false"
                    if row[c] is False
                    else repr(row[c])
                    if isinstance(row[c], float)
                    else row[c]
                )
                for c in columns
            ]
        )
    given = data.get("format", {}).get("parse", {})
    data["values"] = out.getvalue()
    data["format"] = {"type": "csv", "parse": {**parse, **(given if isinstance(given, dict) else {})}}


def to_vega(spec: dict) -> dict:
    """Compile a Vega-Lite spec to Vega offline, with its large inline tables as CSV."""
    import vl_convert

    vega = vl_convert.vegalite_to_vega(spec, vl_version=_vl_version(spec))
    for data in vega.get("data", []):
        _as_csv(data)
    return vega


def _render(spec: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Mime bundle: Vega-Lite JSON for Jupyter, and HTML that draws the compiled Vega with the book's bundle."""
    spec = prepare(spec)
    target = f"sb-chart-{uuid.uuid4().hex[:12]}"
    vega = json.dumps(to_vega(spec), separators=(",", ":"))
    html = (
        f'<div id="{target}" class="scalingbook-chart"></div>\n'
        '<script type="text/javascript">\n'
        "(function () {\n"
        f"  const spec = {vega};\n"
        f'  const draw = () => vegaEmbed("#{target}", spec, {EMBED_OPTIONS}).catch(console.error);\n'
        '  if (window.vegaEmbed) { draw(); } else { window.addEventListener("load", draw); }\n'
        "})();\n"
        "</script>"
    )
    return {"application/vnd.vegalite.v5+json": spec, "text/html": html, "text/plain": "<Chart>"}


def enable() -> None:
    """Use the book's look: the chart theme and offline renderer, and the table style (call once at the
    top of a chapter)."""
    from scalingbook.chapters import tables

    tables.enable()
    alt.theme.register(THEME, enable=True)(_theme)
    alt.renderers.register(RENDERER, _render)
    alt.renderers.enable(RENDERER)


def write_vega_bundle(static_dir: Path) -> Path:
    """Write vega, vega-lite and vega-embed as one script into the book's static folder.

    The charts arrive compiled to Vega, so vega-lite is not needed; but vl-convert's bundler cannot
    export Vega alone (its ``vega`` name bundles to null), so the whole bundle is written.
    """
    import vl_convert

    path = Path(static_dir) / BUNDLE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    # A function scope keeps the bundle's top-level names (such as `_`) off the page's globals;
    # the bundle itself sets window.vegaEmbed, the name the charts use.
    # vl-convert's stub makes snippet required; the function defaults it (the snippet that sets window.vegaEmbed)
    bundle = "(function () {\n" + vl_convert.javascript_bundle() + "\n})();\n"  # type: ignore[call-arg]
    if not path.is_file() or path.read_text() != bundle:
        path.write_text(bundle)
    return path


def with_source(chart: alt.TopLevelMixin, *sources: str, title: str | None = None) -> alt.TopLevelMixin:
    """Say under the chart's title which results it was drawn from."""
    lines = [f"Source: {s}" for s in sources] or ["Source: computed in this chapter"]
    return chart.properties(title=alt.TitleParams(text=title or "", subtitle=lines))
