"""Sphinx extension for the book: offline Vega and MathJax, light pages, one copy of each inline script.

* Adds ``vega-bundle.js`` (vega, vega-lite, vega-embed from ``vl-convert-python``) to the pages that
  draw a chart, and writes it into the site's ``_static``, so charts draw with no network.
* Serves MathJax from the site itself, and only the parts the pages use: the ``startup`` loader with
  TeX input, CommonHTML output and its fonts, and the TeX extensions that ``autoload`` may fetch (not
  the whole distribution that ``sphinx-mathjax-offline`` ships, and not the context menu).
* Keeps pages light: the theme's 1.5 MB ``fontawesome.js`` is dropped (its icons draw from the Font
  Awesome web fonts that the theme's CSS already declares), as are source maps and translation
  catalogues, which no page loads.
* Leaves out sphinx-thebe, which Jupyter Book always loads: the book has no live-code button, and its
  page configuration names a CDN (unpkg).
* Points the Colab and Binder launch buttons at the repository named by
  ``SCALINGBOOK_REPOSITORY_URL`` (branch ``SCALINGBOOK_REPOSITORY_BRANCH``, default ``main``), and
  leaves the buttons out when it is unset instead of linking to someone else's repository.
* Numbers exercises per page (Exercise 1, 2, 3 in every chapter), as the chapters' text does.
* Drops repeated inline scripts: with Sphinx >= 7.2, an extension that registers the same inline
  block twice would otherwise be a JavaScript error on every page.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path
from typing import Any

from scalingbook.chapters import charts


def _set_repository(app: Any, config: Any) -> None:
    options = config.html_theme_options
    url = os.environ.get("SCALINGBOOK_REPOSITORY_URL")
    if url:
        options["repository_url"] = url
        options["repository_branch"] = os.environ.get("SCALINGBOOK_REPOSITORY_BRANCH", "main")
    else:
        options["launch_buttons"] = {}


STYLESHEET = "scalingbook.css"  # book/_static/scalingbook.css: tables and charts
# MathJax components the pages load (paths under the distribution, without ".js"), and what else
# of the distribution the site must carry for them: fonts, and the TeX extensions autoload fetches.
MATHJAX_COMPONENTS = ("input/tex", "output/chtml", "a11y/assistive-mml")
MATHJAX_FILES = (
    "startup.js",
    "core.js",
    "input/tex.js",
    "input/tex/extensions",
    "output/chtml.js",
    "output/chtml/fonts/tex.js",
    "output/chtml/fonts/woff-v2",
    "a11y/assistive-mml.js",
)
# Static files no page loads: source maps, the theme's translation catalogues, Font Awesome's script.
UNUSED_STATIC = ("**/*.map", "locales", "scripts/fontawesome.js", "scripts/fontawesome.js.LICENSE.txt")
FONTAWESOME_TAG = re.compile(r'\s*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>')


def mathjax_source() -> Path:
    """The MathJax distribution shipped by ``sphinx-mathjax-offline`` (used as a file source only)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the book needs the sphinx-mathjax-offline package for its MathJax files")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def _configure(app: Any, config: Any) -> None:
    """Local MathJax through its loader, and no sphinx-thebe (see the module docstring)."""
    config.mathjax_path = "mathjax/startup.js"
    mathjax = dict(config.mathjax3_config or {})
    loader = dict(mathjax.get("loader", {}))
    loader["load"] = list(dict.fromkeys([*loader.get("load", []), *MATHJAX_COMPONENTS]))
    mathjax["loader"] = loader
    config.mathjax3_config = mathjax
    for listeners in list(app.events.listeners.values()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files[:] = [(name, attrs) for name, attrs in app.registry.css_files if name != "sphinx-thebe.css"]


def _add_bundle(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """The Vega bundle, on a page that draws a chart (a script added here is for this page only)."""
    if 'class="scalingbook-chart"' in context.get("body", ""):
        app.add_js_file(charts.BUNDLE_NAME)


def _copy_mathjax(outdir: Path) -> None:
    source, target = mathjax_source(), outdir / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)


def _lighten(outdir: Path) -> None:
    static = outdir / "_static"
    for pattern in UNUSED_STATIC:
        for path in list(static.glob(pattern)):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for page in outdir.rglob("*.html"):
        text = page.read_text()
        lighter = FONTAWESOME_TAG.sub("", text)
        if lighter != text:
            page.write_text(lighter)


def _finish(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        outdir = Path(app.outdir)
        charts.write_vega_bundle(outdir / "_static")
        _copy_mathjax(outdir)
        _lighten(outdir)


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files", [])
    seen: set[tuple[str | None, str | None]] = set()
    unique = []
    for script in scripts:
        # Inline scripts arrive with a filename of None or "" (Sphinx normalises one, not the other).
        key = (getattr(script, "filename", str(script)) or None, getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder keeps appending to this same list


def _number_exercises_per_page(app: Any, env: Any) -> list[str]:
    """Number each page's exercises from 1, as its text, its variable names (``ex1_...``) and the
    Instructors page call them; Sphinx would number them across the whole book.

    Runs after Sphinx has assigned its numbers (``env-get-updated``), in the order it found them.
    """
    for numbers in env.toc_fignumbers.values():
        if "exercise" in numbers:
            numbers["exercise"] = {ident: (i,) for i, ident in enumerate(numbers["exercise"], 1)}
    return []


def setup(app: Any) -> dict[str, Any]:
    app.add_css_file(STYLESHEET)
    app.connect("config-inited", _set_repository)
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _add_bundle)
    app.connect("build-finished", _finish)
    app.connect("env-get-updated", _number_exercises_per_page, priority=900)  # after Sphinx's own numbering
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
