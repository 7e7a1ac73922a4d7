"""Teaching: student versions and the autograder, on every chapter that has exercises.

Kernel starts dominate the cost, so each kind of submission is graded once per chapter (module
fixtures) in a scratch root, where the reference results are cached after the first grading. The
scratch root lives in the checkout's ``.cache``, not in ``/tmp``, so that a sandboxed run could
reach it by path and the attacks below test the permissions, not the private ``/tmp``.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from scalingbook.lab.store import REPO_ROOT
from scalingbook.site import book, cli, sandbox, teaching

CHAPTERS = [c.name for c in book.CHAPTERS if teaching.chapter_exercises(c)]
LOOP = "while True:\n    pass"
STUBBORN_LOOP = (
    "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
)


def test_some_chapter_has_exercises():
    assert CHAPTERS


@contextlib.contextmanager
def _workspace(chapter: str):
    """A chapter's student notebook (student ``handout``) and answer key, written by the command, in a scratch root."""
    (REPO_ROOT / ".cache").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=REPO_ROOT / ".cache", prefix=f"test-teaching-{chapter}-"))
    root.chmod(0o755)  # mkdtemp's 0700 would keep the sandbox out for the wrong reason
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(book, "REPO_ROOT", root)
            out = root / "handout"
            assert cli.main(["assignment", chapter, "--out", str(out), "-p", "exercise_seed", "7"]) == 0
            assert cli.main(["assignment", chapter, "--out", str(out), "-p", "exercise_seed", "7", "--solutions"]) == 0
            yield chapter, out
    finally:
        shutil.rmtree(root)


@pytest.fixture(scope="module", params=CHAPTERS)
def workspace(request):
    with _workspace(request.param) as made:
        yield made


def _needs_sandbox() -> None:
    try:
        sandbox.check()
    except sandbox.SandboxError as err:
        pytest.skip(str(err))


def _grade(workspace, notebook, **limits) -> teaching.Report:
    _needs_sandbox()
    root = workspace[1].parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "REPO_ROOT", root)
        return teaching.grade(notebook, limits=teaching.Limits(**limits), report_dir=root / "reports")


@pytest.fixture(scope="module")
def key_report(workspace) -> teaching.Report:
    name, out = workspace
    return _grade(workspace, out / f"{name}-solutions.ipynb")


def _fill(workspace, key_report, answers: dict[int, str], student: str):
    """``student``'s notebook with exercise k's stub replaced by ``answers[k]``, the others by literal right answers."""
    name, out = workspace
    folder = out.parent / student
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "REPO_ROOT", out.parent)
        assert cli.main(["assignment", name, "--out", str(folder), "-p", "exercise_seed", "7"]) == 0
    path = folder / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if "grade" in c.metadata]
    for number, (cell, outcome) in enumerate(zip(cells, key_report.exercises)):
        right = "\n".join(f"{check.name} = {check.expected!r}" for check in outcome.checks)
        cell.source = answers.get(number, right)
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow  # executes whole chapters
def test_reference_solution_scores_full_marks(key_report):
    assert key_report.score == key_report.max_score >= 3, key_report.summary()
    assert key_report.parameters["exercise_seed"] == 7 and key_report.parameters["profile"] == "quick"
    assert all(cell.status == "ok" for cell in key_report.cells)


@pytest.mark.slow  # executes whole chapters
def test_untouched_student_version_scores_zero(workspace, key_report):
    name, out = workspace
    report = _grade(workspace, out / f"{name}.ipynb")
    assert report.score == 0 and report.stopped is None
    for outcome in report.exercises:
        for check in outcome.checks:
            assert "was never assigned (NotImplementedError:" in check.message
    summary = (out.parent / "reports" / f"handout.{name}.grade.txt").read_text()
    assert f"0 / {key_report.max_score:g}" in summary


@pytest.fixture(scope="module")
def broken_report(workspace, key_report) -> teaching.Report:
    """Exercise 1 answered wrong, exercise 2 looping forever, the rest right."""
    first = key_report.exercises[0].checks
    wrong = "\n".join(f"{check.name} = {check.expected * 1.5 + 1!r}" for check in first)
    path = _fill(workspace, key_report, {0: wrong, 1: LOOP}, "broken")
    return _grade(workspace, path, timeout=120, cell_timeout=3)


@pytest.mark.slow  # executes whole chapters
def test_a_wrong_answer_names_the_check_and_the_miss(broken_report, key_report):
    outcome = broken_report.exercises[0]
    assert outcome.score == 0
    check = outcome.checks[0]
    expected = key_report.exercises[0].checks[0].expected
    miss = abs(expected * 0.5 + 1)
    assert check.message.startswith(f"{check.name} = ")
    assert f"expected {expected:.6g}: off by {miss:.3g}" in check.message
    assert "allowed" in check.message


@pytest.mark.slow  # executes whole chapters
def test_a_looping_cell_is_interrupted_and_later_exercises_still_count(broken_report):
    looping = broken_report.exercises[1]
    assert looping.score == 0 and "CellTimeoutError" in looping.checks[0].message
    assert any(cell.status == "timeout" for cell in broken_report.cells)
    later = broken_report.exercises[2:]
    assert later and all(ex.score == ex.points for ex in later), broken_report.summary()


@pytest.mark.slow  # executes whole chapters
def test_the_time_limit_stops_a_kernel_that_ignores_interrupts(workspace, key_report):
    path = _fill(workspace, key_report, {0: STUBBORN_LOOP}, "stubborn")
    started = time.monotonic()
    report = _grade(workspace, path, timeout=15, cell_timeout=15)
    assert time.monotonic() - started < 40
    assert report.stopped == "time limit of 15 s reached"
    assert not sandbox.processes()
    assert report.exercises[0].score == 0
    assert report.cells[-1].status == "not run"
    assert all(ex.score == 0 for ex in report.exercises[1:])  # never reached: graded as far as it got


def test_assignment_with_a_misspelled_parameter_exits_2(tmp_path, capsys):
    chapter = CHAPTERS[0]
    assert cli.main(["assignment", chapter, "--out", str(tmp_path / "out"), "-p", "exercise_sed", "1"]) == 2
    assert "unknown parameter 'exercise_sed'; did you mean 'exercise_seed'?" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_grading_a_notebook_not_made_by_assignment_exits_2(tmp_path, capsys):
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    assert cli.main(["grade", str(path)]) == 2
    assert "not written by `scalingbook assignment`" in capsys.readouterr().err


@pytest.mark.slow  # executes whole chapters
def test_student_version_hides_every_solution(workspace):
    name, out = workspace
    notebook = nbformat.read(out / f"{name}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "BEGIN SOLUTION" not in text and "{solution" not in text
    assert text.count("raise NotImplementedError(") == len(teaching.chapter_exercises(book.get_chapter(name)))
    assert notebook.metadata["scalingbook"]["parameters"]["exercise_seed"] == 7


def test_stub_keeps_indentation_and_hint():
    source = "x = 1\nif True:\n    # BEGIN SOLUTION hint: add one\n    y = x + 1\n    # END SOLUTION\nprint(y)"
    assert teaching.stub_solutions(source, "your solution") == (
        "x = 1\nif True:\n    # your solution\n    raise NotImplementedError('add one')\nprint(y)"
    )
    with pytest.raises(teaching.TeachingError, match="without END"):
        teaching.stub_solutions("# BEGIN SOLUTION\ny = 1", "stub")


def test_solution_blocks_are_stripped_from_markdown():
    text = "Before.\n\n```{solution} ex-1\n:class: dropdown\nThe answer.\n```\nAfter."
    assert teaching.strip_solution_blocks(text) == "Before.\n\nAfter."


@pytest.mark.slow  # executes whole chapters
def test_a_class_graded_into_one_folder_keeps_every_report_and_a_summary(workspace, key_report, broken_report):
    name, out = workspace
    reports = out.parent / "reports"
    assert (reports / f"broken.{name}.grade.json").is_file() and (reports / f"handout.{name}.grade.json").is_file()
    rows = {row["student"]: row for row in csv.DictReader((reports / f"{name}-grades.csv").open())}
    assert {"broken", "handout"} <= rows.keys()
    for outcome in broken_report.exercises:
        assert float(rows["broken"][outcome.label]) == outcome.score
    assert float(rows["broken"]["score"]) == broken_report.score


@pytest.mark.slow  # executes whole chapters
def test_assignment_records_the_roster_and_grade_refuses_an_unknown_student(workspace, capsys):
    _needs_sandbox()
    name, out = workspace
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "REPO_ROOT", out.parent)
        assert teaching.roster()["handout"][name]["exercise_seed"] == 7
        stray = out.parent / "nobody-knows" / f"{name}.ipynb"
        stray.parent.mkdir()
        shutil.copy(out / f"{name}.ipynb", stray)
        assert cli.main(["grade", str(stray)]) == 2
    assert "the roster has no" in capsys.readouterr().err


# The attacks of issue 18, each in a notebook of one chapter; they print what happened to them.
ATTACKS = {
    "read the reference answers": "print(open({cache!r}).read())",
    "poison the reference answers": "open({cache!r}, 'w').write('{{}}')",
    "write the roster": "open({roster!r}, 'a')",
    "write into the checkout": "import scalingbook\nopen(scalingbook.__file__, 'a')",
    "write into the results store": "from scalingbook.lab.store import default_root\n(default_root('quick') / 'pwned').mkdir()",
    "write another student's report": "open({report!r}, 'a')",
}


def _attack(label: str, code: str) -> str:
    body = "\n".join("    " + line for line in code.splitlines())
    return f"try:\n{body}\n    print({label!r}, 'succeeded')\nexcept OSError as err:\n    print({label!r}, 'blocked:', type(err).__name__)"


@pytest.fixture(scope="module")
def attack():
    """Mallory's notebook: every attack in the first exercise, a child that leaves the kernel's session, a flood of
    output, a memory hog, and the seed in the notebook's metadata changed; the other exercises answered right.
    The attacks do not depend on the chapter, so one chapter is enough."""
    with _workspace(CHAPTERS[0]) as made:
        name, out = made
        key = _grade(made, out / f"{name}-solutions.ipynb")
        root = out.parent
        cache = next((root / ".cache" / "grading").glob(f"{name}-*.json"))
        targets = {
            "cache": str(cache),
            "roster": str(root / ".cache" / "grading" / "roster.json"),
            "report": str(root / "reports" / f"handout.{name}.grade.json"),
        }
        first = "\n".join(_attack(label, code.format(**targets)) for label, code in ATTACKS.items())
        escape = (
            "import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)"
        )
        flood_and_hog = "print('x' * 3_000_000)\nhog = bytearray(6 * 2**30)"
        path = _fill(made, key, {0: "\n".join([first, escape, flood_and_hog])}, "mallory")
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["scalingbook"]["parameters"]["exercise_seed"] = 0
        nbformat.write(notebook, path)
        before = cache.read_bytes()
        report = _grade(made, path, memory=2**32, cell_output=200_000)
        executed = nbformat.read(root / "reports" / f"mallory.{name}.graded.ipynb", as_version=4)
        label = report.exercises[0].label
        first_cell = next(c for c in executed.cells if c.metadata.get("grade", {}).get("exercise") == label)
        printed = "".join(o.get("text", "") for o in first_cell.outputs)
        yield SimpleNamespace(workspace=made, key=key, report=report, printed=printed, cache=cache, before=before)


@pytest.mark.slow  # executes whole chapters
@pytest.mark.parametrize("label", ATTACKS)
def test_an_attack_on_the_grader_is_blocked(attack, label):
    assert f"{label} blocked: PermissionError" in attack.printed, attack.printed[:2000]


@pytest.mark.slow  # executes whole chapters
def test_the_reference_answers_are_private_and_unchanged(attack):
    assert attack.cache.read_bytes() == attack.before
    assert attack.cache.stat().st_mode & 0o777 == 0o600 and attack.cache.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.slow  # executes whole chapters
def test_nothing_of_the_run_outlives_it(attack):
    assert not sandbox.processes()
    assert any("process(es) the notebook left running" in note for note in attack.report.notes), attack.report.notes


@pytest.mark.slow  # executes whole chapters
def test_output_and_memory_caps_are_reported(attack):
    notes = attack.report.notes
    assert len(attack.printed) < 250_000 and "[scalingbook grade: output of cell" in attack.printed
    assert any("the cell's output passed 200000 bytes" in note for note in notes), notes
    assert any("ran out of memory (limit 4 GiB per process)" in note for note in notes), notes


@pytest.mark.slow  # executes whole chapters
def test_the_roster_parameters_are_used_not_the_notebook_s(attack):
    report = attack.report
    assert report.parameters["exercise_seed"] == 7
    assert any("exercise_seed = 0 (roster 7)" in note for note in report.notes), report.notes
    assert report.exercises[0].score == 0 and all(ex.score == ex.points for ex in report.exercises[1:]), (
        report.summary()
    )


@pytest.mark.slow  # executes whole chapters
def test_a_run_that_stops_answering_is_killed_at_the_time_limit(attack, monkeypatch):
    stop_the_worker = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"
    path = _fill(attack.workspace, attack.key, {0: stop_the_worker}, "stopper")
    monkeypatch.setattr(teaching, "WORKER_GRACE", 1.0)
    started = time.monotonic()
    report = _grade(attack.workspace, path, timeout=8)
    assert time.monotonic() - started < 30
    assert report.stopped == "time limit of 8 s reached; every process of the run was killed"
    assert not sandbox.processes()
    assert report.cells[-1].status == "not run" and report.score == 0


def test_the_reference_run_is_not_held_to_the_students_time_limits(tmp_path, monkeypatch):
    """On a fresh machine a reference chapter's cell trains a quick family, which can outlast a student's cell limit."""
    seen = []

    def fake_execute(notebook, names, limits, cwd):
        seen.append(limits)
        return teaching.Execution({n: 1.0 for n in names}, [teaching.CellRun(0, "ok")], 1.0, None, notebook)

    monkeypatch.setattr(book, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(teaching, "execute", fake_execute)
    chapter = book.get_chapter(CHAPTERS[0])
    values = teaching.resolve(chapter.params(), {"profile": "quick"})
    student = teaching.Limits(timeout=600, cell_timeout=30, memory=2**30)
    assert teaching.reference_results(chapter, values, ["x"], student) == {"x": 1.0}
    assert seen[0].timeout == seen[0].cell_timeout == teaching.REFERENCE_TIMEOUT_S
    assert seen[0].memory == student.memory, "only the time limits are lifted"
