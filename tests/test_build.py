"""End to end: the book builds from a fresh copy in the quick profile, with its pages and charts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scalingbook.site.book import get_chapter
from tests.conftest import copy_book, scalingbook

pytestmark = pytest.mark.slow


def test_pages_exist(built_book: Path):
    for page in (
        "index.html",
        "book/chapters/chinchilla.html",
        "book/chapters/emergence.html",
        "book/chapters/mirage.html",
        "book/chapters/seeds.html",
        "book/chapters/performance.html",
        "book/rerun.html",
        "book/references.html",
    ):
        assert (built_book / page).is_file(), page
    assert (built_book / "_static" / "vega-bundle.js").stat().st_size > 100_000
    assert (built_book / "_static" / "mathjax" / "startup.js").is_file()
    assert not (built_book / "_static" / "mathjax" / "tex-chtml-full.js").exists()  # only what pages use
    assert (built_book / "_static" / "scalingbook.css").is_file()


def test_mirage_page_has_header_charts_and_citations(built_book: Path):
    html = (built_book / "book/chapters/mirage.html").read_text()
    profile = "full" if get_chapter("mirage").has_full_results() else "quick"
    assert (
        "How this page was made" in html
        and f'<strong>Profile:</strong> <code class="docutils literal notranslate"><span class="pre">{profile}' in html
    )
    assert "Parameters of this run" in html and "test_set_size" in html
    assert (
        "emergence/direct/records" in html and "emergence/direct/large" in html and "emergence/direct/choices" in html
    )
    assert len(re.findall(r'class="scalingbook-chart"', html)) == 10
    assert html.count("vegaEmbed(") == 10
    assert re.search(r'href="\.\./references\.html#id\d+" title="Rylan Schaeffer', html), "no citation link"
    assert "injected-parameters" not in html and "tags=" not in html


def test_seeds_page_has_header_charts_and_sources(built_book: Path):
    html = (built_book / "book/chapters/seeds.html").read_text()
    assert "How this page was made" in html and "seeds/count-width/records" in html
    assert "Parameters of this run" in html and "success_threshold" in html
    assert len(re.findall(r'class="scalingbook-chart"', html)) == 5
    assert html.count("vegaEmbed(") == 5
    assert "injected-parameters" not in html and "tags=" not in html


def test_a_misspelled_parameter_fails_cleanly_and_keeps_earlier_results(built_book: Path):
    root = built_book.parents[1]
    executed = root / "book" / "chapters" / "mirage.ipynb"
    before = executed.read_bytes()
    done = scalingbook(root, "run", "mirage", "-p", "alpah", "-0.2")
    assert done.returncode == 2
    assert done.stderr.strip() == "scalingbook: error: unknown parameter 'alpah'; did you mean 'alpha'?"
    assert executed.read_bytes() == before


def test_second_build_reuses_fresh_chapters(built_book: Path):
    root = built_book.parents[1]
    done = scalingbook(root, "build")
    assert done.returncode == 0, done.stderr
    assert "mirage: up to date" in done.stdout


def test_list_reads_parameters_from_the_notebooks(tmp_path):
    root = copy_book(tmp_path)
    done = scalingbook(root, "list")
    assert done.returncode == 0
    assert "alpha = -0.35  (float" in done.stdout


def test_no_stderr_reaches_a_page(built_book: Path):
    """Chapters run quietly (no warning boxes), and the site would drop a stray stderr output anyway."""
    import nbformat

    chapters = built_book.parents[1] / "book" / "chapters"
    for executed in sorted(chapters.glob("*.ipynb")):
        notebook = nbformat.read(executed, as_version=4)
        stderr = [
            output.get("text", "")[:200]
            for cell in notebook.cells
            for output in cell.get("outputs", [])
            if output.get("name") == "stderr"
        ]
        assert not stderr, f"{executed.name} wrote to stderr: {stderr}"
    for page in built_book.rglob("*.html"):
        assert "output stderr" not in page.read_text(errors="replace"), page
