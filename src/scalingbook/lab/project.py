"""Where the book lives: the project folder that every command reads from and writes into.

A project folder holds the book's sources (``notebooks/``, ``sweeps/``, ``profiles/``, ``book/``,
``_config.yml``, ``_toc.yml``, the committed ``data/``) and everything made from them (``.cache/``,
``book/chapters/``, ``_build/``). It is, in this order:

1. ``$SCALINGBOOK_ROOT``, when set;
2. the checkout this package runs from (``src/scalingbook`` inside a clone: an editable install, or
   ``PYTHONPATH=src``);
3. otherwise (the package installed from a wheel) the current working directory.

An installed wheel carries a copy of the sources (see ``setup.py``); ``scalingbook init DIR`` writes
them into ``DIR``, which is then a project folder like a checkout. Nothing is ever written inside the
installed package.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The installed ``scalingbook`` package (this module sits in its ``lab`` layer)."""
SHIPPED_DIR = PACKAGE_DIR / "project"
"""The sources inside an installed wheel; absent in a checkout, where they are the checkout itself."""
SOURCES = ("_config.yml", "_toc.yml", "book", "notebooks", "sweeps", "profiles", "data")
"""What a project folder needs from the book; ``setup.py`` ships the same list in the wheel."""
ENV_VAR = "SCALINGBOOK_ROOT"


class ProjectError(RuntimeError):
    """The folder a command would work in is not a scalingbook project, or cannot become one."""


def checkout_root() -> Path | None:
    """The clone this package's source sits in, or None when it runs from an installed wheel."""
    candidate = PACKAGE_DIR.parents[1]
    if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
        return candidate
    return None


def find_root() -> Path:
    """The project folder (see the module docstring)."""
    named = os.environ.get(ENV_VAR)
    if named:
        return Path(named)
    return checkout_root() or Path.cwd()


def shipped_sources() -> Path:
    """The folder to copy a new project from: the wheel's copy, else the checkout."""
    if SHIPPED_DIR.is_dir():
        return SHIPPED_DIR
    root = checkout_root()
    if root is None:
        raise ProjectError(f"this installation of scalingbook carries no book sources ({SHIPPED_DIR} is missing)")
    return root


def is_project(root: Path) -> bool:
    """Whether ``root`` holds the chapters' notebooks."""
    return (Path(root) / "notebooks").is_dir()


def require_project(root: Path) -> None:
    """Raise :class:`ProjectError`, saying how to make one, unless ``root`` is a project folder."""
    if not is_project(root):
        raise ProjectError(
            f"{root} is not a scalingbook project (it has no notebooks/): run `scalingbook init DIR` and "
            f"work in DIR, or set {ENV_VAR} to a project folder or a clone of the repository"
        )


def init(target: Path) -> tuple[int, int]:
    """Copy the book's sources into ``target``; return (files written, files already there and kept).

    An existing file is never overwritten, so ``init`` is safe to repeat and keeps a reader's edits.
    """
    source = shipped_sources()
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ProjectError(f"{target} is a file, not a folder")
    written = kept = 0
    for name in SOURCES:
        origin = source / name
        files = [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if _wanted(p, origin))
        for path in files:
            destination = target / name / path.relative_to(origin) if path != origin else target / name
            if destination.exists():
                kept += 1
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            written += 1
    return written, kept


def _wanted(path: Path, origin: Path) -> bool:
    """Source files only: no executed chapters, caches or hidden files."""
    parts = path.relative_to(origin).parts
    return path.is_file() and not any(part.startswith(".") or part in IGNORED for part in parts)


IGNORED = ("chapters", "__pycache__", "vega-bundle.js")
"""Made by a build, never shipped: executed chapters, bytecode, the Vega bundle the site copies in."""
