"""A live soak seen through a real node_exporter and a real Prometheus (Debian packages).

The test starts ``prometheus-node-exporter`` (textfile collector on a temp folder) and
``prometheus`` (scraping it every second, loading the alert rules), then:

1. runs ``soakkit soak --metrics-dir`` with a long pause between iterations, and after
   iterations 1 and 2 — while the soak process is alive and sleeping — asks Prometheus'
   HTTP API for the run's KPIs, thresholds, parameters and counters; then interrupts it
   (Ctrl-C) and resumes it, until iteration 3 finishes the run;
2. runs ``soakkit rotate --metrics-dir`` and finds the rotation's last success;
3. runs ``soakkit metrics`` and finds the catalog gauges;
4. runs every panel and annotation query of ``examples/grafana/soakkit.json`` over the
   test's time range: each returns data.

Expected values come from the run's own files (ITER_SUMMARY, TUNING_REPORT, RUN.json,
the rotation record) and soakkit's definitions, converted to base units by the table below.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from soakkit.config.params import PARAMS, TUNABLE
from soakkit.core.io import parse_utc
from soakkit.gate import GATES
from soakkit.kpi import KPIS
from soakkit.metrics import names as N

from .conftest import REPO, subprocess_env
from .prom_stack import Stack, check_metrics_text, prometheus_stack, wait_until

pytestmark = pytest.mark.slow  # a real Prometheus and node_exporter

RULES = REPO / "examples" / "prometheus" / "soakkit-alerts.yml"
DASHBOARD = REPO / "examples" / "grafana" / "soakkit.json"
#: soakkit unit -> factor to the exported base unit (the Prometheus naming conventions).
TO_BASE = {"bps": 1e-4, "ms": 1e-3, "ratio": 1.0, "1/min": 1 / 60, "USD": 1.0,
           "USD/h": 1 / 3600}
SOAK = ["soak", "--profile", "steady_safe", "--mode", "mixed", "--seed", "3",
        "--sim-minutes", "4", "--gate", "production", "--quiet"]  # the tuner acts (4 min+)
ITERATIONS = 3


def _value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {s["metric"].get(label, ""): _value(s) for s in result}


@dataclass
class Observed:
    """What Prometheus returned at one moment of the scenario, with the run's files then."""

    alive: bool  #: the soak process was still running when Prometheus showed this
    series: dict[str, list[dict[str, Any]]]  #: metric name -> samples of the run
    doc: dict[str, Any]  #: the ITER_SUMMARY of that iteration


@dataclass
class Scenario:
    stack: Stack
    start: float
    run_id: str = ""
    run_dir: Path = Path()
    steps: dict[int, Observed] = field(default_factory=dict)
    interrupted: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    rotation: dict[str, Any] = field(default_factory=dict)
    rotation_seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    catalog_seen: list[dict[str, Any]] = field(default_factory=list)
    scrape_errors: list[dict[str, Any]] = field(default_factory=list)


def _prometheus_now(stack: Stack) -> float:
    return float(stack.api("query", query="time()")["result"][0])


def _soakkit(*argv: str) -> subprocess.Popen[str]:
    # Ctrl-C must raise KeyboardInterrupt in the child even when this process was started
    # with SIGINT ignored (a background job); this module starts no threads
    return subprocess.Popen(
        [sys.executable, "-m", "soakkit", *argv], env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509


def _observe(sc: Scenario, n: int, proc: subprocess.Popen[str], status: str) -> None:
    run = f'run_id="{sc.run_id}"'
    sc.stack.wait_for(f"iteration {n} ({status}) in Prometheus",
                      f"{N.SOAK_COMPLETED.name}{{{run}}} == {n} and on (run_id) "
                      f'{N.SOAK_STATUS.name}{{{run},status="{status}"}} == 1')
    alive = proc.poll() is None
    result = sc.stack.query(f'{{__name__=~"soakkit_soak_.+", {run}}}')
    series: dict[str, list[dict[str, Any]]] = {}
    for sample in result:
        series.setdefault(sample["metric"]["__name__"], []).append(sample)
    bounds = sc.stack.query('{__name__=~"soakkit_soak_param_.+_bound_.+"}')
    for sample in bounds:
        series.setdefault(sample["metric"]["__name__"], []).append(sample)
    doc = json.loads((sc.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
    sc.steps[n] = Observed(alive, series, doc)


def _interrupt(sc: Scenario, proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    sc.exit_codes.append(proc.returncode)
    assert proc.returncode == 130, err
    seen = sc.stack.wait_for("the interrupted status in Prometheus",
                             f'{N.SOAK_STATUS.name}{{run_id="{sc.run_id}",'
                             'status="interrupted"} == 1')
    sc.interrupted.append(_value(seen[0]))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("prometheus")
    artifacts = tmp / "artifacts"
    with prometheus_stack(tmp, (RULES,)) as stack:
        sc = Scenario(stack, _prometheus_now(stack))
        metrics = str(stack.textfile_dir)
        pause = ["--sleep-seconds", "3600", "--artifacts", str(artifacts), "--metrics-dir",
                 metrics]
        proc = _soakkit(*SOAK, "--iterations", str(ITERATIONS), *pause)
        sc.run_dir = wait_until("the soak's first iteration on disk", lambda: next(
            (p.parent for p in (artifacts / "runs").glob("*/ITER_SUMMARY_1.json")), None))
        sc.run_id = sc.run_dir.name
        _observe(sc, 1, proc, "running")
        _interrupt(sc, proc)
        proc = _soakkit("soak", "--resume", sc.run_id, *pause)
        _observe(sc, 2, proc, "running")
        _interrupt(sc, proc)
        proc = _soakkit("soak", "--resume", sc.run_id, *pause)
        _, err = proc.communicate(timeout=300)
        sc.exit_codes.append(proc.returncode)
        assert proc.returncode in (0, 1), err
        _observe(sc, 3, proc, "finished")

        rotate = subprocess.run(
            [sys.executable, "-m", "soakkit", "rotate", "--path", str(artifacts),
             "--keep-latest", "1", "--max-size-mb", "900", "--json", "--metrics-dir", metrics],
            env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert rotate.returncode == 0, rotate.stderr
        sc.rotation = json.loads(rotate.stdout)
        done = parse_utc(sc.rotation["now"]).timestamp()
        stack.wait_for("the rotation's last success in Prometheus",
                       f"{N.ROT_LAST_SUCCESS.name} == {done!r}")
        for metric in (N.ROT_LAST_SUCCESS, N.ROT_ACTIONS, N.ROT_AFTER_ALLOCATED,
                       N.ROT_BUDGET, N.ROT_STATUS):
            sc.rotation_seen[metric.name] = stack.query(metric.name)

        export = subprocess.run(
            [sys.executable, "-m", "soakkit", "metrics", "--artifacts", str(artifacts),
             "--out", metrics], env=subprocess_env(), capture_output=True, text=True,
            timeout=300)
        assert export.returncode == 0, export.stderr
        sc.catalog_seen = stack.wait_for("the catalog gauges in Prometheus", N.CAT_RUNS.name)
        sc.scrape_errors = stack.query("node_textfile_scrape_error")
        yield sc


def _one(obs: Observed, metric: N.Metric, **labels: str) -> float:
    found = [s for s in obs.series.get(metric.name, [])
             if all(s["metric"].get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (metric.name, labels, found)
    return _value(found[0])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_prometheus_shows_each_iteration_of_the_live_soak(scenario: Scenario, n: int) -> None:
    obs = scenario.steps[n]
    doc = obs.doc
    # iterations 1 and 2 were seen while the soak process was running (sleeping 3600 s)
    assert obs.alive is (n < ITERATIONS)
    assert _one(obs, N.SOAK_COMPLETED) == n
    assert _one(obs, N.SOAK_PLANNED) == ITERATIONS
    assert _one(obs, N.SOAK_PROGRESS) == pytest.approx(n / ITERATIONS)
    sample = obs.series[N.SOAK_COMPLETED.name][0]["metric"]
    assert {k: sample[k] for k in ("profile", "mode", "gate")} == \
        {"profile": "steady_safe", "mode": "mixed", "gate": "production"}
    # the KPIs, with the right values, in base units
    gated = {t.kpi for g in GATES.values() for t in g.thresholds}
    assert gated == set(N.GATED_KPIS)
    for kpi in gated:
        expected = doc["summary"][kpi] * TO_BASE[KPIS[kpi].unit]
        assert _one(obs, N.KPI_VALUES[kpi]) == pytest.approx(expected, rel=1e-9, abs=1e-15), kpi
    # the thresholds of the gate profile that judged this iteration (warm-up, then steady)
    for th in GATES[doc["gate"]["gate"]].thresholds:
        assert _one(obs, N.KPI_THRESHOLDS[th.kpi], op=th.op, phase=doc["gate"]["phase"]) == \
            pytest.approx(th.value * TO_BASE[KPIS[th.kpi].unit], rel=1e-12)
    verdicts = {s["metric"]["verdict"]: _value(s) for s in obs.series[N.SOAK_VERDICT.name]}
    assert verdicts == {v: float(v == doc["gate"]["verdict"]) for v in ("PASS", "WARN", "FAIL")}
    # the live parameters against their bounds
    for param in TUNABLE:
        scale = TO_BASE[PARAMS[param].unit]
        assert _one(obs, N.PARAM_VALUES[param]) == \
            pytest.approx(doc["params"][param]["value"] * scale, rel=1e-9), param
        assert _one(obs, N.PARAM_LOWER[param]) == pytest.approx(PARAMS[param].lo * scale)
        assert _one(obs, N.PARAM_UPPER[param]) == pytest.approx(PARAMS[param].hi * scale)
    # the iteration's end, from the run's clock
    assert _one(obs, N.SOAK_LAST_END) == pytest.approx(parse_utc(doc["ended_utc"]).timestamp())


def test_the_finished_run_counts_agree_with_its_files(scenario: Scenario) -> None:
    final = scenario.steps[ITERATIONS]
    report = json.loads((scenario.run_dir / "TUNING_REPORT.json").read_text())
    meta = json.loads((scenario.run_dir / "RUN.json").read_text())
    summary = report["summary"]
    assert _one(final, N.TUNER_APPLIED) == summary["applied"] > 0
    assert _one(final, N.TUNER_REVERTS) == summary["panic_reverts"]
    guards = {s["metric"]["guard"]: _value(s) for s in final.series[N.TUNER_GUARDS.name]}
    assert guards == {k: float(v) for k, v in summary.items()
                      if k not in ("count", "applied", "panic_reverts")}
    assert sum(guards.values()) > 0
    counts = {s["metric"]["verdict"]: _value(s) for s in final.series[N.SOAK_ITERATIONS.name]}
    verdicts = [e["kpi_verdict"] for e in report["iterations"]]
    assert counts == {v: float(verdicts.count(v)) for v in ("PASS", "WARN", "FAIL")}
    passed = [e["iteration"] for e in report["iterations"] if e["kpi_verdict"] != "FAIL"]
    ended = parse_utc(scenario.steps[passed[-1]].doc["ended_utc"]).timestamp()
    assert _one(final, N.SOAK_LAST_SUCCESS) == pytest.approx(ended)
    assert _one(final, N.SOAK_START) == pytest.approx(parse_utc(meta["started_utc"]).timestamp())
    assert meta["status"] == "finished" and "warnings" not in meta
    assert scenario.exit_codes == [130, 130, 1 if meta["verdict"]["verdict"] == "FAIL" else 0]
    assert len(scenario.interrupted) == 2
    # the tuner acted after iteration 1 was seen, so the annotations have events to show
    first = scenario.steps[1]
    assert _one(first, N.TUNER_APPLIED) < summary["applied"]


def test_prometheus_sees_the_rotation_and_the_catalog(scenario: Scenario) -> None:
    record = scenario.rotation
    seen = scenario.rotation_seen
    assert _value(seen[N.ROT_LAST_SUCCESS.name][0]) == parse_utc(record["now"]).timestamp()
    assert _by(seen[N.ROT_STATUS.name], "status") == \
        {"ok": 1.0, "over_budget": 0.0, "error": 0.0}
    done = [a["phase"] for a in record["actions"] if a["result"].startswith("done")]
    assert _by(seen[N.ROT_ACTIONS.name], "action") == \
        {k: float(done.count(k)) for k in ("recover", "history", "delete", "compress", "budget")}
    assert done.count("delete") == ITERATIONS - 1
    assert _value(seen[N.ROT_AFTER_ALLOCATED.name][0]) == record["after"]["allocated_bytes"]
    assert _value(seen[N.ROT_BUDGET.name][0]) == 900 * 1024 * 1024
    runs = {(s["metric"]["profile"], s["metric"]["mode"]): _value(s)
            for s in scenario.catalog_seen}
    assert runs == {("steady_safe", "mixed"): 1.0}
    # node_exporter read every file without error
    assert [_value(s) for s in scenario.scrape_errors] == [0.0]


def test_every_exported_file_passes_promtool(scenario: Scenario) -> None:
    files = sorted(scenario.stack.textfile_dir.glob("*.prom"))
    assert [f.name for f in files] == sorted(N.FILES)
    assert not list(scenario.stack.textfile_dir.glob(".*"))  # no temp file left behind
    for path in files:
        check_metrics_text(path.read_text())


def test_prometheus_loaded_the_alert_rules_and_none_fires(scenario: Scenario) -> None:
    groups = scenario.stack.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == {"SoakkitSoakStalled", "SoakkitSoakFailStreak",
                                          "SoakkitRotationFailed", "SoakkitRotationStale",
                                          "SoakkitDiskOverBudget"}
    assert all(r["health"] == "ok" for r in rules), rules
    assert scenario.stack.query('ALERTS{alertname=~"Soakkit.*"}') == []


def _grafana_to_promql(expr: str) -> str:
    """What Grafana sends: template variables replaced (All = the regex ``.*``)."""
    expr = expr.replace("$run_id", ".*").replace("$__rate_interval", "1m")
    return re.sub(r"^label_values\((\w+), *(\w+)\)$", r"group by (\2) (\1)", expr)


def _dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    out = [(f"panel {p['title']!r} {t['refId']}", t["expr"])
           for p in doc["panels"] for t in p.get("targets", [])]
    out += [(f"annotation {a['name']!r}", a["target"]["expr"])
            for a in doc["annotations"]["list"]]
    out += [(f"variable {v['name']!r}", v["query"]["query"]) for v in doc["templating"]["list"]
            if v["type"] == "query"]
    return out


def test_the_dashboard_is_what_the_names_module_generates() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts/build_metrics_assets.py"),
                           "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "soakkit-soak"
    titles = [p["title"] for p in doc["panels"]]
    assert len(titles) == len(set(titles))
    assert {"Age of the last soak iteration", "Age of the last rotation",
            "Disk usage against the budget", *N.GATED_KPIS, *TUNABLE} <= set(titles)
    names = {m.name for m in N.METRICS}
    for where, expr in _dashboard_queries():
        for used in re.findall(r"\bsoakkit_[a-z0-9_]+", expr):
            assert used in names, (where, used)


def test_every_dashboard_query_returns_data(scenario: Scenario) -> None:
    queries = _dashboard_queries()
    assert len(queries) > 30
    end = _prometheus_now(scenario.stack)
    empty = [f"{where}: {expr}" for where, expr in queries
             if not scenario.stack.query_range(_grafana_to_promql(expr), scenario.start, end)]
    assert empty == [], "\n".join(empty)


def test_the_dashboard_shows_soakkit_units_and_verdicts_as_words(scenario: Scenario) -> None:
    """What the panels show: the KPIs in their titles' units (net_bps in bps, not a ratio),
    the last verdict and the rotation status as the words of their value mappings."""
    doc = json.loads(DASHBOARD.read_text())
    panels = {p["title"]: p for p in doc["panels"]}
    last = scenario.steps[ITERATIONS].doc
    for kpi in N.GATED_KPIS:
        [sample] = scenario.stack.query(_grafana_to_promql(panels[kpi]["targets"][0]["expr"]))
        assert _value(sample) == pytest.approx(last["summary"][kpi], rel=1e-9), kpi

    def shown(title: str) -> list[str]:
        panel = panels[title]
        words = {code: entry["text"] for code, entry in
                 panel["fieldConfig"]["defaults"]["mappings"][0]["options"].items()}
        result = scenario.stack.query(_grafana_to_promql(panel["targets"][0]["expr"]))
        return [words[f"{_value(s):g}"] for s in result]

    assert shown("Last verdict") == [last["gate"]["verdict"]]
    assert shown("Last rotation status") == ["ok"]
