"""The generated HTML reports, opened in a real headless Chromium (Debian's `chromium`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from soakkit.notebooks import RunResult, run
from soakkit.soak import SoakOptions, run_soak

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run scripts/test.sh (it installs it) "
                    "or `apt-get install chromium`")
    return path


@dataclass
class PageCheck:
    images: list[tuple[bool, int]] = field(default_factory=list)
    tables: int = 0
    error_banner: bool = False
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)


def check_report(html: Path, screenshot: Path) -> PageCheck:
    """Open ``html`` offline; collect images, tables, error banner, console errors, requests."""
    result = PageCheck()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: result.console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: result.console_errors.append(str(e)))
        page.on("request", lambda r: result.external_requests.append(r.url)
                if not r.url.startswith(("file:", "data:", "about:")) else None)
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        result.images = [tuple(x) for x in page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth])")]
        result.tables = page.locator("table").count()
        result.error_banner = page.locator("#papermill-error-cell").count() > 0 or \
            "An Exception was encountered" in page.content()
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return result


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    root = tmp_path_factory.mktemp("browser")
    artifacts = root / "artifacts"
    run_soak(SoakOptions(iterations=6, sim_minutes=2, mode="mixed", gate="production",
                         artifacts=artifacts), env={})
    out = root / "reports"
    return {"kpi": run("kpi", {"artifacts": str(artifacts)}, out),
            "disk": run("disk", {"artifacts": str(artifacts)}, out),
            "failed": run("kpi", {"artifacts": str(artifacts), "run": "missing"}, out)}


@pytest.mark.parametrize("name", ["kpi", "disk"])
def test_report_renders_in_a_real_browser(reports: dict[str, RunResult], name: str) -> None:
    report = reports[name]
    assert report.exit_code == 0, report.evalue
    shot = report.output_dir / "screenshot.png"
    page = check_report(report.html, shot)
    assert page.images and all(complete and width > 0 for complete, width in page.images)
    assert page.tables >= 1
    assert not page.error_banner
    assert page.console_errors == []
    assert page.external_requests == []  # works offline: nothing from a CDN
    assert shot.stat().st_size > 10_000


def test_a_failed_report_shows_its_error_banner(reports: dict[str, RunResult]) -> None:
    report = reports["failed"]
    assert report.exit_code == 1
    page = check_report(report.html, report.output_dir / "screenshot.png")
    assert page.error_banner
