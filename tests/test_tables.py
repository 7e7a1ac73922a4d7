"""Tables as the book shows them."""

from __future__ import annotations

import pandas as pd

from scalingbook.chapters import tables


def test_plain_frames_get_human_names_aligned_numbers_and_per_column_digits():
    frame = pd.DataFrame(
        {"n_params": [1000, 20000], "loss": [2.093712, 17.70151], "flops": [3.1e12, 4e13], "task": ["a", "b"]}
    )
    html = tables.style(frame).to_html()
    for shown in (">parameters<", ">FLOPs<", "1,000", "20,000", ">2.09<", ">17.70<", "3.100e+12"):
        assert shown in html, shown
    assert html.count('sb-num"') == 6 and html.count('sb-text"') == 2
    assert "n_params" not in html


def test_a_chapters_own_formats_are_kept():
    styler = pd.DataFrame({"loss": [2.093712], "gopher_units": [0.5]}).style.format({"loss": "{:.1f}"})
    html = tables.style(styler).to_html()
    assert ">2.1<" in html and ">Gopher units<" in html


def test_number_formats():
    assert tables.number_format(pd.Series([1, 2])) == "{:,}"
    assert tables.number_format(pd.Series([0.5, 0.25])) == "{:,.4f}"
    assert tables.number_format(pd.Series([1e-5, 2e-5])) == "{:.3e}"
    assert tables.number_format(pd.Series([float("nan")])) == "{:g}"
