"""The book's Sphinx extension: launch-button repository, de-duplicated inline scripts, exercise numbers."""

from __future__ import annotations

import re
from types import SimpleNamespace

from sphinx.builders.html._assets import _JavaScript

from scalingbook.site import sphinx_ext


def _config():
    return SimpleNamespace(html_theme_options={"launch_buttons": {"colab_url": "https://colab.research.google.com"}})


def test_launch_buttons_follow_the_repository_variable(monkeypatch):
    monkeypatch.setenv("SCALINGBOOK_REPOSITORY_URL", "https://github.com/example/repo")
    monkeypatch.delenv("SCALINGBOOK_REPOSITORY_BRANCH", raising=False)
    config = _config()
    sphinx_ext._set_repository(None, config)
    assert config.html_theme_options["repository_url"] == "https://github.com/example/repo"
    assert config.html_theme_options["repository_branch"] == "main"
    assert config.html_theme_options["launch_buttons"]["colab_url"]


def test_without_a_repository_there_are_no_launch_buttons(monkeypatch):
    monkeypatch.delenv("SCALINGBOOK_REPOSITORY_URL", raising=False)
    config = _config()
    sphinx_ext._set_repository(None, config)
    assert config.html_theme_options["launch_buttons"] == {}
    assert "repository_url" not in config.html_theme_options


def test_repeated_inline_scripts_are_dropped_in_place():
    body = {"body": "const THEBE_JS_URL = 1"}
    # sphinx-thebe's second registration arrives with filename "" instead of None.
    scripts = [_JavaScript(None, **body), _JavaScript("a.js"), _JavaScript("", **body), _JavaScript("a.js")]
    context = {"script_files": scripts}
    sphinx_ext._drop_repeated_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts
    assert [(s.filename or None, s.attributes.get("body")) for s in scripts] == [
        (None, "const THEBE_JS_URL = 1"),
        ("a.js", None),
    ]


def test_exercises_are_numbered_from_one_on_every_page(tmp_path):
    from sphinx.application import Sphinx

    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text("extensions = ['sphinx_exercise', 'scalingbook.site.sphinx_ext']\nnumfig = True\n")
    (source / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   one\n   two\n")
    for page in ("one", "two"):
        exercises = "".join(f".. exercise:: {page} {i}\n   :label: {page}-{i}\n\n   Do {i}.\n\n" for i in (1, 2))
        (source / f"{page}.rst").write_text(f"{page.title()}\n===\n\n{exercises}")
    app = Sphinx(
        str(source),
        str(source),
        str(tmp_path / "html"),
        str(tmp_path / "doctrees"),
        "html",
        status=None,
        warning=None,
        freshenv=True,
    )
    app.build()
    for page in ("one", "two"):
        html = (tmp_path / "html" / f"{page}.html").read_text()
        assert re.findall(r"Exercise (\d+)", html) == ["1", "2"], page
