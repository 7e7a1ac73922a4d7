"""Teaching: student versions of a chapter, and an autograder for them.

A chapter declares its exercises itself, so the exercise, its solution and its checks live in one
place. The code cell that computes an exercise's answer carries ``grade`` metadata naming the
exercise and, for each result variable, its tolerances (``rtol``, ``atol``; optional ``points``)::

    # %% grade={"exercise": "mirage-ex-fit", "checks": {"ex2_alpha": {"atol": 0.002}}}
    # BEGIN SOLUTION hint: fit a line to ln(-ln p) against ln N
    ex2_c, ex2_alpha = mirage.fit_cross_entropy_power_law(...)
    # END SOLUTION

``assignment`` replaces each ``BEGIN SOLUTION`` .. ``END SOLUTION`` region by a stub that raises
``NotImplementedError`` with the hint, drops the solution prose (``{solution}`` blocks and
``{solution-start}`` .. ``{solution-end}`` regions), sets the teacher's parameters and records them
in a roster kept outside the handout. ``grade`` takes each student's parameters from that roster,
not from the notebook, runs the submission cell by cell in a fresh kernel inside the sandbox of
:mod:`scalingbook.site.sandbox` under time, memory and output limits, reads the named results after
every cell (so a later crash or loop does not erase earlier answers), and, once every process of
the run is dead, compares them with the values the reference chapter computes with the same
parameters (cached, readable by the grader only).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from numbers import Real
from pathlib import Path
from typing import Any

from scalingbook.chapters.params import resolve
from scalingbook.lab.store import write_atomic
from scalingbook.site import book, sandbox

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION(?:\s+hint:\s*(.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
_FENCE = re.compile(r"^(`{3,}|:{3,})\{solution\}")
RESULTS_MIME = "application/vnd.scalingbook.lab.store+json"
TIMEOUT_ERROR = "CellTimeoutError"
DEFAULT_HINT = "replace this line with your solution"
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")
MiB = 2**20
SUBMISSION_LIMIT = 16 * MiB  # a notebook is read into the grader's memory before anything runs
CHANNEL_LIMIT = 64 * MiB  # what the sandboxed run may report back, and the largest file it may write
WORKER_GRACE = 60.0  # seconds past the notebook's time limit for the worker to start and stop its kernel


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
            self.name,
            False,
            expected,
            got,
            f"{self.name} = {got:.6g}, expected {expected:.6g}: off by {miss:.3g}{relative}; allowed {allowed:.3g}",
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
    """A notebook run cell by cell: the named results last seen, every cell's outcome, what was cut."""

    results: dict[str, Any]
    cells: list[CellRun]
    seconds: float
    stopped: str | None
    notebook: Any = field(repr=False)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    """What one graded notebook may use: seconds in all and per cell, bytes of memory and of output."""

    timeout: float = 900
    cell_timeout: float = 300
    memory: int = 4 * 2**30  # data memory (RLIMIT_DATA) of each process of the run
    cell_output: int = 8 * MiB  # the chapters' largest cell (a Mirage chart) is 1.7 MiB
    notebook_output: int = 32 * MiB


@dataclass(frozen=True)
class Report:
    student: str
    notebook: str
    chapter: str
    parameters: dict[str, Any]
    score: float
    max_score: float
    seconds: float
    stopped: str | None
    exercises: tuple[ExerciseOutcome, ...]
    cells: tuple[CellRun, ...]
    notes: tuple[str, ...] = ()
    limits: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """The report as a teacher reads it: one line per exercise, then the failed checks."""
        lines = [f"{self.student}: {self.notebook} ({self.chapter}): {self.score:g} / {self.max_score:g}"]
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        lines += [f"  note: {note}" for note in self.notes]
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
        checks = tuple(
            Check(name, float(t.get("rtol", 0)), float(t.get("atol", 0))) for name, t in spec["checks"].items()
        )
        found[spec["exercise"]] = Exercise(spec["exercise"], checks, float(spec.get("points", 1)))
    return tuple(found.values())


def chapter_exercises(chapter: book.Chapter) -> tuple[Exercise, ...]:
    import jupytext

    return exercises(jupytext.read(chapter.notebook))


def without_solution_markers(source: str) -> str:
    """``source`` with its ``BEGIN SOLUTION`` / ``END SOLUTION`` lines dropped: the worked answer as the
    book shows it to readers, for whom the markers and hints (written for the handout) mean nothing."""
    return "\n".join(line for line in source.splitlines() if not (BEGIN.match(line) or END.match(line)))


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


def student_id(text: str) -> str:
    """A student's id as reports and the roster name them: a plain file name."""
    if not STUDENT_ID.fullmatch(text):
        raise TeachingError(f"{text!r} is not a usable student id (letters, digits and ._@+- only)")
    return text


def _grading_dir() -> Path:
    """``.cache/grading``: reference answers and the roster, readable by the grader alone."""
    folder = book.REPO_ROOT / ".cache" / "grading"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def roster() -> dict[str, dict[str, dict[str, Any]]]:
    """Every student's parameters per chapter, as ``assignment`` handed them out."""
    path = _grading_dir() / "roster.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_assignment(
    chapter: book.Chapter, values: dict[str, Any], out_dir: Path, solutions: bool = False, student: str | None = None
) -> Path:
    """Write the student notebook (or, with ``solutions``, the answer key) for ``values`` into ``out_dir``.

    The teacher's parameters are injected the way papermill does, as a cell after the parameters
    cell. A student notebook's parameters also go into the roster under ``student`` (by default
    the name of ``out_dir``), which is what ``grade`` trusts; the copy in the notebook's metadata
    only lets it notice a notebook that was changed or swapped.
    """
    import jupytext
    import nbformat

    student = student_id(student or Path(out_dir).resolve().name)
    if not chapter_exercises(chapter):
        raise TeachingError(f"chapter {chapter.name!r} has no exercises")
    notebook = jupytext.read(chapter.notebook)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    if not solutions:
        notebook = student_notebook(notebook)
    changed = _changed(chapter, values)
    if changed:
        notebook = _parameterize(notebook, changed)
    notebook.metadata["scalingbook"] = {"chapter": chapter.name, "student": student, "parameters": values}
    if not solutions:
        entries = roster()
        entries.setdefault(student, {})[chapter.name] = values
        write_atomic(_grading_dir() / "roster.json", (json.dumps(entries, indent=2) + "\n").encode(), mode=0o600)
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
    return f'__import__("scalingbook.site.teaching").site.teaching.show_results({names!r}, globals())'


def _capped_client(notebook: Any, limits: Limits, **options: Any) -> Any:
    """An nbclient client that keeps at most ``limits.cell_output`` bytes of output per cell and
    ``limits.notebook_output`` in all, so that a cell printing without end fills neither memory nor
    the graded notebook. It keeps the head of a long print and says what it cut, in the cell and in
    ``client.cut``."""
    import nbformat
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        kept: dict[int, int]  # bytes of output kept per cell
        cut: dict[int, str]  # the note of each cell whose output was cut
        probing: bool

        def output(self, outs, msg, display_id, cell_index):
            if self.probing:
                return super().output(outs, msg, display_id, cell_index)
            cell_room = limits.cell_output - self.kept.get(cell_index, 0)
            room = min(cell_room, limits.notebook_output - sum(self.kept.values()))
            size = len(json.dumps(msg["content"], default=str))
            if size <= room:
                self.kept[cell_index] = self.kept.get(cell_index, 0) + size
                return super().output(outs, msg, display_id, cell_index)
            if cell_index in self.cut:
                return None
            if msg["msg_type"] == "stream" and room > 0:  # keep the head of a long print
                self.kept[cell_index] = self.kept.get(cell_index, 0) + room
                head = {**msg, "content": {**msg["content"], "text": msg["content"]["text"][:room]}}
                super().output(outs, head, display_id, cell_index)
            passed = (
                f"the cell's output passed {limits.cell_output} bytes"
                if room == cell_room
                else f"the notebook's outputs passed {limits.notebook_output} bytes"
            )
            self.cut[cell_index] = f"output of cell {cell_index} cut: {passed}"
            note = f"\n[scalingbook grade: {self.cut[cell_index]}]\n"
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None

    client = CappedClient(notebook, **options)
    client.kept, client.cut, client.probing = {}, {}, False
    return client


def execute(
    notebook: Any,
    names: list[str],
    limits: Limits,
    cwd: Path,
    progress: Callable[[CellRun, dict[str, Any]], None] | None = None,
    ipc: bool = False,
) -> Execution:
    """Run a parameterized ``notebook`` cell by cell in ``cwd``, reading ``names`` after each cell.

    A cell that raises is recorded and the next cell runs (later exercises may not depend on it).
    A cell past ``limits.cell_timeout`` is interrupted and recorded as a timeout. At
    ``limits.timeout`` for the whole notebook, or when the kernel dies, the run stops; the kernel is
    killed on the way out. ``progress`` hears of every cell as soon as it is done. With ``ipc`` the
    kernel talks over Unix sockets in ``cwd`` instead of TCP, for a sandbox without a network.
    """
    import nbformat
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    notebook = copy.deepcopy(notebook)
    replies: dict[int, dict[str, Any]] = {}
    client = _capped_client(
        notebook,
        limits,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": TIMEOUT_ERROR,
            "evalue": "the cell ran past its time limit and was interrupted",
            "traceback": [],
        },
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
        config=Config({"KernelManager": {"transport": "ipc", "ip": str(cwd / "kernel")}} if ipc else {}),
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, execute_reply["content"]
        ),
    )
    results: dict[str, Any] = {}
    cells: list[CellRun] = []
    stopped = None
    started = time.monotonic()
    deadline = started + limits.timeout
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    with client.setup_kernel():
        for position, (index, cell) in enumerate(code):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = f"time limit of {limits.timeout:g} s reached"
                cells += [CellRun(i, "not run") for i, _ in code[position:]]
                break
            client.timeout = max(1, math.ceil(min(limits.cell_timeout, remaining)))
            begin = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                stopped = "the kernel died"
                cells.append(CellRun(index, "error", round(time.monotonic() - begin, 3), "the kernel died"))
                if progress is not None:
                    progress(cells[-1], {})
                cells += [CellRun(i, "not run") for i, _ in code[position + 1 :]]
                break
            reply = replies.get(index, {})
            status = (
                "ok" if reply.get("status") == "ok" else "timeout" if reply.get("ename") == TIMEOUT_ERROR else "error"
            )
            error = f"{reply.get('ename', '')}: {reply.get('evalue', '')}" if status != "ok" else ""
            cells.append(CellRun(index, status, round(time.monotonic() - begin, 3), error))
            found: dict[str, Any] = {}
            if status != "timeout":
                probe = nbformat.v4.new_code_cell(_collector(names))
                client.probing = True
                client.execute_cell(probe, index)
                client.probing = False
                notebook.cells[index] = cell  # nbclient stores the executed cell at its index
                for output in probe.outputs:
                    found.update(output.get("data", {}).get(RESULTS_MIME, {}))
                results.update(found)
            if progress is not None:
                progress(cells[-1], found)
    notes = [client.cut[i] for i in sorted(client.cut)]
    return Execution(results, cells, round(time.monotonic() - started, 3), stopped, notebook, notes)


REFERENCE_TIMEOUT_S = 3600.0
"""Seconds the reference chapter may run, in all and per cell, when its quick results are not stored yet."""


def reference_results(
    chapter: book.Chapter, values: dict[str, Any], names: list[str], limits: Limits
) -> dict[str, float]:
    """The named results of the reference chapter run with ``values``, cached by its staleness key.

    This is the instructor's own code, so it runs as the grader, in the checkout, and stores any
    quick-profile results it trains for the sandboxed runs to read. The cache is written 0600 in a
    0700 folder: a student's run can neither read nor change it. The time limits guard against
    students' code, so this run gets :data:`REFERENCE_TIMEOUT_S` in all and per cell: on a fresh
    machine one of its cells trains a whole quick family, which a slow CPU can take past 300 s.
    """
    import jupytext

    # Keyed by the chapter's inputs and by the grader's own code, which decides what a result is.
    grader = hashlib.sha256(Path(__file__).read_bytes() + Path(sandbox.__file__).read_bytes()).hexdigest()
    key = hashlib.sha256(f"{book.staleness_key(chapter, values)}:{grader}".encode()).hexdigest()[:16]
    cache = _grading_dir() / f"{chapter.name}-{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    longest = max(limits.timeout, REFERENCE_TIMEOUT_S)
    trusted = replace(limits, timeout=longest, cell_timeout=longest)
    run = execute(_parameterize(jupytext.read(chapter.notebook), values), names, trusted, book.REPO_ROOT)
    failed = [c for c in run.cells if c.status != "ok"]
    bad = [n for n in names if not isinstance(run.results.get(n), float)]
    if failed or bad or run.stopped:
        why = failed[0].error if failed else run.stopped or f"{bad[0]} is {run.results.get(bad[0])}"
        raise book.ChapterError(f"the reference chapter {chapter.name!r} did not produce its results: {why}")
    write_atomic(cache, (json.dumps(run.results, indent=2) + "\n").encode(), mode=0o600)
    return run.results


def sandboxed_execute() -> None:
    """The grading worker: confine this process, run the job read from stdin, report on stdout.

    :func:`run_submission` starts it as root; everything from :func:`sandbox.confine` on runs as the
    sandbox uid, so what it writes back is trusted no more than the student's own answers.
    """
    import nbformat

    from scalingbook.lab import store

    job = json.loads(sys.stdin.buffer.read())
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints, and the kernel's own stdout, go to the log, not the channel
    limits = Limits(**job["limits"])
    interpreter = Path(sys.executable)
    reachable = [Path(p or ".") for p in sys.path] + [
        interpreter.parent,
        interpreter.resolve().parent,
        Path(sys.prefix),
        Path(sys.base_prefix),
        store.REPO_ROOT,
        store.default_root("quick"),
        store.default_root("full"),
    ]
    sandbox.confine(reachable, limits.memory, CHANNEL_LIMIT)

    def progress(cell: CellRun, found: dict[str, Any]) -> None:
        channel.write(json.dumps({"cell": asdict(cell), "results": found}) + "\n")
        channel.flush()

    run = execute(nbformat.from_dict(job["notebook"]), job["names"], limits, sandbox.WORK, progress, ipc=True)
    channel.write(json.dumps({"notebook": run.notebook, "stopped": run.stopped, "notes": run.notes}) + "\n")
    channel.close()


def _text(value: Any, limit: int = 300) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _read_channel(
    data: bytes, code: list[int], names: list[str]
) -> tuple[dict[int, CellRun], dict[str, Any], dict[str, Any]]:
    """Parse what a sandboxed run reported, trusting nothing: bad lines are skipped, fields checked."""
    cells: dict[int, CellRun] = {}
    found: dict[str, Any] = {}
    final: dict[str, Any] = {}
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        cell = record.get("cell")
        if isinstance(cell, dict) and cell.get("index") in code and cell.get("status") in ("ok", "error", "timeout"):
            seconds = cell.get("seconds")
            seconds = float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else 0.0
            cells[cell["index"]] = CellRun(cell["index"], cell["status"], seconds, _text(cell.get("error")))
            for name, value in (record.get("results") or {}).items():
                if name in names and (isinstance(value, str) or (isinstance(value, float) and math.isfinite(value))):
                    found[name] = value if isinstance(value, float) else value[:80]
        elif "notebook" in record:
            final = record
    return cells, found, final


def run_submission(notebook: Any, names: list[str], limits: Limits) -> Execution:
    """Run a parameterized student notebook in the sandbox and read back what it reported.

    The worker gets its job on stdin and reports on stdout, both anonymous files of the grader's,
    so the sandbox reaches no path of ours. At the time limit (plus :data:`WORKER_GRACE` for the
    kernel to start and stop) or when the worker ends, every process of the sandbox uid is killed.
    """
    import nbformat

    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    notes: list[str] = []
    with tempfile.TemporaryFile() as job, tempfile.TemporaryFile() as channel, tempfile.TemporaryFile() as log:
        job.write(json.dumps({"notebook": notebook, "names": names, "limits": asdict(limits)}).encode())
        job.seek(0)
        sandbox.kill_all()  # what an interrupted grading may have left
        started = time.monotonic()
        worker = subprocess.Popen(
            [sys.executable, "-c", "from scalingbook.site import teaching; teaching.sandboxed_execute()"],
            stdin=job,
            stdout=channel,
            stderr=log,
            env=sandbox.environment(),
            cwd="/",
            start_new_session=True,
        )
        try:
            worker.wait(timeout=limits.timeout + WORKER_GRACE)
            killed = False
        except subprocess.TimeoutExpired:
            killed = True
        finally:
            leftovers = sandbox.kill_all()
            worker.wait()
        seconds = round(time.monotonic() - started, 3)
        data, overflow = sandbox.read_capped(channel, CHANNEL_LIMIT)
        log.seek(max(0, log.seek(0, io.SEEK_END) - 2000))
        log_tail = log.read().decode(errors="replace").strip()
    reported, found, final = _read_channel(data, code, names)
    cells = [reported.get(i, CellRun(i, "not run")) for i in code]
    stopped = _text(final.get("stopped"), 200) or None
    if killed:
        stopped = f"time limit of {limits.timeout:g} s reached; every process of the run was killed"
    elif not final:
        stopped = "the grading worker ended early" + (f": {log_tail.splitlines()[-1][:200]}" if log_tail else "")
    notes += [_text(note, 200) for note in final.get("notes", [])[:50] if isinstance(note, str)]
    if overflow:
        notes.append(f"the run reported more than {CHANNEL_LIMIT} bytes; the rest was dropped")
    if leftovers and not killed:
        notes.append(f"killed {leftovers} process(es) the notebook left running after it finished")
    gib = f"{limits.memory / 2**30:g} GiB"
    notes += [
        f"cell {c.index} ran out of memory (limit {gib} per process)"
        for c in cells
        if "MemoryError" in c.error or "allocate memory" in c.error
    ]
    if stopped == "the kernel died":
        notes.append(f"the kernel died: it crashed, or passed the memory limit of {gib}")
    try:
        executed = nbformat.from_dict(final["notebook"])
        nbformat.validate(executed)
    except Exception:  # absent, or anything the student's process wrote in its place
        executed = copy.deepcopy(notebook)
        notes.append("the executed notebook did not come back; the graded notebook shows no outputs")
    return Execution(found, cells, seconds, stopped, executed, notes)


def _read_submission(path: Path) -> Any:
    import nbformat

    try:
        if path.stat().st_size > SUBMISSION_LIMIT:
            raise TeachingError(f"{path} is over {SUBMISSION_LIMIT // MiB} MiB; clear its outputs and submit it again")
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as err:
        raise TeachingError(f"cannot read notebook {path}: {err}") from None
    if not isinstance(notebook.metadata.get("scalingbook"), dict):
        raise TeachingError(f"{path} was not written by `scalingbook assignment` (no scalingbook metadata)")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def _assigned_values(chapter: book.Chapter, student: str, recorded: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The roster's parameters for ``student`` in the quick profile, and how the notebook's record differs."""
    assigned = roster().get(student, {}).get(chapter.name)
    if assigned is None:
        raise TeachingError(
            f"the roster has no {chapter.name!r} assignment for student {student!r}: hand it out with "
            f"`scalingbook assignment {chapter.name} --student {student}`, or name the student with --student"
        )
    notes = []
    if recorded.get("student") != student:
        notes.append(f"the notebook was handed out to {_text(str(recorded.get('student')), 80)!r}, not {student!r}")
    parameters = recorded.get("parameters")
    claimed = parameters if isinstance(parameters, dict) else {}
    changed = sorted(name for name in assigned.keys() | claimed.keys() if claimed.get(name) != assigned.get(name))
    if changed:
        differences = ", ".join(
            f"{_text(name, 40)} = {_text(repr(claimed.get(name)), 40)} (roster {assigned.get(name)!r})"
            for name in changed[:10]
        )
        notes.append(f"the notebook's recorded parameters differ from the roster, which was used: {differences}")
    return resolve(chapter.params(), {**assigned, "profile": "quick"}), notes


def grade(path: Path, limits: Limits = Limits(), report_dir: Path | None = None, student: str | None = None) -> Report:
    """Grade the student notebook at ``path`` and write its report (see :func:`write_report`).

    ``student`` (default: the name of the notebook's folder) picks the roster entry whose
    parameters are used, and names the report.
    """
    sandbox.check()
    path = Path(path)
    student = student_id(student or path.resolve().parent.name)
    notebook = _read_submission(path)
    recorded = notebook.metadata["scalingbook"]
    chapter = book.get_chapter(_text(recorded.get("chapter"), 80))
    values, notes = _assigned_values(chapter, student, recorded)
    declared = chapter_exercises(chapter)
    names = [check.name for ex in declared for check in ex.checks]
    expected = reference_results(chapter, values, names, limits)
    job = _parameterize(notebook, values)
    run = run_submission(job, names, limits)

    by_cell = {c.index: c for c in run.cells}
    outcomes = []
    for ex in declared:
        ex_cells = [
            by_cell[i]
            for i, cell in enumerate(job.cells)
            if cell.metadata.get("grade", {}).get("exercise") == ex.label and i in by_cell
        ]
        trouble = next((c for c in ex_cells if c.status != "ok"), None)
        checks = []
        for check in ex.checks:
            outcome = check.judge(run.results.get(check.name), expected[check.name])
            if outcome.got is None and trouble is not None:
                why = trouble.error if trouble.status != "not run" else "its cell was not run"
                outcome = CheckOutcome(outcome.name, False, outcome.expected, None, f"{outcome.message} ({why})")
            checks.append(outcome)
        score = ex.points * sum(c.passed for c in checks) / len(checks)
        outcomes.append(
            ExerciseOutcome(
                ex.label, ex.points, round(score, 6), round(sum(c.seconds for c in ex_cells), 3), tuple(checks)
            )
        )

    report = Report(
        student=student,
        notebook=str(path),
        chapter=chapter.name,
        parameters=values,
        score=round(sum(o.score for o in outcomes), 6),
        max_score=sum(ex.points for ex in declared),
        seconds=run.seconds,
        stopped=run.stopped,
        exercises=tuple(outcomes),
        cells=tuple(run.cells),
        notes=tuple(notes + run.notes),
        limits=asdict(limits),
    )
    write_report(report, run.notebook, Path(report_dir) if report_dir is not None else path.parent)
    return report


def write_report(report: Report, executed: Any, out: Path) -> None:
    """Write ``STUDENT.CHAPTER.grade.json``, ``.grade.txt`` and ``.graded.ipynb`` into ``out``, and
    the student's row of ``CHAPTER-grades.csv``, the class summary, so a class graded into one
    folder keeps one report per student."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{report.student}.{report.chapter}"
    write_atomic(Path(f"{stem}.grade.json"), (json.dumps(asdict(report), indent=2) + "\n").encode())
    write_atomic(Path(f"{stem}.grade.txt"), (report.summary() + "\n").encode())
    write_atomic(Path(f"{stem}.graded.ipynb"), nbformat.writes(executed).encode())

    summary = out / f"{report.chapter}-grades.csv"
    rows = (
        {row["student"]: row for row in csv.DictReader(io.StringIO(summary.read_text()))} if summary.is_file() else {}
    )
    rows[report.student] = {
        "student": report.student,
        "notebook": report.notebook,
        "score": report.score,
        "max_score": report.max_score,
        **{ex.label: ex.score for ex in report.exercises},
        "stopped": report.stopped or "",
        "notes": " | ".join(report.notes),
    }
    fields = ["student", "notebook", "score", "max_score", *(ex.label for ex in report.exercises), "stopped", "notes"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows[name] for name in sorted(rows))
    write_atomic(summary, text.getvalue().encode())
