"""Prometheus textfiles: naming conventions, promtool, values, failures, bad input, alert rules.

The live path through node_exporter and Prometheus is in tests/test_prometheus.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from soakkit.catalog import load_catalog
from soakkit.core.errors import UsageError
from soakkit.core.io import FixedClock, parse_utc
from soakkit.metrics import SoakMetrics, check_metrics_dir, export_catalog
from soakkit.metrics import names as N
from soakkit.metrics.textfile import read_samples
from soakkit.notebooks.index import list_reports, write_index
from soakkit.soak import IterationReport, SoakOptions, SoakResult, run_soak

from .conftest import REPO, CliResult, assert_one_line_error, run_subprocess
from .prom_stack import check_metrics_text, promtool, tool

NOW = "2026-11-24T12:00:00Z"
CLOCK = FixedClock(parse_utc(NOW))
RULES_DIR = REPO / "examples" / "prometheus"
OPTIONS = SoakOptions(profile="steady_safe", iterations=4, mode="volatile", seed=7,
                      sim_minutes=2, gate="production", now=NOW)
#: Every label a soakkit metric may carry: bounded sets only.
ALLOWED_LABELS = {"run_id", "profile", "mode", "gate", "verdict", "status", "guard", "action",
                  "op", "phase"}


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return read_samples(path)


def _value(path: Path, metric: N.Metric, **labels: str) -> float:
    found = [v for (name, lab), v in _samples(path).items()
             if name == metric.name and all(dict(lab).get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (metric.name, labels, found)
    return found[0]


def soak(artifacts: Path, metrics: Path, **changes: object) -> tuple[SoakResult, SoakMetrics]:
    observer = SoakMetrics(metrics, clock=CLOCK)
    options = SoakOptions(**{**OPTIONS.__dict__, "artifacts": artifacts, **changes})
    return run_soak(options, env={}, observers=[observer]), observer


# --------------------------------------------------------------------------- conventions
def test_every_metric_follows_the_prometheus_naming_conventions() -> None:
    names = [m.name for m in N.METRICS]
    assert len(names) == len(set(names))
    subsystem = {N.SOAK_FILE: "soak", N.ROTATION_FILE: "rotation", N.CATALOG_FILE: "catalog"}
    for m in N.METRICS:
        assert re.fullmatch(r"soakkit_[a-z][a-z0-9_]*[a-z0-9]", m.name), m.name
        assert m.name.startswith(f"soakkit_{subsystem[m.file]}_"), m.name
        assert (m.kind == "counter") == m.name.endswith("_total"), m.name
        if m.unit:
            assert m.name.endswith(f"_{m.unit}"), m.name
        assert not re.search(r"_(ms|bps|milliseconds|minutes|mb|percent)(_|$)", m.name), m.name
        assert "timestamp" not in m.name or m.name.endswith("_timestamp_seconds"), m.name
        assert set(m.labels) <= ALLOWED_LABELS, m.name
        assert m.help and "\n" not in m.help, m.name
    # the run id labels the active soak run only, never the rotation or catalog files
    assert all("run_id" not in m.labels for m in N.METRICS if m.file != N.SOAK_FILE)


def test_every_gated_kpi_and_tunable_parameter_is_exported() -> None:
    from soakkit.config.params import TUNABLE
    from soakkit.gate import GATES

    assert set(N.KPI_VALUES) == {t.kpi for g in GATES.values() for t in g.thresholds}
    assert set(N.KPI_THRESHOLDS) == set(N.KPI_VALUES)
    assert list(N.PARAM_VALUES) == list(TUNABLE)


def test_the_docs_list_every_metric_as_the_module_defines_it() -> None:
    text = (REPO / "docs" / "METRICS.md").read_text()
    assert N.metrics_markdown() in text
    for m in N.METRICS:
        assert f"| `{m.name}` | {m.kind} |" in text


# --------------------------------------------------------------------------- soak file
def test_the_soak_file_shows_the_last_iteration_and_the_runs_counts(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    result, observer = soak(tmp_path / "a", metrics)
    path = metrics / N.SOAK_FILE
    check_metrics_text(path.read_text())
    report = json.loads((result.run_dir / "TUNING_REPORT.json").read_text())
    doc = json.loads((result.run_dir / "ITER_SUMMARY_4.json").read_text())
    assert _value(path, N.SOAK_COMPLETED) == 4
    assert _value(path, N.SOAK_STATUS, status="finished") == 1
    assert _value(path, N.SOAK_STATUS, status="running") == 0
    assert _value(path, N.KPI_VALUES["net_bps"]) == pytest.approx(doc["summary"]["net_bps"] / 1e4)
    assert _value(path, N.KPI_VALUES["p95_latency_ms"]) == \
        pytest.approx(doc["summary"]["p95_latency_ms"] / 1e3)
    assert _value(path, N.KPI_THRESHOLDS["risk_ratio"], phase="steady", op="<=") == 0.5
    assert _value(path, N.TUNER_APPLIED) == report["summary"]["applied"]
    assert _value(path, N.SOAK_LAST_END) == CLOCK.instant.timestamp()
    assert os.stat(path).st_mtime == CLOCK.instant.timestamp()  # stamped by the run's clock
    assert observer.warnings == []


@pytest.mark.determinism
def test_a_resumed_run_exports_the_same_file_as_an_uninterrupted_one(tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir()
    resumed.mkdir()
    soak(tmp_path / "a1", straight)

    def stop_after_two(report: IterationReport) -> None:
        if report.iteration == 2:
            raise KeyboardInterrupt

    first = run_soak(SoakOptions(**{**OPTIONS.__dict__, "artifacts": tmp_path / "a2"}), env={},
                     progress=stop_after_two, observers=[SoakMetrics(resumed, clock=CLOCK)])
    assert first.status == "interrupted"
    assert _value(resumed / N.SOAK_FILE, N.SOAK_STATUS, status="interrupted") == 1
    assert _value(resumed / N.SOAK_FILE, N.SOAK_COMPLETED) == 2
    run_soak(SoakOptions(artifacts=tmp_path / "a2", now=NOW), env={}, resume=first.run_id,
             observers=[SoakMetrics(resumed, clock=CLOCK)])
    assert (resumed / N.SOAK_FILE).read_bytes() == (straight / N.SOAK_FILE).read_bytes()


def test_a_failing_metrics_write_never_stops_the_soak(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    warned: list[str] = []

    def break_the_folder(report: IterationReport) -> None:
        if report.iteration == 1:  # the folder is replaced by a file: every write fails
            shutil.rmtree(metrics)
            metrics.write_text("not a folder")

    observer = SoakMetrics(metrics, clock=CLOCK, warn=warned.append)
    result = run_soak(SoakOptions(**{**OPTIONS.__dict__, "artifacts": tmp_path / "a"}), env={},
                      progress=break_the_folder, observers=[observer])
    assert result.status == "finished" and result.iterations_done == 4
    assert len(warned) == 1 and "cannot write" in warned[0]
    meta = json.loads((result.run_dir / "RUN.json").read_text())
    assert meta["status"] == "finished"
    assert meta["warnings"] == list(result.warnings)
    # RUN.json: started + iteration 1 written, iterations 2-4 failed; the observer also
    # counts its final write (status finished), which comes after RUN.json is written
    assert "metrics: 3 of 5 writes" in meta["warnings"][0]
    assert "Not a directory" in meta["warnings"][0]
    assert "metrics: 4 of 6 writes" in observer.warnings[0]
    assert metrics.read_text() == "not a folder"


def test_the_cli_soak_writes_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    out = run_subprocess("soak", "--iterations", "2", "--sim-minutes", "2", "--now", NOW,
                         "--artifacts", str(tmp_path / "a"), "--metrics-dir", str(metrics))
    assert out.code == 0, out.err
    assert "warning" not in out.err
    check_metrics_text((metrics / N.SOAK_FILE).read_text())
    assert [p.name for p in metrics.iterdir()] == [N.SOAK_FILE]  # no temp file left


# --------------------------------------------------------------------------- bad input
def _readonly(folder: Path, *argv: str) -> CliResult:
    """Run soakkit while ``folder`` is read-only: a read-only mount (as root, where
    permission bits do not bind) or mode 0555 (as a normal user)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            return run_subprocess(*argv)
        finally:
            folder.chmod(0o755)
    script = 'mount -t tmpfs -o ro soakkit-ro "$0" && exec "$@"'
    return run_subprocess(*argv, prefix=(tool("unshare"), "--user", "--map-root-user",
                                         "--mount", "sh", "-c", script, str(folder)))


COMMANDS = {
    "soak": (["soak", "--iterations", "1", "--sim-minutes", "1", "--metrics-dir"], 2),
    "rotate": (["rotate", "--path", "{artifacts}", "--metrics-dir"], 1),
    "metrics": (["metrics", "--artifacts", "{artifacts}", "--out"], 2),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("problem", ["missing", "file", "read-only"])
def test_a_bad_metrics_folder_is_one_line_and_nothing_runs(tmp_path: Path, command: str,
                                                          problem: str) -> None:
    artifacts = tmp_path / "artifacts"
    soak(artifacts, tmp_path)  # something to rotate and to count
    before = sorted((p.relative_to(artifacts), p.stat().st_mtime_ns)
                    for p in artifacts.rglob("*"))
    target = tmp_path / "textfile"
    if problem == "file":
        target.write_text("x")
    elif problem == "read-only":
        target.mkdir()
    argv, code = COMMANDS[command]
    argv = [a.replace("{artifacts}", str(artifacts)) for a in argv] + [str(target)]
    if command == "soak":
        argv += ["--artifacts", str(artifacts)]
    result = _readonly(target, *argv) if problem == "read-only" else run_subprocess(*argv)
    assert result.code == code, result.err
    assert_one_line_error(result, str(target),
                          {"missing": "no such directory", "file": "is a file",
                           "read-only": "not writable"}[problem])
    assert len(result.err.strip().splitlines()) == 1
    after = sorted((p.relative_to(artifacts), p.stat().st_mtime_ns) for p in artifacts.rglob("*"))
    assert after == before  # no run started, no rotation, no cache
    if problem == "file":
        assert target.read_text() == "x"
    elif problem == "read-only":
        assert list(target.iterdir()) == []


def test_check_metrics_dir_accepts_a_writable_folder_and_leaves_nothing(tmp_path: Path) -> None:
    assert check_metrics_dir(tmp_path) == tmp_path
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match=r"--out .*no such directory"):
        check_metrics_dir(tmp_path / "nope", "--out")


# --------------------------------------------------------------------------- rotation
@pytest.mark.slow
def test_rotation_counters_accumulate_and_a_failed_rotation_keeps_the_last_success(
        tmp_path: Path) -> None:
    artifacts, metrics = tmp_path / "artifacts", tmp_path / "textfile"
    metrics.mkdir()
    soak(artifacts, tmp_path)
    path = metrics / N.ROTATION_FILE
    first = run_subprocess("rotate", "--path", str(artifacts), "--keep-latest", "2", "--now", NOW,
                           "--json", "--metrics-dir", str(metrics))
    assert first.code == 0, first.err
    record = json.loads(first.out)
    check_metrics_text(path.read_text())
    assert _value(path, N.ROT_ACTIONS, action="delete") == 2
    assert _value(path, N.ROT_ACTIONS, action="history") == 1
    assert _value(path, N.ROT_AFTER_ALLOCATED) == record["after"]["allocated_bytes"]
    assert _value(path, N.ROT_BEFORE_APPARENT) == record["before"]["apparent_bytes"]
    assert _value(path, N.ROT_LAST_SUCCESS) == CLOCK.instant.timestamp()
    assert not any(name == N.ROT_BUDGET.name for name, _ in _samples(path))  # no budget given

    soak(artifacts, tmp_path, seed=8)
    later = "2026-11-24T13:00:00Z"
    second = run_subprocess("rotate", "--path", str(artifacts), "--keep-latest", "1", "--now",
                            later, "--max-size-mb", "0.001", "--json", "--metrics-dir",
                            str(metrics))
    assert second.code == 2  # over budget: still a success for the last-success time
    record = json.loads(second.out)
    deleted = [a for a in record["actions"] if a["phase"] == "delete"]
    assert len(deleted) == 1 + 3  # first run: 3 of (3, 4); second run: 1-3 of 1-4
    assert _value(path, N.ROT_ACTIONS, action="delete") == 2 + len(deleted)
    assert _value(path, N.ROT_STATUS, status="over_budget") == 1
    assert _value(path, N.ROT_LAST_SUCCESS) == parse_utc(later).timestamp()
    assert _value(path, N.ROT_BUDGET) == record["budget_bytes"]

    gone = run_subprocess("rotate", "--path", str(tmp_path / "gone"), "--now",
                          "2026-11-24T14:00:00Z", "--metrics-dir", str(metrics))
    assert gone.code == 1
    assert_one_line_error(gone, "--artifacts", "no such directory")
    check_metrics_text(path.read_text())
    assert _value(path, N.ROT_STATUS, status="error") == 1
    assert _value(path, N.ROT_ERRORS) == 1
    assert _value(path, N.ROT_LAST_SUCCESS) == parse_utc(later).timestamp()
    assert _value(path, N.ROT_LAST_RUN) == parse_utc("2026-11-24T14:00:00Z").timestamp()
    assert _value(path, N.ROT_ACTIONS, action="delete") == 2 + len(deleted)  # counters kept

    dry = run_subprocess("rotate", "--path", str(artifacts), "--dry-run", "--metrics-dir",
                         str(metrics))
    assert dry.code == 1
    assert_one_line_error(dry, "--dry-run")


# --------------------------------------------------------------------------- catalog
def test_catalog_gauges_count_runs_and_verdicts_by_profile_and_mode(tmp_path: Path) -> None:
    artifacts, metrics = tmp_path / "artifacts", tmp_path / "textfile"
    metrics.mkdir()
    soak(artifacts, tmp_path)
    soak(artifacts, tmp_path, seed=3, mode="spike", gate="smoke")
    soak(artifacts, tmp_path, seed=4, mode="spike", gate="smoke")
    export = export_catalog(artifacts, metrics, clock=CLOCK)
    check_metrics_text(export.path.read_text())
    frame = load_catalog(artifacts).frame
    assert export.runs == 3 and export.iterations == frame.height == 12
    for (profile, mode), group in frame.group_by("profile", "mode"):
        labels = {"profile": str(profile), "mode": str(mode)}
        assert _value(export.path, N.CAT_RUNS, **labels) == group["run_id"].n_unique()
        for verdict in ("PASS", "WARN", "FAIL"):
            assert _value(export.path, N.CAT_ITERATIONS, verdict=verdict, **labels) == \
                group.filter(pl.col("verdict") == verdict).height
    assert _value(export.path, N.CAT_LAST_SUCCESS) == CLOCK.instant.timestamp()
    out = run_subprocess("metrics", "--artifacts", str(artifacts), "--out", str(metrics),
                         "--now", NOW)
    assert out.code == 0 and "3 run(s), 12 iteration(s)" in out.out
    assert (metrics / N.CATALOG_FILE).read_bytes() == export.path.read_bytes()


# --------------------------------------------------------------------------- alert rules
def test_the_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    promtool("check", "rules", "soakkit-alerts.yml", cwd=RULES_DIR)
    promtool("test", "rules", "soakkit-alerts.test.yml", cwd=RULES_DIR)
    names = {m.name for m in N.METRICS}
    text = (RULES_DIR / "soakkit-alerts.yml").read_text()
    for used in re.findall(r"\bsoakkit_[a-z0-9_]+(?![.\w])", text):
        assert used in names, used


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    import yaml

    grafana = REPO / "examples" / "grafana"
    provider = yaml.safe_load((grafana / "provisioning/dashboards/soakkit.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"
    source = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yaml").read_text())
    assert source["datasources"][0]["type"] == "prometheus"
    doc = json.loads((grafana / "soakkit.json").read_text())
    assert doc["uid"] == "soakkit-soak"
    datasource = [v for v in doc["templating"]["list"] if v["type"] == "datasource"]
    assert datasource and datasource[0]["query"] == source["datasources"][0]["type"]


# --------------------------------------------------------------------------- report index
def test_the_report_index_lists_an_unfinished_report_and_escapes_names(tmp_path: Path) -> None:
    day = tmp_path / "reports" / "2026-11-24"
    (day / "kpi-20261124T120000Z-<b>.partial").mkdir(parents=True)  # killed mid-run
    (tmp_path / "reports" / "latest").mkdir()
    entries = list_reports(tmp_path / "reports")
    assert [(e.name, e.status, e.href) for e in entries] == [("kpi", "incomplete", None)]
    html = write_index(tmp_path / "reports").read_text()
    assert "incomplete: still running, or interrupted" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "http" not in html  # offline: no CDN, no external link
    assert write_index(tmp_path / "reports").read_text() == html  # no time of its own
