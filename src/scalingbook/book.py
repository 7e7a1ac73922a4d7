"""Chapters: execution with papermill, staleness that follows the code, the book build.

A chapter is a jupytext percent-format notebook in ``notebooks/``. ``run`` turns it into an
``.ipynb``, papermill executes it with validated parameters, and the executed notebook lands in
``book/chapters/`` where Jupyter Book reads it (Jupyter Book itself never executes). Beside it a
stamp records a hash of everything the output depends on: the notebook source, the
``src/scalingbook`` source, the parameters and the chapter's input data. A chapter whose stamp
matches is not run again. Stored results are looked up under :func:`scalingbook.results.default_root`
(``data/``, or ``SCALINGBOOK_DATA``), where the chapters read them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scalingbook import __version__
from scalingbook.params import Param, ParameterError, read_params, resolve
from scalingbook.results import REPO_ROOT, Result, canonical_json, default_root, git_state, read_manifest

PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXECUTED_DIR = REPO_ROOT / "book" / "chapters"
FAILED_DIR = REPO_ROOT / ".cache" / "failed"
HIDDEN_CELL_TAGS = ("parameters", "injected-parameters")


class ChapterError(RuntimeError):
    """A chapter could not be executed or rendered; the message says which and why."""


@dataclass(frozen=True)
class Chapter:
    """A chapter of the book and the inputs its output depends on."""

    name: str
    title: str
    data: tuple[str, ...] = ()  # folders of full-profile results it reads, under default_root("full")
    inputs: tuple[str, ...] = ()  # other repo-relative folders it reads (sweep configs)
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
        "chinchilla", "Chinchilla: how big a model for a compute budget?", data=("chinchilla",), inputs=("sweeps",),
        env_inputs=("SCALINGBOOK_EPOCH_CSV",),
    ),
    Chapter("emergence", "Emergence: abilities that appear with scale", data=("emergence",), inputs=("sweeps",)),
    Chapter("mirage", "Mirage: emergence in the eye of the metric", data=("mirage", "emergence"), inputs=("sweeps",)),
    Chapter("seeds", "Random seeds: breakthroughs as shifting seed mixtures", data=("seeds",), inputs=("sweeps",)),
    Chapter("performance", "Performance: what the batched fit and the population trainer buy", data=("bench",)),
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


def staleness_key(chapter: Chapter, values: dict[str, Any]) -> str:
    """Hash of everything an executed chapter depends on (see the module docstring)."""
    digest = hashlib.sha256()
    _hash_file(digest, chapter.notebook, "notebook")
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        _hash_file(digest, path, f"src:{path.relative_to(PACKAGE_DIR)}")
    digest.update(b"params:" + canonical_json(values).encode() + b"\0")
    folders = [("data", folder) for folder in chapter.data_dirs()] + [("input", REPO_ROOT / f) for f in chapter.inputs]
    for label, root in folders:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for path in files:
            _hash_file(digest, path, f"{label}:{root.name}/{path.relative_to(root)}")
    for var in chapter.env_inputs:
        target = os.environ.get(var)
        digest.update(f"env:{var}={target}".encode() + b"\0")
        if target and Path(target).is_file():
            _hash_file(digest, Path(target), f"env-file:{var}")
    return digest.hexdigest()


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


def _hide_parameter_cells(notebook: Any) -> None:
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_CELL_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")


def execute(chapter: Chapter, values: dict[str, Any]) -> Path:
    """Execute ``chapter`` with ``values`` and put the result where the book reads it.

    The notebook runs in a scratch folder; only a successful run replaces the previous executed
    notebook. A failed run is kept in ``.cache/failed/`` for inspection.
    """
    import jupytext
    import nbformat
    import papermill

    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"scalingbook-{chapter.name}-") as scratch:
        source = Path(scratch) / f"{chapter.name}.ipynb"
        output = Path(scratch) / f"{chapter.name}.executed.ipynb"
        notebook = jupytext.read(chapter.notebook)
        notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
        nbformat.write(notebook, source)
        started = datetime.now(timezone.utc)
        try:
            papermill.execute_notebook(
                source, output, parameters=values, kernel_name="python3", cwd=str(REPO_ROOT),
                progress_bar=False, log_output=False,
            )
        except Exception as err:  # papermill raises many types; keep the failed notebook
            FAILED_DIR.mkdir(parents=True, exist_ok=True)
            kept = FAILED_DIR / f"{chapter.name}.ipynb"
            if output.is_file():
                shutil.copyfile(output, kept)
            raise ChapterError(
                f"chapter {chapter.name!r} failed: {str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}"
                f" (the failed notebook is in {kept}; the previous executed chapter is untouched)"
            ) from err
        notebook = nbformat.read(output, as_version=4)
        _hide_parameter_cells(notebook)
        staged = Path(scratch) / "staged.ipynb"
        nbformat.write(notebook, staged)
        shutil.move(staged, chapter.executed.with_suffix(".ipynb.tmp"))
        os.replace(chapter.executed.with_suffix(".ipynb.tmp"), chapter.executed)
    stamp = {
        "key": staleness_key(chapter, values),
        "params": values,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    chapter.stamp.write_text(json.dumps(stamp, indent=2, default=str) + "\n")
    return chapter.executed


def run(chapter: Chapter, values: dict[str, Any], force: bool = False) -> bool:
    """Execute the chapter unless it is fresh; return whether it ran."""
    if not force and is_fresh(chapter, values):
        return False
    execute(chapter, values)
    return True


def build(execute_chapters: bool = True, force: bool = False, log=print) -> Path:
    """Bring every chapter up to date, then render the static site into ``_build/html``.

    A chapter uses the full profile when committed full-profile results exist for it, else quick.
    With ``execute_chapters=False`` the last executed notebooks are rendered as they are. A chapter
    that fails does not stop the others: the site is still rendered (with the failed chapter's last
    good run, if it has one) and then a :class:`ChapterError` lists every failure.
    """
    failures = []
    for chapter in CHAPTERS:
        if execute_chapters:
            try:
                profile = "full" if chapter.has_full_results() else "quick"
                values = resolve_values(chapter, {}, profile=profile)
                ran = run(chapter, values, force=force)
            except Exception as err:  # whatever broke this chapter, the others are still built
                failures.append(f"{chapter.name}: {err}")
                log(f"{chapter.name}: FAILED (listed at the end)")
                continue
            log(f"{chapter.name}: {'executed' if ran else 'up to date'} ({profile} profile)")
        elif not chapter.executed.is_file():
            raise ChapterError(
                f"chapter {chapter.name!r} has never been executed; run `scalingbook build` without --no-execute"
            )
    never_run = [chapter.name for chapter in CHAPTERS if not chapter.executed.is_file()]
    if never_run:
        failures.append(f"site not rendered: {', '.join(never_run)} never executed successfully")
    else:
        try:
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


def pick_device(device: str) -> str:
    """Resolve the ``device`` parameter: ``auto`` means the GPU when there is one."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ChapterError("parameter 'device' is 'cuda' but torch sees no GPU; use --device cpu or auto")
    return device


def chapter_header(name: str, namespace: dict[str, Any], sources: list[Result | str] | None = None):
    """The box at the top of a chapter: profile, parameters, version, commit and result sources.

    ``namespace`` is the notebook's ``globals()``, from which the declared parameters are read. A
    source is a stored result or, for files outside the results store, a line describing one.
    """
    from IPython.display import Markdown

    chapter = get_chapter(name)
    params = chapter.params()
    commit, dirty = git_state()
    rows = []
    for key, param in params.items():
        value = namespace[key]
        mark = "" if value == param.default else " (changed)"
        rows.append(f"| `{key}` | `{value!r}`{mark} | {param.help} |")
    origin = [f"- {r if isinstance(r, str) else r.describe()}" for r in sources or []] or [
        "- computed in this notebook; it reads no stored results"
    ]
    text = "\n".join(
        [
            "````{admonition} How this page was made",
            ":class: note",
            f"**Profile:** `{namespace['profile']}` · **scalingbook** {__version__} · "
            f"**commit** `{(commit or 'unknown')[:10]}{'+dirty' if dirty else ''}` · "
            f"**executed** {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "",
            "**Results used:**",
            *origin,
            "",
            "```{dropdown} Parameters of this run",
            "| parameter | value | meaning |",
            "|---|---|---|",
            *rows,
            "```",
            "````",
        ]
    )
    return Markdown(text)
