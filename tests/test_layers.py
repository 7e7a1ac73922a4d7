"""The package's layers (issue 16): lab < analysis < chapters < site, and no import points upward."""

from __future__ import annotations

import ast
from pathlib import Path

import scalingbook

PACKAGE = Path(scalingbook.__file__).parent
LAYERS = ("lab", "analysis", "chapters", "site")


def _imports(path: Path) -> set[str]:
    """Every ``scalingbook`` module named by an import in ``path``, at any depth (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("scalingbook")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalingbook"):
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _layer(dotted: str) -> int | None:
    parts = dotted.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_sits_in_a_layer():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside the layers {LAYERS}: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()) == sorted(LAYERS)


def test_no_layer_imports_a_higher_one():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _layer("scalingbook." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for name in _imports(path):
            there = _layer(name)
            if here is not None and there is not None and there > here:
                upward.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert upward == [], "\n".join(upward)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The walk above must notice a lazy import inside a function, or it could pass on a broken package."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from scalingbook.site import cli\n")
    assert "scalingbook.site.cli" in _imports(module) and _layer("scalingbook.site.cli") > _layer("scalingbook.lab.x")
