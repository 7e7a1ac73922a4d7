"""Tables as the book shows them: human column names, numbers right-aligned, sensible digits.

:func:`enable` (called by :func:`scalingbook.chapters.charts.enable`, once per chapter) makes every DataFrame
and pandas Styler a chapter displays go through :func:`style`, so the chapters keep writing plain
``frame.style.format(...)``. The cell padding and rules live in the book's stylesheet
(``book/_static/scalingbook.css``); here each cell only gets a class saying whether it holds a number.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

NUMBER_CLASS, TEXT_CLASS = "sb-num", "sb-text"
SIGNIFICANT = 4  # digits of a column's largest value that a plain DataFrame shows

# Column names the chapters' tables use, as a reader should see them; other names lose their underscores.
HUMAN_NAMES = {
    "n_params": "parameters",
    "params_min": "parameters (min)",
    "params_max": "parameters (max)",
    "n_layers": "layers",
    "d_model": "width (d_model)",
    "flops": "FLOPs",
    "n_opt": "N_opt",
    "d_opt": "D_opt",
    "gopher_units": "Gopher units",
    "n_seeds": "seeds",
    "n_peaks": "density peaks",
    "p_value": "p-value",
    "em": "exact match",
    "low": "CI low",
    "high": "CI high",
    "member_steps_per_s": "member-steps / s",
    "over_naive": "speed-up over naive",
    "mfu": "MFU",
}


def human_name(name: Any) -> Any:
    """How a column called ``name`` is headed in the book."""
    if not isinstance(name, str):
        return name
    return HUMAN_NAMES.get(name, name.replace("_", " ") if re.fullmatch(r"[a-z0-9_]+", name) else name)


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def number_format(column: pd.Series) -> str:
    """A format for a numeric column: thousands separators for integers, else digits by magnitude.

    Floats show :data:`SIGNIFICANT` significant digits of the column's largest magnitude, the same
    number of decimals on every row (so the column lines up); very large or small ones go scientific.
    """
    if pd.api.types.is_integer_dtype(column):
        return "{:,}"
    finite = np.abs(column.to_numpy(dtype=float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return "{:g}"
    top = finite.max()
    if top >= 1e6 or top < 1e-3:
        return f"{{:.{SIGNIFICANT - 1}e}}"
    if np.all(finite == np.round(finite)):
        return "{:,.0f}"
    decimals = max(0, SIGNIFICANT - 1 - math.floor(math.log10(top)))
    return f"{{:,.{decimals}f}}"


def style(table: pd.DataFrame | Styler) -> Styler:
    """The book's look for a table: a Styler whose formats (if any) the chapter chose is kept as it is."""
    if isinstance(table, Styler):
        styler, frame = table, table.data
    else:
        frame = table
        styler = frame.style.format(
            {c: number_format(frame[c]) for c in frame.columns if _is_number(frame[c])}, na_rep="-"
        )
        if isinstance(frame.index, pd.RangeIndex):
            styler = styler.hide(axis="index")
    numeric = [_is_number(frame[c]) for c in frame.columns] if frame.columns.is_unique else [False] * frame.shape[1]
    classes = pd.DataFrame(
        [[NUMBER_CLASS if n else TEXT_CLASS for n in numeric]] * len(frame), index=frame.index, columns=frame.columns
    )
    styler = styler.set_td_classes(classes)
    if frame.columns.is_unique:
        headings = {
            c: [{"selector": "", "props": [("text-align", "right" if n else "left")]}]
            for c, n in zip(frame.columns, numeric)
        }
        styler = styler.set_table_styles(headings, overwrite=False)
    return styler.format_index(human_name, axis=1)


def _html(table: pd.DataFrame | Styler) -> str:
    return style(table).to_html()


def enable() -> None:
    """Show every DataFrame and Styler in the running IPython kernel with :func:`style`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, _html)
    formatter.for_type(Styler, _html)
