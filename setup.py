"""Build hook: put the book's sources inside the wheel, so that an installed package can make a
project folder anywhere (``scalingbook init``; see ``src/scalingbook/lab/project.py``).

They land in ``scalingbook/project/`` of the wheel. An editable install needs no copy: it runs from
the clone, which is a project folder already. All other metadata is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SOURCES = (
    "_config.yml",
    "_toc.yml",
    "book",
    "notebooks",
    "sweeps",
    "profiles",
    "data",
)  # = scalingbook.lab.project.SOURCES
IGNORE = shutil.ignore_patterns(".*", "chapters", "__pycache__", "vega-bundle.js")  # = scalingbook.lab.project.IGNORED


class BuildPyWithBookSources(build_py):
    """``build_py`` that also copies the book's sources into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "scalingbook" / "project"
        shutil.rmtree(target, ignore_errors=True)
        for name in SOURCES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=IGNORE)
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
            else:
                raise FileNotFoundError(f"setup.py: the book source {source} is missing")


setup(cmdclass={"build_py": BuildPyWithBookSources})
