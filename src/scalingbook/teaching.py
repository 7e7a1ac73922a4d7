"""Teaching: student versions of a chapter, and an autograder for them.

A chapter declares its exercises itself, so the exercise, its solution and its checks live in one
place. The code cell that computes an exercise's answer carries ``grade`` metadata naming the
exercise and, for each result variable, its tolerances (``rtol``, ``atol``; optional ``points``)::

    # %% grade={"exercise": "mirage-ex-fit", "checks": {"ex2_alpha": {"atol": 0.002}}}
    # BEGIN SOLUTION hint: fit a line to ln(-ln p) against ln N
    ex2_c, ex2_alpha = metric_model.fit_cross_entropy_power_law(...)
    # END SOLUTION

``assignment`` replaces each ``BEGIN SOLUTION`` .. ``END SOLUTION`` region by a stub that raises
``NotImplementedError`` with the hint, drops the solution prose (``{solution}`` blocks and
``{solution-start}`` .. ``{solution-end}`` regions), and sets the teacher's parameters. ``grade``
runs a submission cell by cell in a fresh kernel under a time limit, reads the named results after
every cell (so a later crash or loop does not erase earlier answers), and compares them with the
values the reference chapter computes with the same parameters (cached by its staleness key).
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from scalingbook import book
from scalingbook.params import resolve

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION(?:\s+hint:\s*(.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
_FENCE = re.compile(r"^(`{3,}|:{3,})\{solution\}")
RESULTS_MIME = "application/vnd.scalingbook.results+json"
TIMEOUT_ERROR = "CellTimeoutError"
DEFAULT_HINT = "replace this line with your solution"


class TeachingError(ValueError):
    """A notebook is not a valid chapter with exercises or not a scalingbook assignment."""


@dataclass(frozen=True)
class Check:
    """One named result an exercise must produce, equal to the reference within tolerances."""

    name: str
    rtol: float = 0.0
    atol: float = 0.0

    def judge(self, got: Any, expected: float) -> CheckOutcome:
        """Pass when ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``isclose``)."""
        allowed = self.atol + self.rtol * abs(expected)
        if got is None:
            return CheckOutcome(self.name, False, expected, None, f"{self.name} was never assigned")
        if not isinstance(got, (int, float)):
            return CheckOutcome(self.name, False, expected, None, f"{self.name} is not a number: {got}")
        miss = abs(got - expected)
        if miss <= allowed:
            return CheckOutcome(self.name, True, expected, got, f"{self.name} = {got:.6g} ok")
        relative = f", {miss / abs(expected):.2%} of it" if expected else ""
        return CheckOutcome(
            self.name, False, expected, got,
            f"{self.name} = {got:.6g}, expected {expected:.6g}: off by {miss:.3g}{relative}; "
            f"allowed {allowed:.3g}",
        )


@dataclass(frozen=True)
class Exercise:
    """An exercise of a chapter, as its solution cell's ``grade`` metadata declares it."""

    label: str
    checks: tuple[Check, ...]
    points: float = 1.0


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    expected: float
    got: float | None
    message: str


@dataclass(frozen=True)
class ExerciseOutcome:
    label: str
    points: float
    score: float
    seconds: float
    checks: tuple[CheckOutcome, ...]


@dataclass(frozen=True)
class CellRun:
    """How one code cell of a graded notebook went: ok, error, timeout, or not run."""

    index: int
    status: str
    seconds: float = 0.0
    error: str = ""


@dataclass
class Execution:
    """A notebook run cell by cell: the named results last seen, and every cell's outcome."""

    results: dict[str, Any]
    cells: list[CellRun]
    seconds: float
    stopped: str | None
    notebook: Any = field(repr=False)


@dataclass(frozen=True)
class Report:
    notebook: str
    chapter: str
    parameters: dict[str, Any]
    score: float
    max_score: float
    seconds: float
    stopped: str | None
    exercises: tuple[ExerciseOutcome, ...]
    cells: tuple[CellRun, ...]

    def summary(self) -> str:
        """The report as a teacher reads it: one line per exercise, then the failed checks."""
        lines = [f"{self.notebook} ({self.chapter}): {self.score:g} / {self.max_score:g}"]
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        for number, ex in enumerate(self.exercises, 1):
            lines.append(f"  exercise {number} ({ex.label}): {ex.score:g} / {ex.points:g}")
            lines += [f"    - {check.message}" for check in ex.checks if not check.passed]
        return "\n".join(lines)


def exercises(notebook: Any) -> tuple[Exercise, ...]:
    """The exercises a notebook declares, in order, from its cells' ``grade`` metadata."""
    found: dict[str, Exercise] = {}
    for index, cell in enumerate(notebook.cells):
        spec = cell.metadata.get("grade")
        if spec is None:
            continue
        if cell.cell_type != "code" or not isinstance(spec, dict) or not spec.get("exercise") or not spec.get("checks"):
            raise TeachingError(f"cell {index}: grade metadata needs a code cell, 'exercise' and 'checks'")
        if spec["exercise"] in found:
            raise TeachingError(f"cell {index}: exercise {spec['exercise']!r} is declared twice")
        checks = tuple(Check(name, float(t.get("rtol", 0)), float(t.get("atol", 0))) for name, t in spec["checks"].items())
        found[spec["exercise"]] = Exercise(spec["exercise"], checks, float(spec.get("points", 1)))
    return tuple(found.values())


def chapter_exercises(chapter: book.Chapter) -> tuple[Exercise, ...]:
    import jupytext

    return exercises(jupytext.read(chapter.notebook))


def stub_solutions(source: str, stub: str) -> str:
    """Replace each ``BEGIN SOLUTION`` .. ``END SOLUTION`` region by ``stub`` raising the marker's hint."""
    out: list[str] = []
    region: re.Match | None = None
    for number, line in enumerate(source.splitlines(), 1):
        if region is None and (begin := BEGIN.match(line)):
            region = begin
        elif region is None:
            if END.match(line):
                raise TeachingError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            out.append(line)
        elif END.match(line):
            indent, hint = region.group(1), region.group(2) or DEFAULT_HINT
            out += [f"{indent}# {stub}", f"{indent}raise NotImplementedError({hint!r})"]
            region = None
        elif BEGIN.match(line):
            raise TeachingError(f"line {number}: BEGIN SOLUTION inside another solution region")
    if region is not None:
        raise TeachingError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def strip_solution_blocks(markdown: str) -> str:
    """Drop fenced ``{solution}`` directives from a markdown cell (the fence closes with the same marks)."""
    out: list[str] = []
    closing: str | None = None
    for line in markdown.splitlines():
        if closing is None and (fence := _FENCE.match(line.strip())):
            closing = fence.group(1)
        elif closing is None:
            out.append(line)
        elif line.strip() == closing:
            closing = None
    return "\n".join(out).strip()


def student_notebook(notebook: Any) -> Any:
    """A copy of a chapter with every solution stubbed and every solution text removed."""
    declared = {ex.label: ex for ex in exercises(notebook)}
    student = copy.deepcopy(notebook)
    cells = []
    in_gate = False
    for index, cell in enumerate(student.cells):
        if cell.cell_type == "markdown":
            opens, closes = "{solution-start}" in cell.source, "{solution-end}" in cell.source
            gated = in_gate or opens or closes
            in_gate = (in_gate or opens) and not closes
            cell.source = "" if gated else strip_solution_blocks(cell.source)
            if cell.source:
                cells.append(cell)
            continue
        spec = cell.metadata.get("grade")
        if spec is not None:
            if not any(BEGIN.match(line) for line in cell.source.splitlines()):
                raise TeachingError(f"cell {index}: exercise {spec['exercise']!r} has no BEGIN SOLUTION region")
            names = ", ".join(c.name for c in declared[spec["exercise"]].checks)
            cell.source = stub_solutions(cell.source, f"your solution: assign {names}")
        elif any(BEGIN.match(line) for line in cell.source.splitlines()):
            cell.source = stub_solutions(cell.source, "your solution")
        cells.append(cell)
    student.cells = cells
    return student


def _parameterize(notebook: Any, values: dict[str, Any]) -> Any:
    """Papermill's parameter injection; it expects the metadata its own reader adds (cell tags, a papermill key)."""
    from papermill.parameterize import parameterize_notebook

    notebook.metadata.setdefault("papermill", {})
    for cell in notebook.cells:
        cell.metadata.setdefault("tags", [])
    return parameterize_notebook(notebook, values)


def _changed(chapter: book.Chapter, values: dict[str, Any]) -> dict[str, Any]:
    params = chapter.params()
    return {name: value for name, value in values.items() if value != params[name].default}


def write_assignment(chapter: book.Chapter, values: dict[str, Any], out_dir: Path, solutions: bool = False) -> Path:
    """Write the student notebook (or, with ``solutions``, the answer key) for ``values`` into ``out_dir``.

    The teacher's parameters are injected the way papermill does, as a cell after the parameters
    cell, and recorded in the notebook's metadata, where ``grade`` reads them back.
    """
    import jupytext
    import nbformat

    if not chapter_exercises(chapter):
        raise TeachingError(f"chapter {chapter.name!r} has no exercises")
    notebook = jupytext.read(chapter.notebook)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    if not solutions:
        notebook = student_notebook(notebook)
    changed = _changed(chapter, values)
    if changed:
        notebook = _parameterize(notebook, changed)
    notebook.metadata["scalingbook"] = {"chapter": chapter.name, "parameters": values}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{chapter.name}{'-solutions' if solutions else ''}.ipynb"
    nbformat.write(notebook, path)
    return path


def show_results(names: list[str], namespace: dict[str, Any]) -> None:
    """Display the named results that exist in ``namespace`` as JSON, for the grader to read back.

    The grader runs this in the student's kernel after each cell; numbers become floats, anything
    else is reported by its type so that the check can say what it got.
    """
    from IPython.display import display

    found: dict[str, Any] = {}
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
            found[name] = float(value)
        else:
            found[name] = f"{type(value).__name__} {str(value)[:60]}"
    display({RESULTS_MIME: found}, raw=True)


def _collector(names: list[str]) -> str:
    return f'__import__("scalingbook.teaching").teaching.show_results({names!r}, globals())'


def execute(notebook: Any, values: dict[str, Any], names: list[str], timeout: float, cell_timeout: float) -> Execution:
    """Run ``notebook`` with ``values`` cell by cell, reading ``names`` after each cell.

    A cell that raises is recorded and the next cell runs (later exercises may not depend on it).
    A cell past ``cell_timeout`` is interrupted and recorded as a timeout. At ``timeout`` for the
    whole notebook, or when the kernel dies, the run stops; the kernel is killed on the way out.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notebook = _parameterize(copy.deepcopy(notebook), values)
    replies: dict[int, dict[str, Any]] = {}
    client = NotebookClient(
        notebook, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ERROR, "evalue": "the cell ran past its time limit and was interrupted", "traceback": []},
        shutdown_kernel="immediate", resources={"metadata": {"path": str(book.REPO_ROOT)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(cell_index, execute_reply["content"]),
    )
    results: dict[str, Any] = {}
    cells: list[CellRun] = []
    stopped = None
    started = time.monotonic()
    deadline = started + timeout
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    with client.setup_kernel():
        for position, (index, cell) in enumerate(code):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = f"time limit of {timeout:g} s reached"
                cells += [CellRun(i, "not run") for i, _ in code[position:]]
                break
            client.timeout = max(1, math.ceil(min(cell_timeout, remaining)))
            begin = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                stopped = "the kernel died"
                cells.append(CellRun(index, "error", time.monotonic() - begin, "the kernel died"))
                cells += [CellRun(i, "not run") for i, _ in code[position + 1:]]
                break
            reply = replies.get(index, {})
            status = "ok" if reply.get("status") == "ok" else "timeout" if reply.get("ename") == TIMEOUT_ERROR else "error"
            error = f"{reply.get('ename', '')}: {reply.get('evalue', '')}" if status != "ok" else ""
            cells.append(CellRun(index, status, round(time.monotonic() - begin, 3), error))
            if status != "timeout":
                probe = nbformat.v4.new_code_cell(_collector(names))
                client.execute_cell(probe, index)
                notebook.cells[index] = cell  # nbclient stores the executed cell at its index
                for output in probe.outputs:
                    results.update(output.get("data", {}).get(RESULTS_MIME, {}))
    return Execution(results, cells, round(time.monotonic() - started, 3), stopped, notebook)


def reference_results(
    chapter: book.Chapter, values: dict[str, Any], names: list[str], timeout: float, cell_timeout: float
) -> dict[str, float]:
    """The named results of the reference chapter run with ``values``, cached by its staleness key."""
    import jupytext

    cache = book.REPO_ROOT / ".cache" / "grading" / f"{chapter.name}-{book.staleness_key(chapter, values)[:16]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    run = execute(jupytext.read(chapter.notebook), values, names, timeout, cell_timeout)
    failed = [c for c in run.cells if c.status != "ok"]
    bad = [n for n in names if not isinstance(run.results.get(n), float)]
    if failed or bad or run.stopped:
        why = failed[0].error if failed else run.stopped or f"{bad[0]} is {run.results.get(bad[0])}"
        raise book.ChapterError(f"the reference chapter {chapter.name!r} did not produce its results: {why}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.results, indent=2) + "\n")
    tmp.replace(cache)
    return run.results


def grading_values(chapter: book.Chapter, notebook: Any) -> dict[str, Any]:
    """The teacher's parameters recorded in a student notebook, checked again, in the quick profile."""
    recorded = dict(notebook.metadata["scalingbook"].get("parameters", {}))
    recorded["profile"] = "quick"
    return resolve(chapter.params(), recorded)


def grade(path: Path, timeout: float = 900, cell_timeout: float = 300, report_dir: Path | None = None) -> Report:
    """Grade the student notebook at ``path``; write ``NAME.grade.json``, ``.grade.txt`` and ``.graded.ipynb``."""
    import nbformat

    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as err:
        raise TeachingError(f"cannot read notebook {path}: {err}") from None
    if "scalingbook" not in notebook.metadata:
        raise TeachingError(f"{path} was not written by `scalingbook assignment` (no scalingbook metadata)")
    chapter = book.get_chapter(notebook.metadata["scalingbook"]["chapter"])
    values = grading_values(chapter, notebook)
    declared = chapter_exercises(chapter)
    names = [check.name for ex in declared for check in ex.checks]
    expected = reference_results(chapter, values, names, timeout, cell_timeout)
    run = execute(notebook, values, names, timeout, cell_timeout)

    by_cell = {c.index: c for c in run.cells}
    outcomes = []
    for ex in declared:
        ex_cells = [by_cell[i] for i, cell in enumerate(run.notebook.cells)
                    if cell.metadata.get("grade", {}).get("exercise") == ex.label and i in by_cell]
        trouble = next((c for c in ex_cells if c.status != "ok"), None)
        checks = []
        for check in ex.checks:
            outcome = check.judge(run.results.get(check.name), expected[check.name])
            if outcome.got is None and trouble is not None:
                why = trouble.error if trouble.status != "not run" else "its cell was not run"
                outcome = CheckOutcome(outcome.name, False, outcome.expected, None, f"{outcome.message} ({why})")
            checks.append(outcome)
        score = ex.points * sum(c.passed for c in checks) / len(checks)
        outcomes.append(ExerciseOutcome(ex.label, ex.points, round(score, 6), round(sum(c.seconds for c in ex_cells), 3), tuple(checks)))

    report = Report(
        notebook=path.name, chapter=chapter.name, parameters=values,
        score=round(sum(o.score for o in outcomes), 6), max_score=sum(ex.points for ex in declared),
        seconds=run.seconds, stopped=run.stopped, exercises=tuple(outcomes), cells=tuple(run.cells),
    )
    out = Path(report_dir) if report_dir is not None else path.parent
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{path.stem}.grade.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (out / f"{path.stem}.grade.txt").write_text(report.summary() + "\n")
    nbformat.write(run.notebook, out / f"{path.stem}.graded.ipynb")
    return report
