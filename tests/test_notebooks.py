"""Chapters read as prose over calls into their chapter modules (issue 16, item 2).

A notebook's code lines, outside the exercise cells (those with ``grade`` metadata, which students
edit), are at most a quarter of its non-blank lines; and that code holds no loop, comprehension,
``groupby`` or chart specification: those belong in ``scalingbook.chapters.<chapter>``, where tests
reach them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))
MAX_CODE_SHARE = 0.25


def cells(path: Path) -> list[tuple[str, str]]:
    """(header, body) of each jupytext percent cell: the ``# %%`` line and the lines after it."""
    parts = re.split(r"(?m)^(?=# %%)", path.read_text(encoding="utf-8"))
    return [(part.partition("\n")[0], part.partition("\n")[2]) for part in parts if part.startswith("# %%")]


def reader_cells(path: Path) -> tuple[list[str], list[str]]:
    """The prose cells' and the code cells' bodies, leaving out the exercise cells."""
    prose = [body for header, body in cells(path) if "[markdown]" in header]
    code = [body for header, body in cells(path) if "[markdown]" not in header and "grade=" not in header]
    return prose, code


def non_blank(bodies: list[str]) -> int:
    return sum(1 for body in bodies for line in body.splitlines() if line.strip())


def code_share(path: Path) -> float:
    prose, code = reader_cells(path)
    return non_blank(code) / (non_blank(code) + non_blank(prose))


def heavy_code(path: Path) -> list[str]:
    """Loops, comprehensions, groupbys and Altair chart specifications in the notebook's reader cells."""
    found = []
    for body in reader_cells(path)[1]:
        for node in ast.walk(ast.parse(body)):
            line = getattr(node, "lineno", 0)
            text = body.splitlines()[line - 1].strip() if line else ""
            if isinstance(node, (ast.For, ast.While, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
                found.append(f"{type(node).__name__}: {text}")
            elif isinstance(node, ast.Attribute) and node.attr == "groupby":
                found.append(f"groupby: {text}")
            elif isinstance(node, ast.Name) and node.id == "alt":
                found.append(f"chart specification: {text}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_is_mostly_prose(path):
    share = code_share(path)
    assert share <= MAX_CODE_SHARE, f"{path.name}: {share:.0%} of its non-blank lines are code (at most 25%)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chapter_leaves_loops_and_charts_to_its_module(path):
    assert heavy_code(path) == []


def test_the_measure_counts_what_it_should(tmp_path):
    notebook = tmp_path / "n.py"
    notebook.write_text(
        "# %% [markdown]\n# one\n# two\n\n# three\n\n# %%\nx = [i for i in range(3)]\n\n"
        '# %% grade={"exercise": "e"}\nfor i in range(9):\n    pass\n'
    )
    assert code_share(notebook) == 0.25
    assert heavy_code(notebook) == ["ListComp: x = [i for i in range(3)]"]
