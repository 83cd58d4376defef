"""The generated HTML reports, opened in a real headless Chromium (Debian's `chromium`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from soakkit.notebooks.runner import RunResult, run
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


@contextmanager
def offline_page(html: Path, console_errors: list[str],
                 external_requests: list[str]) -> Iterator[Page]:
    """``html`` in headless Chromium with the network off; console errors and every request
    that leaves the file are collected."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.on("request", lambda r: external_requests.append(r.url)
                if not r.url.startswith(("file:", "data:", "about:")) else None)
        page.goto(html.resolve().as_uri())
        page.wait_for_load_state("load")
        try:
            yield page
        finally:
            browser.close()


def check_report(html: Path, screenshot: Path) -> PageCheck:
    """Open ``html`` offline; collect images, tables, error banner, console errors, requests."""
    result = PageCheck()
    with offline_page(html, result.console_errors, result.external_requests) as page:
        result.images = [tuple(x) for x in page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth])")]
        result.tables = page.locator("table").count()
        result.error_banner = page.locator("#papermill-error-cell").count() > 0 or \
            "An Exception was encountered" in page.content()
        page.screenshot(path=str(screenshot), full_page=True)
    return result


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    root = tmp_path_factory.mktemp("browser")
    artifacts = root / "artifacts"
    first = run_soak(SoakOptions(iterations=6, sim_minutes=2, mode="mixed", gate="production",
                                 artifacts=artifacts), env={})
    run_soak(SoakOptions(profile="aggressive", iterations=4, sim_minutes=2, mode="volatile",
                         seed=2, gate="production", artifacts=artifacts), env={})
    out = root / "reports"
    done = {"kpi": run("kpi", {"artifacts": str(artifacts)}, out),
            "disk": run("disk", {"artifacts": str(artifacts)}, out),
            "explore": run("explore", {"artifacts": str(artifacts)}, out)}
    # parameters are checked before a kernel starts (a missing run never reaches one): a
    # report fails in its kernel on a run whose RUN.json is damaged afterwards
    (first.run_dir / "RUN.json").write_text("{")
    done["failed"] = run("kpi", {"artifacts": str(artifacts), "run": first.run_id}, out)
    return done


@pytest.mark.parametrize("name", ["kpi", "disk", "explore"])
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


@dataclass
class ChartCheck:
    charts: int = 0
    points: int = 0
    tooltip: str = ""
    axis_before: list[str] = field(default_factory=list)
    axis_after: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)


def check_chart(html: Path, screenshot: Path) -> ChartCheck:
    """Open ``html`` offline; hover a KPI trend point, then zoom the top panel with the wheel."""
    result = ChartCheck()
    with offline_page(html, result.console_errors, result.external_requests) as page:
        page.wait_for_selector(".soakkit-chart svg.marks", timeout=20_000)
        result.charts = page.locator(".soakkit-chart svg.marks").count()
        chart = page.locator(".soakkit-chart").filter(has_text="net_bps").first
        points = chart.locator("svg.marks .mark-symbol path")
        result.points = points.count()
        points.nth(2).hover()
        page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
        result.tooltip = page.inner_text("#vg-tooltip-element")
        labels = "els => els.map(e => e.textContent)"
        axis = chart.locator("svg.marks .role-axis-label text")
        result.axis_before = axis.evaluate_all(labels)
        box = chart.locator("svg.marks").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 80)
        page.mouse.wheel(0, -500)
        page.wait_for_timeout(500)
        result.axis_after = axis.evaluate_all(labels)
        page.screenshot(path=str(screenshot), full_page=True)
    return result


@pytest.mark.parametrize("name", ["kpi", "explore"])
def test_interactive_kpi_chart_works_offline(reports: dict[str, RunResult], name: str) -> None:
    """Hovering a KPI trend point shows its values, regime, verdict and the tuner's action;
    the wheel zooms; the chart library is inline (no request leaves the file)."""
    report = reports[name]
    assert report.exit_code == 0, report.evalue
    check = check_chart(report.html, report.output_dir / "chart.png")
    assert check.charts >= 1 + (name == "explore")  # explore: the runs chart too
    assert check.points >= 6
    for field_name in ("iteration", "regime", "verdict", "net_bps", "risk_ratio",
                       "tuner action"):
        assert field_name in check.tooltip, check.tooltip
    assert check.axis_after != check.axis_before  # zoomed
    assert check.console_errors == []
    assert check.external_requests == []
    html = report.html.read_text()
    assert html.count("window.vegaEmbed=") == 1  # the library once, however many charts


@dataclass
class IndexPage:
    rows: list[dict[str, str]]
    links: list[str]  #: absolute URLs of the report links
    opened: dict[str, str]  #: link -> title of the page it opened
    external_requests: list[str]
    console_errors: list[str]


def open_index(index: Path) -> IndexPage:
    """Open reports/index.html offline, read its table, then follow every link."""
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url)
                if not r.url.startswith(("file:", "data:", "about:")) else None)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(index.resolve().as_uri())
        headers = page.eval_on_selector_all("#reports thead th", "els => els.map(e => e.innerText)")
        cells = page.eval_on_selector_all(
            "#reports tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
        links = page.eval_on_selector_all("#reports tbody a", "els => els.map(e => e.href)")
        opened = {}
        for link in links:
            page.goto(link)  # raises for a link that does not resolve (ERR_FILE_NOT_FOUND)
            page.wait_for_load_state("load")
            opened[link] = page.title()
        browser.close()
    rows = [dict(zip(headers, row, strict=True)) for row in cells]
    return IndexPage(rows, links, opened, requests, errors)


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from soakkit.demo import demo

    root = tmp_path_factory.mktemp("demo")
    result = demo(root / "artifacts", root / "reports", iterations=4, say=lambda _: None)
    assert result.exit_code == 0, [r.evalue for r in result.reports]
    return root / "reports"


def test_the_report_index_lists_the_demos_reports_and_its_links_open(demo_reports: Path) -> None:
    page = open_index(demo_reports / "index.html")
    assert sorted(row["report"] for row in page.rows) == ["disk", "kpi", "soak"]
    for row in page.rows:
        assert row["status"] == "ok" and row["reason"] == ""
        assert row["when (UTC)"].endswith("Z")
    folders = [m.parent for m in demo_reports.glob("*/*/manifest.json")
               if m.parent.parent.name != "latest"]
    assert sorted(page.links) == sorted((f / "report.html").resolve().as_uri() for f in folders)
    assert len(page.links) == 3
    assert len(page.opened) == 3 and all(page.opened.values())
    tuned = next(row for row in page.rows if row["report"] == "kpi")
    assert (tuned["profile"], tuned["mode"]) == ("steady_safe", "mixed")
    assert tuned["verdict"] in ("PASS", "WARN", "FAIL")
    assert tuned["run"] in {p.name for p in (demo_reports.parent / "artifacts/runs").iterdir()}
    disk = next(row for row in page.rows if row["report"] == "disk")
    assert disk["verdict"] in ("within budget", "over budget")
    assert page.external_requests == [] and page.console_errors == []


def test_the_report_index_lists_a_failed_report_with_its_reason(
        reports: dict[str, RunResult]) -> None:
    failed = reports["failed"]
    page = open_index(failed.output_dir.parent.parent / "index.html")
    row = next(r for r in page.rows if r["status"] == "error")
    assert row["report"] == "kpi"
    assert failed.ename and failed.ename in row["reason"]
    assert len(page.rows) == 4 and len(page.links) == 4  # kpi, disk, explore, the failed one


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_the_runs_chart_shows_utc_on_a_24_hour_clock_in_any_time_zone(
        reports: dict[str, RunResult], zone: str) -> None:
    """A browser outside UTC still labels the run start axis in UTC, 24-hour clock, and the
    first and last runs are drawn whole (not clipped by the plot's edge)."""
    import re

    html = reports["explore"].html
    starts = re.findall(r'"started_utc": "(\d{4}-\d\d-\d\dT(\d\d):(\d\d):\d\dZ)"',
                        html.read_text())
    assert starts
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_context(offline=True, timezone_id=zone).new_page()
        page.goto(html.resolve().as_uri())
        page.wait_for_selector(".soakkit-chart svg.marks", timeout=20_000)
        assert page.evaluate("new Date(0).getTimezoneOffset()") != 0  # really not UTC
        chart = page.locator(".soakkit-chart").filter(has_text="run start (UTC")
        texts = chart.locator("svg.marks .role-axis-label text").evaluate_all(
            "els => els.map(e => e.textContent)")
        box = "els => els.map(e => { const b = e.getBoundingClientRect(); " \
              "return [b.left, b.right, b.width, b.height]; })"
        # the x axis's domain line spans the plot: the horizontal one
        plot = next(b for b in chart.locator("svg.marks .role-axis-domain path, "
                                             "svg.marks .role-axis-domain line")
                    .evaluate_all(box) if b[2] > b[3])
        points = chart.locator("svg.marks .mark-symbol.role-mark path").evaluate_all(box)
        browser.close()
    labels = [t for t in texts if ":" in t]  # the time axis (the P&L axis has numbers)
    assert labels and all(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?", t) for t in labels)
    # the hours are the runs' UTC hours (a local clock would be 5 hours off either way)
    assert {t[:2] for t in labels} <= {h for _, h, _ in starts} | {
        f"{(int(h) + d) % 24:02d}" for _, h, _ in starts for d in (-1, 1)}
    assert points and all(plot[0] - 0.5 <= left and right <= plot[1] + 0.5
                          for left, right, _, _ in points)
