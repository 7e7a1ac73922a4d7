"""Chapters: execution with papermill, staleness that follows the code, the book build.

A chapter is a jupytext percent-format notebook in ``notebooks/``. ``run`` turns it into an
``.ipynb``, papermill executes it with validated parameters, and the executed notebook lands in
``book/chapters/`` where Jupyter Book reads it (Jupyter Book itself never executes). Beside it a
stamp records a hash of everything the output depends on: the notebook source, the
``scalingbook`` modules the notebook imports and everything they import (:func:`chapter_code`),
the parameters, the content of every input file a parameter names, the chapter's input data, and
the sweep configs and profile settings (``profiles/*.yaml``) it reads. The hash is taken before
execution, from the very notebook text that is executed, so an edit made while a chapter runs
leaves it stale. A chapter whose stamp matches is not run again. Stored results are looked up
under :func:`scalingbook.lab.store.default_root` (``data/``, or ``SCALINGBOOK_DATA``), where the
chapters read them.

The stamp also records the parameters the user set (``scalingbook run CHAPTER -p ...``). The
build keeps them: a chapter last run with custom parameters is brought up to date with those same
parameters, and only ``build --defaults`` returns it to its defaults.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scalingbook.chapters.params import Param, ParameterError, read_params, read_params_source, resolve
from scalingbook.lab.store import (
    COMMAND_ENV_VAR,
    REPO_ROOT,
    canonical_json,
    default_root,
    read_manifest,
)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXECUTED_DIR = REPO_ROOT / "book" / "chapters"
FAILED_DIR = REPO_ROOT / ".cache" / "failed"
KERNEL_LOG_DIR = REPO_ROOT / ".cache" / "kernel-logs"
HIDDEN_CELL_TAGS = ("parameters", "injected-parameters")
# Warnings the chapter kernel is told to ignore, in PYTHONWARNINGS form. tqdm.auto (the trainer's and
# the sweeps' progress bars, which are off in a chapter) warns on import when a kernel has no
# ipywidgets; in a build that warning would be a stderr box at the top of a page.
KERNEL_WARNING_FILTERS = ("ignore:IProgress not found",)


class ChapterError(RuntimeError):
    """A chapter could not be executed or rendered; the message says which and why."""


@dataclass(frozen=True)
class Chapter:
    """A chapter of the book and the inputs its output depends on."""

    name: str
    title: str
    data: tuple[str, ...] = ()  # folders of full-profile results it reads, under default_root("full")
    inputs: tuple[str, ...] = ()  # other repo-relative folders and files it reads (sweep configs, profile settings)
    env_inputs: tuple[str, ...] = ()  # environment variables that name input files

    @property
    def notebook(self) -> Path:
        return NOTEBOOK_DIR / f"{self.name}.py"

    @property
    def executed(self) -> Path:
        return EXECUTED_DIR / f"{self.name}.ipynb"

    @property
    def stamp(self) -> Path:
        return EXECUTED_DIR / f"{self.name}.stamp.json"

    def params(self) -> dict[str, Param]:
        return read_params(self.notebook)

    def data_dirs(self) -> list[Path]:
        """Where this chapter's stored results are now (``SCALINGBOOK_DATA`` is read at each call)."""
        return [default_root("full") / folder for folder in self.data]

    def has_full_results(self) -> bool:
        """Whether committed full-profile results exist for this chapter to read."""
        for folder in self.data_dirs():
            for manifest in folder.rglob("manifest.json"):
                if read_manifest(manifest.parent).get("profile") == "full":
                    return True
        return False


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "chinchilla",
        "Chinchilla: how big a model for a compute budget?",
        data=("chinchilla",),
        inputs=("sweeps", "profiles/chinchilla.yaml"),
        env_inputs=("SCALINGBOOK_EPOCH_CSV",),
    ),
    Chapter("emergence", "Emergence: abilities that appear with scale", data=("emergence",), inputs=("sweeps",)),
    Chapter(
        "mirage",
        "Mirage: emergence in the eye of the metric",
        data=("mirage", "emergence"),
        inputs=("sweeps", "profiles/mirage-vision.yaml"),
    ),
    Chapter(
        "seeds", "Random seeds: breakthroughs as shifting seed mixtures", data=("seeds", "pilots"), inputs=("sweeps",)
    ),
    Chapter(
        "performance",
        "Performance: what the batched fit and the population trainer buy",
        data=("bench",),
        inputs=("profiles/performance.yaml",),
    ),
)


def get_chapter(name: str) -> Chapter:
    for chapter in CHAPTERS:
        if chapter.name == name:
            return chapter
    import difflib

    close = difflib.get_close_matches(name, [c.name for c in CHAPTERS], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ParameterError(f"unknown chapter {name!r}{hint} (chapters: {', '.join(c.name for c in CHAPTERS)})")


def _hash_file(digest: Any, path: Path, label: str) -> None:
    digest.update(label.encode() + b"\0")
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0")


def _imported_modules(source: str) -> set[str]:
    """Dotted names of the ``scalingbook`` modules (or names inside them) that ``source`` imports, anywhere in it.

    Raises SyntaxError for source that is not Python (a notebook with shell or magic lines)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "scalingbook"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scalingbook":
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _module_files(dotted: str) -> list[Path]:
    """The files Python runs to import ``dotted``: each package's ``__init__.py`` on the way, and the module."""
    files, folder = [], PACKAGE_DIR
    for i, part in enumerate(dotted.split(".")[1:]):
        if (folder / part / "__init__.py").is_file():
            folder = folder / part
        elif (folder / f"{part}.py").is_file() and i == len(dotted.split(".")) - 2:
            files.append(folder / f"{part}.py")
            break
        else:
            break  # a name defined inside the module before it
        files.append(folder / "__init__.py")
    return [PACKAGE_DIR / "__init__.py", *files] if (PACKAGE_DIR / "__init__.py").is_file() else files


def chapter_code(notebook_source: str) -> list[Path]:
    """The ``scalingbook`` source files a chapter runs: what its notebook imports, and what those import in turn.

    A chapter's staleness key hashes these and no others, so editing the command line or the grader
    reruns no chapter, while editing a chapter module, or anything it imports, reruns that chapter.
    """
    seen: set[Path] = set()
    try:
        todo = sorted(_imported_modules(notebook_source))
    except SyntaxError:  # shell or magic lines: the imports cannot be read safely, so the whole package counts
        return sorted(PACKAGE_DIR.rglob("*.py"))
    while todo:
        for path in _module_files(todo.pop()):
            if path not in seen:
                seen.add(path)
                todo += sorted(_imported_modules(path.read_text(encoding="utf-8")))
    return sorted(seen)


def staleness_key(chapter: Chapter, values: dict[str, Any], notebook_source: bytes | None = None) -> str:
    """Hash of everything an executed chapter depends on (see the module docstring).

    ``notebook_source`` is the notebook text about to be executed (default: the file as it is now),
    so that the key describes exactly what ran. A parameter that names an input file (``[file]``)
    is keyed by the file's content as well as its path: a file edited in place makes the chapter stale.
    """
    digest = hashlib.sha256()
    if notebook_source is None:
        notebook_source = chapter.notebook.read_bytes()
    digest.update(b"notebook\0" + notebook_source + b"\0")
    for path in chapter_code(notebook_source.decode("utf-8", errors="replace")):
        _hash_file(digest, path, f"src:{path.relative_to(PACKAGE_DIR)}")
    digest.update(b"params:" + canonical_json(values).encode() + b"\0")
    for name, param in read_params_text(chapter, notebook_source).items():
        target = values.get(name)
        if param.file and target:
            if Path(target).is_file():
                _hash_file(digest, Path(target), f"file-param:{name}")
            else:
                digest.update(f"file-param:{name}:missing".encode() + b"\0")
    folders = [("data", folder) for folder in chapter.data_dirs()] + [("input", REPO_ROOT / f) for f in chapter.inputs]
    for label, root in folders:
        if root.is_file():
            files = [root]
        else:
            files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for path in files:
            _hash_file(digest, path, f"{label}:{path.relative_to(root.parent)}")
    for var in chapter.env_inputs:
        target = os.environ.get(var)
        digest.update(f"env:{var}={target}".encode() + b"\0")
        if target and Path(target).is_file():
            _hash_file(digest, Path(target), f"env-file:{var}")
    return digest.hexdigest()


def read_params_text(chapter: Chapter, notebook_source: bytes) -> dict[str, Param]:
    """The parameters declared in ``notebook_source``, the chapter's notebook text; none if unreadable."""
    try:
        return read_params_source(notebook_source.decode("utf-8"), chapter.notebook)
    except (ValueError, SyntaxError):  # a broken parameters cell fails at execution, not here
        return {}


def is_fresh(chapter: Chapter, values: dict[str, Any]) -> bool:
    """Whether the executed notebook on disk was made from exactly these inputs."""
    if not (chapter.executed.is_file() and chapter.stamp.is_file()):
        return False
    try:
        stamp = json.loads(chapter.stamp.read_text())
    except json.JSONDecodeError:
        return False
    return stamp.get("key") == staleness_key(chapter, values)


def resolve_values(
    chapter: Chapter, overrides: dict[str, Any], profile: str | None = None, device: str | None = None
) -> dict[str, Any]:
    """The chapter's parameter values: defaults, then ``overrides``, then the profile and device flags."""
    merged = dict(overrides)
    for name, value in (("profile", profile), ("device", device)):
        if value is not None:
            if name in merged and merged[name] != value:
                raise ParameterError(f"parameter {name!r} given both as -p and as --{name}")
            merged[name] = value
    return resolve(chapter.params(), merged)


def _prepare_for_readers(notebook: Any) -> None:
    """Hide the parameter cells; show each exercise's worked answer folded, without its markers."""
    from scalingbook.site.teaching import without_solution_markers

    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_CELL_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "code" and "grade" in cell.metadata:
            cell.source = without_solution_markers(cell.source)
            if "hide-input" not in tags:
                tags.append("hide-input")


def run_command(chapter: Chapter, values: dict[str, Any]) -> str:
    """The ``scalingbook run`` command that executes ``chapter`` with ``values``: what a result made by
    the chapter's notebook records as its maker in its manifest."""
    params = chapter.params()
    words = ["scalingbook", "run", chapter.name]
    for name, value in values.items():
        if name in ("profile", "device"):
            words += [f"--{name}", str(value)]
        elif name in params and value != params[name].default:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            words += ["-p", name, text]
    return shlex.join(words)


def _kernel_manager_class() -> type:
    """The kernel manager papermill starts chapters' kernels with: the kernel process's own stderr
    goes to a log file (``KernelWithLog.stderr_log``), not to the terminal.

    What a cell writes to stderr reaches the notebook through the kernel's channels, so the process's
    stderr carries only what it writes outside cells, such as libzmq's assertion when a socket sees a
    hang-up while the kernel tears down under load. That is no concern of the reader's; the log is
    named when a chapter fails.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode

    class KernelWithLog(AsyncKernelManager):
        stderr_log = Unicode(config=True)

        # jupyter_client types AsyncKernelManager.start_kernel by the sync KernelManager's (and ignores that itself)
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with open(self.stderr_log, "ab") as log:  # the kernel holds its own copy once started
                await super().start_kernel(stderr=log, **kw)

    return KernelWithLog


def _kernel_config(stderr_log: Path) -> Any:
    """How papermill's client starts the chapter's kernel, so that nothing but the notebook's own
    output comes of it.

    The kernel's channels are encrypted (CurveZMQ keys provisioned by jupyter_client, when it and the
    kernel support it) or else Unix sockets, not plain TCP, about which the kernel would warn on every
    start. The kernel's own log is kept to critical messages: at shutdown jupyter_client interrupts
    the kernel, which may log the interruption as an error; cell errors and a dead kernel are still
    reported, through the notebook and papermill.
    """
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config

    config = Config()
    config.KernelWithLog.stderr_log = str(stderr_log)
    if KernelManager.class_traits().get("transport_encryption") is not None and zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    elif os.name == "posix":
        config.KernelManager.transport = "ipc"
    return config


@contextlib.contextmanager
def _kernel_environment():
    """The environment a chapter's kernel starts with: this one plus :data:`KERNEL_WARNING_FILTERS`."""
    before = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [before, *KERNEL_WARNING_FILTERS]))
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = before


def execute(chapter: Chapter, values: dict[str, Any], overrides: dict[str, Any] | None = None) -> Path:
    """Execute ``chapter`` with ``values`` and put the result where the book reads it.

    The notebook runs in a scratch folder; only a successful run replaces the previous executed
    notebook. A failed run is kept in ``.cache/failed/`` for inspection. The stamp's key is taken
    before execution, from the notebook text that is executed. ``overrides`` are the parameters
    the user set, recorded in the stamp so that the build keeps them (:func:`kept_overrides`).
    The values, already validated by :mod:`scalingbook.chapters.params`, are injected as papermill does, as a
    cell after the ``parameters`` cell; papermill is not asked to check them again, because its own
    reading of the ``parameters`` cell cannot parse a line with a second ``=`` (``[>=0]`` in a
    comment) and would then warn about a parameter that exists.
    """
    import jupytext
    import nbformat
    import papermill
    from papermill.parameterize import parameterize_notebook

    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"scalingbook-{chapter.name}-") as scratch:
        source = Path(scratch) / f"{chapter.name}.ipynb"
        output = Path(scratch) / f"{chapter.name}.executed.ipynb"
        notebook_source = chapter.notebook.read_bytes()  # read once: this text is executed and keyed
        key = staleness_key(chapter, values, notebook_source)
        notebook = jupytext.reads(notebook_source.decode("utf-8"), fmt=chapter.notebook.suffix.lstrip("."))
        notebook.metadata.setdefault(
            "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
        )
        notebook.metadata.setdefault("papermill", {})  # what papermill's own reader would add
        for cell in notebook.cells:
            cell.metadata.setdefault("tags", [])
        notebook = parameterize_notebook(notebook, values, kernel_name="python3", language="python")
        nbformat.write(notebook, source)
        started = datetime.now(UTC)
        previous_command = os.environ.get(COMMAND_ENV_VAR)
        os.environ[COMMAND_ENV_VAR] = run_command(chapter, values)  # inherited by the kernel, for manifests
        KERNEL_LOG_DIR.mkdir(parents=True, exist_ok=True)
        kernel_log = KERNEL_LOG_DIR / f"{chapter.name}.log"
        kernel_log.write_bytes(b"")
        try:
            with _kernel_environment():
                papermill.execute_notebook(
                    source,
                    output,
                    kernel_name="python3",
                    cwd=str(REPO_ROOT),
                    progress_bar=False,
                    log_output=False,
                    kernel_manager_class=_kernel_manager_class(),
                    config=_kernel_config(kernel_log),
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                )
        except Exception as err:  # papermill raises many types; keep the failed notebook
            FAILED_DIR.mkdir(parents=True, exist_ok=True)
            kept = FAILED_DIR / f"{chapter.name}.ipynb"
            if output.is_file():
                shutil.copyfile(output, kept)
            log_note = f"; the kernel's stderr is in {kernel_log}" if kernel_log.stat().st_size else ""
            raise ChapterError(
                f"chapter {chapter.name!r} failed: {str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}"
                f" (the failed notebook is in {kept}{log_note}; the previous executed chapter is untouched)"
            ) from err
        finally:
            if previous_command is None:
                os.environ.pop(COMMAND_ENV_VAR, None)
            else:
                os.environ[COMMAND_ENV_VAR] = previous_command
        notebook = nbformat.read(output, as_version=4)
        _prepare_for_readers(notebook)
        staged = Path(scratch) / "staged.ipynb"
        nbformat.write(notebook, staged)
        shutil.move(staged, chapter.executed.with_suffix(".ipynb.tmp"))
        os.replace(chapter.executed.with_suffix(".ipynb.tmp"), chapter.executed)
    stamp = {
        "key": key,
        "params": values,
        "overrides": {name: values[name] for name in overrides or {}},
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    chapter.stamp.write_text(json.dumps(stamp, indent=2, default=str) + "\n")
    return chapter.executed


def run(chapter: Chapter, values: dict[str, Any], force: bool = False, overrides: dict[str, Any] | None = None) -> bool:
    """Execute the chapter unless it is fresh; return whether it ran.

    ``overrides`` names the parameters the user chose (their values are taken from ``values``);
    the build keeps them until ``build --defaults``.
    """
    if not force and is_fresh(chapter, values):
        return False
    execute(chapter, values, overrides)
    return True


def _clock(seconds: float) -> str:
    """``1:05:09``, ``4:07`` or ``0:09``: a duration as a reader reads it on a clock."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def last_duration(chapter: Chapter) -> float | None:
    """Seconds the chapter's last successful execution took, from its stamp; None if unknown."""
    try:
        stamp = json.loads(chapter.stamp.read_text())
        took = datetime.fromisoformat(stamp["finished"]) - datetime.fromisoformat(stamp["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(took.total_seconds(), 0.0)


class _Ticker:
    """While a chapter runs, shows its elapsed time against its last run's on one line of a terminal
    (rewritten in place every second); elsewhere (a log, CI) nothing, so that logs stay one line each."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label, self.stream = label, stream if stream is not None else sys.stdout
        self.started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> _Ticker:
        if getattr(self.stream, "isatty", lambda: False)():
            self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
            self.stream.write("\r\033[K")
            self.stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _tick(self) -> None:
        while not self._done.wait(1.0):
            self.stream.write(f"\r\033[K  {self.label}: {_clock(self.elapsed)} elapsed")
            self.stream.flush()


def _say(message: str) -> None:
    """Print a progress line at once, even into a pipe (a CI log)."""
    print(message, flush=True)


def default_profile(chapter: Chapter) -> str:
    """The profile a chapter gets unless one is asked for: full where committed results exist, else quick."""
    return "full" if chapter.has_full_results() else "quick"


def kept_overrides(chapter: Chapter) -> dict[str, Any]:
    """The parameters the user set when the chapter was last executed, from its stamp ({} if none).

    A stamp written before the stamp recorded them counts every parameter whose value differs from
    its default as set by the user, except ``profile``, which the build chose.
    """
    if not (chapter.executed.is_file() and chapter.stamp.is_file()):
        return {}
    try:
        stamp = json.loads(chapter.stamp.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(stamp, dict):
        return {}
    if "overrides" in stamp:
        return dict(stamp["overrides"] or {})
    defaults = {name: param.default for name, param in chapter.params().items()}
    return {
        name: value
        for name, value in (stamp.get("params") or {}).items()
        if name != "profile" and name in defaults and value != defaults[name]
    }


def build_values(chapter: Chapter, defaults: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values the build runs ``chapter`` with, and the user's overrides among them.

    The user's parameters from the chapter's last run are kept (see :func:`kept_overrides`) unless
    ``defaults``; the profile, unless the user chose one, is :func:`default_profile`.
    """
    overrides = {} if defaults else kept_overrides(chapter)
    profile = None if "profile" in overrides else default_profile(chapter)
    try:
        values = resolve_values(chapter, overrides, profile=profile)
    except ParameterError as err:
        chosen = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ChapterError(
            f"the parameters of its last run ({chosen}) are no longer accepted: {err}; "
            "`scalingbook build --defaults` returns it to its defaults"
        ) from None
    return values, overrides


def build(execute_chapters: bool = True, force: bool = False, log=_say, defaults: bool = False) -> Path:
    """Bring every chapter up to date, then render the static site into ``_build/html``.

    A chapter last run with parameters the user chose keeps them, and is rerun with them only if an
    input changed; ``defaults=True`` returns every chapter to its defaults. A chapter uses the full
    profile when committed full-profile results exist for it, else quick, unless the user chose one.
    Before a chapter runs, ``log`` says which one and how long its last run took; after, how long
    this one did (on a terminal the elapsed time counts up meanwhile). With
    ``execute_chapters=False`` the last executed notebooks are rendered as they are. A chapter
    that fails does not stop the others: the site is still rendered (with the failed chapter's last
    good run, if it has one) and then a :class:`ChapterError` lists every failure.
    """
    failures = []
    for chapter in CHAPTERS:
        if execute_chapters:
            ticker = None
            try:
                values, overrides = build_values(chapter, defaults)
                profile = values["profile"]
                kept = (
                    "; your parameters kept: "
                    + ", ".join(f"{k}={v!r}" for k, v in overrides.items())
                    + " (build --defaults resets them)"
                    if overrides
                    else ""
                )
                if not force and is_fresh(chapter, values):
                    log(f"{chapter.name}: up to date ({profile} profile{kept})")
                    continue
                last = last_duration(chapter)
                estimate = f"its last run took {_clock(last)}" if last is not None else "no earlier run to time it by"
                log(f"{chapter.name}: running ({profile} profile{kept}; {estimate})")
                with _Ticker(chapter.name) as ticker:
                    run(chapter, values, force=True, overrides=overrides)
            except Exception as err:  # whatever broke this chapter, the others are still built
                failures.append(f"{chapter.name}: {err}")
                took = f" after {_clock(ticker.elapsed)}" if ticker is not None else ""
                log(f"{chapter.name}: FAILED{took} (listed at the end)")
                continue
            log(f"{chapter.name}: executed in {_clock(ticker.elapsed)} ({profile} profile)")
        elif not chapter.executed.is_file():
            raise ChapterError(
                f"chapter {chapter.name!r} has never been executed; run `scalingbook build` without --no-execute"
            )
    never_run = [chapter.name for chapter in CHAPTERS if not chapter.executed.is_file()]
    if never_run:
        failures.append(f"site not rendered: {', '.join(never_run)} never executed successfully")
    else:
        try:
            log("rendering the site with jupyter-book")
            html = render()
        except ChapterError as err:
            failures.append(str(err))
    if failures:
        raise ChapterError("the build went on past these failures:\n" + "\n".join(f"- {f}" for f in failures))
    return html


def render() -> Path:
    """Render the executed chapters as they are into the static site ``_build/html``."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(REPO_ROOT), "--warningiserror", "--keep-going"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise ChapterError("jupyter-book build failed:\n" + (done.stdout + done.stderr)[-4000:])
    return REPO_ROOT / "_build" / "html"
