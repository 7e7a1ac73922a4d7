"""The built book draws its charts in a real browser with the network blocked."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium and chromium-driver (see .ci/run)")
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(built_book: Path):
    """Serve the built site on loopback, the only address the browser may reach."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # Every request off loopback (which Chromium never proxies) goes to a dead proxy and fails.
        "--proxy-server=http://127.0.0.1:9",
        "--window-size=1280,2000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _chart_marks(driver) -> list[int]:
    """For each chart container on the page, how many drawn marks its SVG holds."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.scalingbook-chart')).map("
        "  el => el.querySelectorAll('svg g.mark-line path, svg g.mark-rule line, svg g.mark-symbol path,"
        "  svg g.mark-rect path').length);"
    )


# page -> (how many charts it draws, whether that count is exact), and whether it typesets maths.
# Chinchilla draws more charts when Epoch's published data is at hand; the rest always draw the same.
CHART_PAGES = {
    "chinchilla": (3, False, False),
    "emergence": (2, True, False),
    "mirage": (10, True, True),
    "seeds": (5, True, False),
    "performance": (1, True, False),
}


@pytest.mark.parametrize("page", list(CHART_PAGES))
def test_charts_render_offline(page, server, browser, tmp_path):
    expected, exact, maths = CHART_PAGES[page]
    browser.get(f"{server}/book/chapters/{page}.html")
    WebDriverWait(browser, 30).until(lambda d: _chart_marks(d) and all(_chart_marks(d)))
    marks = _chart_marks(browser)
    found = len(marks) == expected if exact else len(marks) >= expected
    assert found, f"expected {'' if exact else 'at least '}{expected} charts on the {page} page, found {len(marks)}"
    assert all(count > 0 for count in marks), f"a chart drew no marks: {marks}"
    if maths:
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.querySelectorAll('mjx-container').length > 0")
        )
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    browser.save_screenshot(str(tmp_path / f"{page}.png"))
    assert not errors, f"console errors: {errors}"


def test_no_page_loads_anything_from_the_network(built_book: Path):
    """No built page refers to a script, style or font on another host."""
    offenders = []
    for page in built_book.rglob("*.html"):
        text = page.read_text(errors="replace")
        for attr in ('src="http', "src='http", 'href="http'):
            start = 0
            while (i := text.find(attr, start)) != -1:
                tag_start = text.rfind("<", 0, i)
                tag = text[tag_start : text.find(">", i) + 1]
                if tag.startswith(("<script", "<link", "<img", "<iframe")) and 'rel="canonical"' not in tag:
                    offenders.append(f"{page.relative_to(built_book)}: {tag[:120]}")
                start = i + 1
    assert not offenders, "pages load from the network:\n" + "\n".join(offenders)
