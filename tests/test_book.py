"""Chapter execution, staleness and the command line, on a tiny chapter in a scratch folder."""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scalingbook.site import book, cli

TINY = """# %% [markdown]
# # Tiny chapter

# %% tags=["parameters"]
profile = "quick"  # which results to read [quick|full]
device = "auto"  # where to compute [auto|cpu|cuda]
scale = 2.0  # a factor [>0]
fail = False  # raise an error, to test failures
corpus = ""  # a text file to read [file]

# %%
if fail:
    raise RuntimeError("asked to fail")
if scale < 0:  # never runs: names the scratch package's module as code this chapter depends on
    from scalingbook import module
print("answer", 21 * scale)
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A one-chapter book in tmp_path, with the package source copied so it can be edited."""
    notebooks, executed, src = tmp_path / "notebooks", tmp_path / "book" / "chapters", tmp_path / "src"
    notebooks.mkdir()
    src.mkdir()
    (notebooks / "tiny.py").write_text(TINY)
    (src / "module.py").write_text("x = 1\n")
    (src / "unrelated.py").write_text("y = 1\n")
    chapter = book.Chapter("tiny", "Tiny", data=("tiny",), env_inputs=("TINY_INPUT",))
    monkeypatch.setattr(book, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setattr(book, "EXECUTED_DIR", executed)
    monkeypatch.setattr(book, "FAILED_DIR", tmp_path / ".cache" / "failed")
    monkeypatch.setattr(book, "KERNEL_LOG_DIR", tmp_path / ".cache" / "kernel-logs")
    monkeypatch.setattr(book, "PACKAGE_DIR", src)
    monkeypatch.setattr(book, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(book, "CHAPTERS", (chapter,))
    monkeypatch.delenv("TINY_INPUT", raising=False)
    monkeypatch.setenv("SCALINGBOOK_DATA", str(tmp_path / "data"))
    return chapter


def _output_text(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_staleness_key_follows_every_input(tiny, tmp_path, monkeypatch):
    values = book.resolve_values(tiny, {})
    key = book.staleness_key(tiny, values)
    assert book.staleness_key(tiny, dict(values)) == key, "same inputs, same key"

    assert book.staleness_key(tiny, {**values, "scale": 3.0}) != key
    (tmp_path / "src" / "unrelated.py").write_text("y = 2\n")
    assert book.staleness_key(tiny, values) == key, "a module the chapter never imports is not an input"
    (tmp_path / "src" / "module.py").write_text("x = 2\n")
    key_src = book.staleness_key(tiny, values)
    assert key_src != key
    tiny.notebook.write_text(TINY.replace("21 *", "22 *"))
    key_nb = book.staleness_key(tiny, values)
    assert key_nb != key_src
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    (tmp_path / "data" / "tiny" / "result.parquet").write_bytes(b"1")
    key_data = book.staleness_key(tiny, values)
    assert key_data != key_nb
    external = tmp_path / "external.csv"
    external.write_text("a\n1\n")
    monkeypatch.setenv("TINY_INPUT", str(external))
    key_env = book.staleness_key(tiny, values)
    assert key_env != key_data
    external.write_text("a\n2\n")
    assert book.staleness_key(tiny, values) != key_env


def test_a_settings_file_named_as_an_input_is_part_of_the_key(tiny, tmp_path):
    chapter = dataclasses.replace(tiny, inputs=("profiles/tiny.yaml",))
    settings = tmp_path / "profiles" / "tiny.yaml"
    settings.parent.mkdir()
    settings.write_text("profiles: {quick: {steps: 10}}\n")
    values = book.resolve_values(chapter, {})
    key = book.staleness_key(chapter, values)
    (tmp_path / "profiles" / "other.yaml").write_text("profiles: {quick: {steps: 10}}\n")
    assert book.staleness_key(chapter, values) == key, "another chapter's settings file is not an input"
    settings.write_text("profiles: {quick: {steps: 20}}\n")
    assert book.staleness_key(chapter, values) != key


def _settings_read(module: Path) -> set[str]:
    """The settings files ``module`` loads: the names given to ``load_profile``, as a literal or a module constant."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "load_profile":
            name = node.args[0]
            names.add(name.value if isinstance(name, ast.Constant) else constants[name.id])  # type: ignore[attr-defined]
    return {f"profiles/{name}.yaml" for name in names}


def test_every_chapter_names_the_settings_files_its_code_reads_as_inputs():
    """Editing profiles/NAME.yaml must rerun each chapter whose code reads it, and only those."""
    read = {c.name: set().union(*map(_settings_read, book.chapter_code(c.notebook.read_text()))) for c in book.CHAPTERS}
    assert read == {
        "chinchilla": {"profiles/chinchilla.yaml"},
        "emergence": set(),
        "mirage": {"profiles/mirage-vision.yaml"},
        "seeds": set(),
        "performance": {"profiles/performance.yaml"},
    }
    for chapter in book.CHAPTERS:
        assert read[chapter.name] == {i for i in chapter.inputs if i.startswith("profiles/")}, chapter.name
    every = {f"profiles/{p.name}" for p in (book.REPO_ROOT / "profiles").glob("*.yaml")}
    assert every == set().union(*read.values()), "a settings file no chapter reads"


def test_stored_results_are_found_where_scalingbook_data_points(tiny, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    folder = elsewhere / "tiny" / "run" / "0123456789abcdef"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps(
            {"name": "tiny/run", "profile": "full", "params": {}, "param_hash": "0123456789abcdef", "table_file": "t"}
        )
    )
    values = book.resolve_values(tiny, {})
    key = book.staleness_key(tiny, values)
    assert not tiny.has_full_results()
    monkeypatch.setenv("SCALINGBOOK_DATA", str(elsewhere))
    assert tiny.has_full_results(), "the build would pick the quick profile despite full results"
    assert book.staleness_key(tiny, values) != key, "the stored results there are an input"


def test_run_executes_once_then_only_when_something_changes(tiny, capsys):
    assert cli.main(["run", "tiny"]) == 0
    assert "executed" in capsys.readouterr().out
    assert "answer 42.0" in _output_text(tiny.executed)
    stamp = json.loads(tiny.stamp.read_text())
    assert stamp["params"]["scale"] == 2.0

    assert cli.main(["run", "tiny"]) == 0
    assert "up to date" in capsys.readouterr().out

    assert cli.main(["run", "tiny", "-p", "scale", "3"]) == 0
    assert "executed" in capsys.readouterr().out
    assert "answer 63.0" in _output_text(tiny.executed)


def test_parameter_cells_are_hidden_in_the_executed_chapter(tiny):
    book.run(tiny, book.resolve_values(tiny, {"scale": "5"}))
    notebook = nbformat.read(tiny.executed, as_version=4)
    hidden = [c for c in notebook.cells if "remove-cell" in c.metadata.get("tags", [])]
    tags = {t for c in hidden for t in c.metadata["tags"]}
    assert {"parameters", "injected-parameters"} <= tags


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "tiny", "-p", "scael", "3"], "unknown parameter 'scael'; did you mean 'scale'?"),
        (["run", "tiny", "-p", "scale", "big"], "parameter 'scale' expects float, got 'big'"),
        (["run", "tiny", "-p", "scale", "-1"], "parameter 'scale' must be > 0; got -1.0"),
        (["run", "tiny", "-p", "scale", "1e999"], "parameter 'scale' must be a finite number; got inf"),
        (["run", "tiny", "-p", "corpus", "/dev/zero"], "parameter 'corpus': /dev/zero is not a regular file"),
        (["run", "tiny", "-p", "corpus", "/no/such.txt"], "parameter 'corpus': /no/such.txt does not exist"),
        (["run", "tiny", "-p", "scale", "1", "-p", "scale", "2"], "parameter 'scale' given twice"),
        (["run", "tiyn"], "unknown chapter 'tiyn'; did you mean 'tiny'? (chapters: tiny)"),
    ],
)
def test_bad_input_exits_2_and_touches_nothing(tiny, capsys, argv, message):
    assert cli.main(["run", "tiny"]) == 0
    before = (tiny.executed.read_bytes(), tiny.stamp.read_bytes(), tiny.executed.stat().st_mtime_ns)
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"scalingbook: error: {message}"
    assert (tiny.executed.read_bytes(), tiny.stamp.read_bytes(), tiny.executed.stat().st_mtime_ns) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "nb.ipynb", "--timeout", "-5"], "argument --timeout: expected a positive duration, got '-5'"),
        (
            ["grade", "nb.ipynb", "--cell-timeout", "0"],
            "argument --cell-timeout: expected a positive duration, got '0'",
        ),
        (["grade", "nb.ipynb", "--timeout", "nan"], "argument --timeout: expected a positive duration, got 'nan'"),
        (["grade", "nb.ipynb", "--report", "TAKEN/sub"], "argument --report: TAKEN is a file, not a folder"),
        (["assignment", "mirage", "--out", "TAKEN"], "argument --out: TAKEN is a file, not a folder"),
    ],
)
def test_bad_flags_exit_2_in_one_line_before_anything_runs(tmp_path, capsys, argv, message):
    taken = tmp_path / "taken"
    taken.write_text("a file where a folder should go")
    argv = [arg.replace("TAKEN", str(taken)) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    prog = f"scalingbook {argv[0]}"
    assert capsys.readouterr().err == f"{prog}: error: {message.replace('TAKEN', str(taken))} (see {prog} --help)\n"
    assert taken.read_text() == "a file where a folder should go"


def test_a_failing_chapter_keeps_the_previous_result(tiny, capsys):
    assert cli.main(["run", "tiny"]) == 0
    before = tiny.executed.read_bytes()
    assert cli.main(["run", "tiny", "-p", "fail", "true"]) == 1
    err = capsys.readouterr().err
    assert "chapter 'tiny' failed" in err and "asked to fail" in err
    assert tiny.executed.read_bytes() == before
    assert (book.FAILED_DIR / "tiny.ipynb").is_file()


def test_build_goes_on_past_a_failed_chapter_and_lists_it_at_the_end(tiny, monkeypatch, capsys):
    broken = book.Chapter("broken", "Broken")
    monkeypatch.setattr(book, "CHAPTERS", (broken, tiny))
    rendered = []
    monkeypatch.setattr(book, "render", lambda: rendered.append(True) or book.REPO_ROOT / "_build" / "html")

    broken.notebook.write_text(TINY.replace("fail = False", "fail = True"))
    assert cli.main(["build"]) == 1
    out, err = capsys.readouterr()
    assert "broken: FAILED" in out and "tiny: executed" in out
    assert "- broken: chapter 'broken' failed" in err and "asked to fail" in err
    assert "site not rendered: broken never executed successfully" in err
    assert tiny.executed.is_file() and not rendered

    broken.notebook.write_text(TINY)
    assert cli.main(["build"]) == 0 and rendered == [True]
    broken.notebook.write_text(TINY.replace("fail = False", "fail = True"))
    assert cli.main(["build"]) == 1, "a chapter that fails after a good run still fails the build"
    err = capsys.readouterr().err
    assert "- broken: chapter 'broken' failed" in err and "site not rendered" not in err
    assert rendered == [True, True], "rendered with the failed chapter's last good run"


def test_ctrl_c_anywhere_ends_in_one_line_and_exit_130(tiny, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(book, "execute", interrupted)
    try:
        code = cli.main(["run", "tiny"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped main, with a traceback")
    assert code == 130
    assert capsys.readouterr().err == "scalingbook: interrupted\n"


def test_a_reader_that_leaves_early_ends_the_listing_quietly():
    """`scalingbook list | head` printed a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    code = "import sys; from scalingbook.site.cli import main; sys.exit(main(['list']))"
    done = subprocess.run([sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141  # as if killed by SIGPIPE, the way `head`'s other writers end


def test_list_shows_each_parameter_with_type_default_and_meaning(tiny, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tiny: Tiny" in out
    assert "scale = 2.0  (float [> 0])  a factor" in out
    assert "profile = 'quick'  (str [one of quick, full])" in out


def test_profile_flag_and_parameter_must_agree(tiny):
    with pytest.raises(book.ParameterError, match="given both"):
        book.resolve_values(tiny, {"profile": "quick"}, profile="full")
    assert book.resolve_values(tiny, {}, profile="full", device="cpu")["profile"] == "full"


def test_render_without_execution_needs_executed_chapters(tiny, capsys):
    assert cli.main(["build", "--no-execute"]) == 1
    assert "has never been executed" in capsys.readouterr().err


def test_every_registered_chapter_has_a_notebook_and_a_toc_entry():
    toc = (book.REPO_ROOT / "_toc.yml").read_text()
    for chapter in book.CHAPTERS:
        assert chapter.notebook.is_file(), chapter.notebook
        assert f"book/chapters/{chapter.name}" in toc
        assert {"profile", "device"} <= set(chapter.params()), f"{chapter.name} lacks profile/device"


def test_readme_documents_every_chapter_parameter():
    readme = (book.REPO_ROOT / "README.md").read_text()
    for chapter in book.CHAPTERS:
        assert f"**{chapter.name}**" in readme
        for name in chapter.params():
            assert f"| `{name}` |" in readme, f"README lacks {chapter.name}.{name}"


def test_a_chapter_runs_without_warnings_from_papermill_or_its_kernel(tiny, capfd, caplog):
    """Papermill could not parse a parameter line with a second '=' ("[>=0]" in its comment) and
    warned of an unknown parameter; the kernel warned on every start that it ran over plain TCP."""
    tiny.notebook.write_text(TINY.replace("scale = 2.0  # a factor [>0]", "scale = 2.0  # a factor [>=0]"))
    with caplog.at_level(logging.INFO):
        assert cli.main(["run", "tiny", "-p", "scale", "3"]) == 0
    assert "answer 63.0" in _output_text(tiny.executed)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert capfd.readouterr().err == ""


# A cell that makes the kernel process write to its stderr outside any cell, as it exits.
WRITE_AT_KERNEL_EXIT = "import atexit, os\natexit.register(os.write, 2, b'kernel exiting\\n')\n"


def _kernel_log(name):
    """The kernel's log; libzmq may add its own teardown assertion after our line, so tests look for ours."""
    return (book.KERNEL_LOG_DIR / f"{name}.log").read_text()


def test_what_the_kernel_process_writes_outside_cells_goes_to_its_log_not_the_terminal(tiny, capfd):
    """libzmq's teardown assertion ("pfd.revents & POLLIN") once reached the build's stderr this way."""
    tiny.notebook.write_text(
        TINY + "\n# %%\n" + WRITE_AT_KERNEL_EXIT + "print('cell stderr', file=__import__('sys').stderr)\n"
    )
    assert cli.main(["run", "tiny"]) == 0
    assert "cell stderr" in _output_text(tiny.executed), "a cell's stderr still reaches the notebook"
    assert capfd.readouterr().err == ""
    assert "kernel exiting\n" in _kernel_log("tiny")


def test_a_failed_chapter_names_the_kernel_log_when_the_kernel_wrote_to_it(tiny):
    tiny.notebook.write_text(TINY + "\n# %%\n" + WRITE_AT_KERNEL_EXIT + "raise RuntimeError('boom')\n")
    with pytest.raises(book.ChapterError, match="kernel's stderr is in .*tiny.log"):
        book.execute(tiny, book.resolve_values(tiny, {}))
    assert "kernel exiting\n" in _kernel_log("tiny")


def test_results_made_by_a_chapter_record_its_scalingbook_command(tiny):
    tiny.notebook.write_text(
        TINY + "\n# %%\nfrom scalingbook.lab.store import command_line\nprint('made by', command_line())\n"
    )
    assert cli.main(["run", "tiny", "-p", "scale", "3", "--device", "cpu"]) == 0
    assert "made by scalingbook run tiny --profile quick --device cpu -p scale 3.0" in _output_text(tiny.executed)


def test_build_says_which_chapter_runs_and_how_long_it_took_and_took_last_time(tiny, monkeypatch, capsys):
    monkeypatch.setattr(book, "render", lambda: book.REPO_ROOT / "_build" / "html")
    assert cli.main(["build"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tiny: running (quick profile; no earlier run to time it by)"
    assert re.fullmatch(r"tiny: executed in 0:\d\d \(quick profile\)", out[1]), out
    assert book.last_duration(tiny) is not None
    assert cli.main(["build", "--force"]) == 0
    assert re.fullmatch(
        r"tiny: running \(quick profile; its last run took 0:\d\d\)", capsys.readouterr().out.splitlines()[0]
    )
    assert cli.main(["build"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "tiny: up to date (quick profile)"


def test_commands_need_a_project_folder_and_init_makes_one(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(book, "NOTEBOOK_DIR", empty / "notebooks")
    assert cli.main(["list"]) == 1
    assert "is not a scalingbook project" in capsys.readouterr().err
    assert cli.main(["init", str(tmp_path / "proj")]) == 0
    assert "files written" in capsys.readouterr().out
    for name in (
        "notebooks/mirage.py",
        "sweeps/seeds-count-width.yaml",
        "_toc.yml",
        "data/reference/chinchilla-fig4-epoch.csv",
    ):
        assert (tmp_path / "proj" / name).is_file(), name
    assert not (tmp_path / "proj" / "book" / "chapters").exists()
    (tmp_path / "proj" / "_toc.yml").write_text("edited\n")
    assert cli.main(["init", str(tmp_path / "proj")]) == 0
    assert "0 files written" in capsys.readouterr().out
    assert (tmp_path / "proj" / "_toc.yml").read_text() == "edited\n", "init never overwrites"


def test_build_keeps_a_chapter_run_with_custom_parameters_until_defaults(tiny, monkeypatch, capsys):
    """Issue 18, item 3: `run CHAPTER -p ...` then `build` (the README's workflow) kept the user's run."""
    monkeypatch.setattr(book, "render", lambda: book.REPO_ROOT / "_build" / "html")
    assert cli.main(["run", "tiny", "-p", "scale", "3", "--device", "cpu"]) == 0
    assert "answer 63.0" in _output_text(tiny.executed)
    made = tiny.executed.read_bytes()
    capsys.readouterr()

    assert cli.main(["build"]) == 0
    out = capsys.readouterr().out
    assert "tiny: up to date" in out and "scale=3.0" in out and "--defaults" in out
    assert tiny.executed.read_bytes() == made, "the build threw the user's run away"

    (book.PACKAGE_DIR / "module.py").write_text("x = 2\n")  # an input changed: rerun, with the same parameters
    assert cli.main(["build"]) == 0
    assert "tiny: executed" in capsys.readouterr().out
    assert "answer 63.0" in _output_text(tiny.executed)
    stamp = json.loads(tiny.stamp.read_text())
    assert stamp["overrides"] == {"scale": 3.0, "device": "cpu"} and stamp["params"]["device"] == "cpu"

    assert cli.main(["build", "--defaults"]) == 0
    assert "tiny: executed" in capsys.readouterr().out
    assert "answer 42.0" in _output_text(tiny.executed)
    assert json.loads(tiny.stamp.read_text())["overrides"] == {}
    assert cli.main(["build"]) == 0
    assert "tiny: up to date (quick profile)" in capsys.readouterr().out

    assert cli.main(["run", "tiny", "-p", "scale", "3"]) == 0
    assert cli.main(["run", "tiny"]) == 0, "a plain run returns the chapter to its defaults"
    assert "answer 42.0" in _output_text(tiny.executed)
    assert json.loads(tiny.stamp.read_text())["overrides"] == {}


def test_build_keeps_custom_parameters_of_a_stamp_written_before_overrides_were_recorded(tiny, monkeypatch):
    monkeypatch.setattr(book, "render", lambda: book.REPO_ROOT / "_build" / "html")
    assert cli.main(["run", "tiny", "-p", "scale", "3"]) == 0
    stamp = json.loads(tiny.stamp.read_text())
    del stamp["overrides"]
    tiny.stamp.write_text(json.dumps(stamp))
    assert book.kept_overrides(tiny) == {"scale": 3.0}
    assert book.build_values(tiny)[0]["scale"] == 3.0
    assert book.build_values(tiny, defaults=True)[0]["scale"] == 2.0


def test_build_reports_kept_parameters_that_are_no_longer_accepted(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(book, "render", lambda: book.REPO_ROOT / "_build" / "html")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text\n")
    assert cli.main(["run", "tiny", "-p", "corpus", str(corpus)]) == 0
    corpus.unlink()
    assert cli.main(["build"]) == 1
    err = capsys.readouterr().err
    assert "are no longer accepted" in err and "does not exist" in err and "build --defaults" in err
    assert cli.main(["build", "--defaults"]) == 0


def test_a_file_parameter_is_keyed_by_its_content(tiny, tmp_path):
    """Issue 18, item 4: a corpus edited in place left the chapter 'up to date' (the key held its path)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("first text\n")
    values = book.resolve_values(tiny, {"corpus": str(corpus)})
    key = book.staleness_key(tiny, values)
    corpus.write_text("other text\n")
    assert book.staleness_key(tiny, values) != key
    assert cli.main(["run", "tiny", "-p", "corpus", str(corpus)]) == 0
    assert book.is_fresh(tiny, values)
    with corpus.open("a") as f:
        f.write("more\n")
    assert not book.is_fresh(tiny, values)


def test_the_key_is_taken_before_execution_from_the_notebook_executed(tiny, monkeypatch):
    """Issue 18, item 4: a notebook edited while its chapter ran was stamped as built with the new content."""
    import papermill

    real = papermill.execute_notebook

    def edit_meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        tiny.notebook.write_text(TINY.replace("21 *", "22 *"))  # the author saves while the kernel runs
        return result

    monkeypatch.setattr(papermill, "execute_notebook", edit_meanwhile)
    values = book.resolve_values(tiny, {})
    assert book.run(tiny, values)
    assert "answer 42.0" in _output_text(tiny.executed), "the executed text is the one read before the edit"
    assert not book.is_fresh(tiny, values), "the stamp must describe the text that ran, not the edited one"
    monkeypatch.setattr(papermill, "execute_notebook", real)
    assert book.run(tiny, values)
    assert "answer 44.0" in _output_text(tiny.executed) and book.is_fresh(tiny, values)


def test_readers_see_an_exercise_answer_folded_and_without_its_solution_markers(tiny):
    answer = (
        '# %% grade={"exercise": "tiny-ex", "checks": {"ex1_x": {"atol": 0}}}\n'
        "# BEGIN SOLUTION hint: add one\nex1_x = scale + 1\n# END SOLUTION\nprint(ex1_x)\n"
    )
    tiny.notebook.write_text(TINY + "\n" + answer)
    assert cli.main(["run", "tiny"]) == 0
    cell = nbformat.read(tiny.executed, as_version=4).cells[-1]
    assert cell.source == "ex1_x = scale + 1\nprint(ex1_x)"
    assert "hide-input" in cell.metadata.tags and cell.outputs[0]["text"] == "3.0\n"


def test_a_chapter_depends_on_the_code_it_imports_and_not_on_the_command_line():
    """Issue 16, item 4: editing cli.py reran every chapter; now each chapter hashes only its own code."""
    package = book.PACKAGE_DIR
    for chapter in book.CHAPTERS:
        files = {str(p.relative_to(package)) for p in book.chapter_code(chapter.notebook.read_text())}
        assert f"chapters/{chapter.name}.py" in files, chapter.name
        assert "lab/store.py" in files, f"{chapter.name}: imported through its chapter module"
        assert not {f for f in files if f.startswith("site/")}, f"{chapter.name} imports the site layer"


def test_a_notebook_that_is_not_plain_python_depends_on_the_whole_package():
    """Magic or shell lines make a notebook's imports unreadable by ast: then every module counts, never none."""
    source = "%matplotlib inline\nfrom scalingbook.chapters import (\n    charts,\n    mirage,\n)\n"
    files = book.chapter_code(source)
    assert files == sorted(book.PACKAGE_DIR.rglob("*.py")) and book.PACKAGE_DIR / "site" / "cli.py" in files
