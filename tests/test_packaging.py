"""Installing the package: declared dependencies agree with the lock file, and a built wheel runs a
chapter outside the clone, from a project folder made by ``scalingbook init``."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scalingbook.lab import project
from scalingbook.lab.store import REPO_ROOT, default_root

CHECKOUT = project.checkout_root()
pytestmark = pytest.mark.skipif(CHECKOUT is None, reason="needs the clone's pyproject.toml and requirements.lock")


def _declared() -> list[Requirement]:
    meta = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
    extras = [r for group in meta["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in meta["dependencies"] + extras if not r.startswith("scalingbook")]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (CHECKOUT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
            assert match, f"requirements.lock: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_the_lock_file_pins_every_declared_dependency_inside_its_range():
    pins = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {requirement.name}=={pins[name]}, outside pyproject.toml's {requirement}"
        )


def test_the_wheel_ships_what_a_project_folder_needs():
    tree = ast.parse((CHECKOUT / "setup.py").read_text())
    (shipped,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SOURCES"]
    ]
    assert shipped == project.SOURCES, "setup.py and scalingbook.lab.project name different book sources"


@pytest.mark.slow
def test_an_installed_wheel_runs_a_chapter_outside_the_clone(tmp_path):
    """pip install of the built wheel into a fresh environment, then `scalingbook init` and
    `scalingbook run mirage` in a folder outside the clone, with nothing pointing at the clone.

    The fresh environment holds only the wheel; to spare CI a second download of torch and the rest,
    it sees this environment's installed dependencies through a path entry (a `.pth` line, which
    does not run this environment's own editable hooks, so `scalingbook` can only come from the
    wheel). Quick-profile results are shared with the clone's cache, as the end-to-end build does.
    """
    # Nothing may point at the clone: no PYTHONPATH (it would also make pip skip the install), no root.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCALINGBOOK_ROOT", "SCALINGBOOK_DATA")}
    env["SCALINGBOOK_CACHE"] = str(default_root("quick"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(CHECKOUT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("scalingbook-*.whl")
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300, env=env)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", wheel],
        check=True,
        timeout=300,
        env=env,
    )
    fresh_site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.strip()
    )
    (fresh_site / "zz-borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = sorted(p for p in (fresh_site / "scalingbook").rglob("*") if "__pycache__" not in p.parts)

    scalingbook = str(env_dir / "bin" / "scalingbook")
    where = subprocess.run(
        [python, "-c", "import scalingbook.lab.store as r; print(r.__file__)"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(fresh_site)), f"scalingbook imported from {where}, not from the wheel"

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = subprocess.run([scalingbook, "list"], cwd=outside, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "scalingbook init" in done.stderr, done.stderr

    done = subprocess.run([scalingbook, "init", "mybook"], cwd=outside, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    book_dir = outside / "mybook"
    done = subprocess.run(
        [scalingbook, "run", "mirage"], cwd=book_dir, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", "no warnings"
    assert (book_dir / "book" / "chapters" / "mirage.ipynb").is_file()
    assert sorted(p for p in (fresh_site / "scalingbook").rglob("*") if "__pycache__" not in p.parts) == installed, (
        "nothing is written inside the installed package"
    )
    assert REPO_ROOT.resolve() not in book_dir.resolve().parents
