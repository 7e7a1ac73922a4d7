"""Shared fixtures: a scratch copy of the book, built once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scalingbook.lab.store import REPO_ROOT, default_root

BOOK_SOURCES = ("_config.yml", "_toc.yml", "book", "notebooks", "data", "sweeps", "profiles")


def copy_book(target: Path) -> Path:
    """Copy what the book build reads (not executed chapters or builds) into ``target``."""
    for name in BOOK_SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("chapters", "vega-bundle.js"))
        elif source.is_file():
            shutil.copy2(source, target / name)
    return target


def scalingbook(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the installed ``scalingbook`` command against the book copy at ``root``.

    Quick-profile results are shared with this checkout's cache (they are keyed by their
    parameters), so a chapter's quick populations train once per test session, not once per copy.
    """
    env = dict(os.environ, SCALINGBOOK_ROOT=str(root))
    env.setdefault("SCALINGBOOK_CACHE", str(default_root("quick")))
    command = [str(Path(sys.executable).parent / "scalingbook"), *args]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest, and steadiest on a shared 2-core machine, on one thread."""
    from scalingbook.lab.cpu import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The book built in the quick profile from a scratch copy; returns its ``_build/html``."""
    root = copy_book(tmp_path_factory.mktemp("book"))
    # From an empty cache the build trains every quick family: 12 minutes measured on one shared core.
    done = scalingbook(root, "build", timeout=2400)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "_build" / "html"
