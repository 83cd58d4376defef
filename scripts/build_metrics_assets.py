"""Write the metrics assets generated from soakkit.metrics.names (their one definition).

    python scripts/build_metrics_assets.py          # rewrite them
    python scripts/build_metrics_assets.py --check  # exit 1 if one differs (CI/tests)

* ``docs/METRICS.md``: the metric reference between the ``metrics:begin``/``end`` markers;
* ``examples/grafana/soakkit.json``: the Grafana dashboard (stable uid ``soakkit-soak``):
  KPIs against their gate thresholds, tuner events as annotations, parameters against
  their bounds, disk usage against the budget, the age of the last rotation and of the last
  soak iteration, catalog counts. Every panel's PromQL runs against a real Prometheus in
  ``tests/test_prometheus.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from soakkit.core.io import atomic_write_text
from soakkit.metrics import names as N

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "METRICS.md"
DASHBOARD = REPO / "examples" / "grafana" / "soakkit.json"
BEGIN, END = "<!-- metrics:begin (scripts/build_metrics_assets.py) -->", "<!-- metrics:end -->"

UID = "soakkit-soak"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUN = 'run_id=~"$run_id"'
#: Grafana unit of each base unit.
GRAFANA_UNITS = {"seconds": "s", "bytes": "bytes", "ratio": "percentunit",
                 "per_second": "short", "usd": "currencyUSD", "usd_per_second": "short",
                 "": "short"}


def target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref,
            "range": True}


class Layout:
    """Panels left to right, rows of 24 grid units; ids in order."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_h = 0

    def row(self, title: str) -> None:
        self.newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False,
                            "id": len(self.panels) + 1,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.y += 1

    def newline(self) -> None:
        self.y += self.row_h
        self.x = self.row_h = 0

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self.newline()
        panel = {"id": len(self.panels) + 1, "datasource": DATASOURCE,
                 "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h}, **panel}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def stat(title: str, expr: str, unit: str, legend: str = "", description: str = "",
         thresholds: list[tuple[float | None, str]] | None = None) -> dict[str, Any]:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
    return {"type": "stat", "title": title, "description": description,
            "targets": [target(expr, legend)],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute",
                                                                       "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "value", "graphMode": "none", "textMode": "auto"}}


def series(title: str, targets: list[dict[str, Any]], unit: str,
           description: str = "", dashed: tuple[str, ...] = ()) -> dict[str, Any]:
    """A time series panel; targets whose refId is in ``dashed`` draw as dashed limit lines."""
    overrides = [{"matcher": {"id": "byFrameRefID", "options": ref},
                  "properties": [{"id": "custom.lineStyle",
                                  "value": {"fill": "dash", "dash": [10, 10]}},
                                 {"id": "color", "value": {"mode": "fixed",
                                                           "fixedColor": "red"}}]}
                 for ref in dashed]
    return {"type": "timeseries", "title": title, "description": description,
            "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "custom": {"lineInterpolation":
                                                                  "stepAfter"}},
                            "overrides": overrides},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}}}


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard, built from the metric definitions."""
    lay = Layout()
    lay.row("Soak run")
    lay.add(stat("Progress", f"{N.SOAK_PROGRESS.name}{{{RUN}}}", "percentunit", "{{run_id}}",
                 "Completed / planned iterations."), 4, 4)
    lay.add(stat("Last verdict", f"{N.SOAK_VERDICT.name}{{{RUN}}} == 1", "short",
                 "{{verdict}}", "Verdict of the last iteration (the gate's PASS/WARN/FAIL)."),
            4, 4)
    lay.add(stat("FAIL streak", f"{N.SOAK_FAIL_STREAK.name}{{{RUN}}}", "short", "{{run_id}}",
                 "Consecutive FAIL iterations; the SoakkitSoakFailStreak alert fires at 3.",
                 [(None, "green"), (1, "orange"), (3, "red")]), 4, 4)
    lay.add(stat("Age of the last soak iteration",
                 f"time() - max by (run_id) ({N.SOAK_LAST_END.name}{{{RUN}}})", "s",
                 "{{run_id}}", "Seconds since the last iteration ended (stalled soak: the "
                 "SoakkitSoakStalled alert).", [(None, "green"), (1800, "red")]), 4, 4)
    lay.add(stat("Age of the last rotation",
                 f"time() - {N.ROT_LAST_SUCCESS.name}", "s", "",
                 "Seconds since the last successful rotation.",
                 [(None, "green"), (26 * 3600, "red")]), 4, 4)
    lay.add(stat("Last rotation status", f"{N.ROT_STATUS.name} == 1", "short", "{{status}}",
                 "ok, over_budget or error."), 4, 4)
    lay.row("KPIs against their gate thresholds")
    for kpi in N.GATED_KPIS:
        value, limit = N.KPI_VALUES[kpi], N.KPI_THRESHOLDS[kpi]
        lay.add(series(kpi, [target(f"{value.name}{{{RUN}}}", "{{run_id}}"),
                             target(f"{limit.name}{{{RUN}}}", "limit {{op}} ({{phase}})", "B")],
                       GRAFANA_UNITS[value.unit], value.help, dashed=("B",)), 12, 8)
    lay.row("Tuner")
    lay.add(series("Tuner applications and reverts", [
        target(f"{N.TUNER_APPLIED.name}{{{RUN}}}", "applied {{run_id}}"),
        target(f"{N.TUNER_REVERTS.name}{{{RUN}}}", "reverts {{run_id}}", "B")], "short",
        "Counters for the run; the annotations mark the iterations where they moved."), 12, 8)
    lay.add(series("Guard activations", [
        target(f"sum by (guard) ({N.TUNER_GUARDS.name}{{{RUN}}})", "{{guard}}")], "short",
        N.TUNER_GUARDS.help), 12, 8)
    lay.row("Parameters against their bounds")
    for param in N.PARAM_VALUES:
        value = N.PARAM_VALUES[param]
        lay.add(series(param, [target(f"{value.name}{{{RUN}}}", "{{run_id}}"),
                               target(N.PARAM_LOWER[param].name, "lower bound", "B"),
                               target(N.PARAM_UPPER[param].name, "upper bound", "C")],
                       GRAFANA_UNITS[value.unit], value.help, dashed=("B", "C")), 8, 7)
    lay.row("Disk")
    lay.add(series("Disk usage against the budget", [
        target(N.ROT_AFTER_ALLOCATED.name, "allocated"),
        target(N.ROT_AFTER_APPARENT.name, "apparent", "B"),
        target(N.ROT_BUDGET.name, "budget", "C")], "bytes",
        "After each rotation; the SoakkitDiskOverBudget alert fires when allocated > budget.",
        dashed=("C",)), 12, 8)
    lay.add(series("Rotation actions", [
        target(f"{N.ROT_ACTIONS.name}", "{{action}}"),
        target(N.ROT_ERRORS.name, "errors", "B")], "short", N.ROT_ACTIONS.help), 6, 8)
    lay.add(series("Rotation duration", [target(N.ROT_DURATION.name, "duration")], "s",
                   N.ROT_DURATION.help), 6, 8)
    lay.row("Catalog (soakkit metrics)")
    lay.add(series("Runs by profile and mode", [
        target(N.CAT_RUNS.name, "{{profile}} {{mode}}")], "short", N.CAT_RUNS.help), 12, 8)
    lay.add(series("Iterations by verdict", [
        target(f"sum by (verdict) ({N.CAT_ITERATIONS.name})", "{{verdict}}")], "short",
        N.CAT_ITERATIONS.help), 12, 8)
    annotations = [
        {"name": "Tuner applied", "datasource": DATASOURCE, "enable": True,
         "iconColor": "blue", "step": "15s", "titleFormat": "tuner applied",
         "textFormat": "run {{run_id}}", "tagKeys": "run_id",
         "expr": f"changes({N.TUNER_APPLIED.name}{{{RUN}}}[1m]) > 0"},
        {"name": "Tuner guards and reverts", "datasource": DATASOURCE, "enable": True,
         "iconColor": "orange", "step": "15s", "titleFormat": "tuner guard",
         "textFormat": "{{guard}}", "tagKeys": "guard",
         "expr": f"(sum by (guard) (changes({N.TUNER_GUARDS.name}{{{RUN}}}[1m])) > 0) or "
                 f"label_replace(changes({N.TUNER_REVERTS.name}{{{RUN}}}[1m]) > 0, "
                 '"guard", "panic_revert", "", "")'},
    ]
    return {
        "uid": UID, "title": "soakkit: live soak", "editable": False, "schemaVersion": 39,
        "version": 1, "tags": ["soakkit"], "timezone": "utc", "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "description": "Generated by scripts/build_metrics_assets.py from "
                       "soakkit.metrics.names; see docs/METRICS.md.",
        "annotations": {"list": annotations},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Prometheus", "current": {}, "hide": 0},
            {"name": "run_id", "type": "query", "label": "run", "datasource": DATASOURCE,
             "query": {"query": f"label_values({N.SOAK_STATUS.name}, run_id)",
                       "refId": "run_id"},
             "definition": f"label_values({N.SOAK_STATUS.name}, run_id)", "refresh": 2,
             "includeAll": True, "allValue": ".*", "multi": True, "sort": 2,
             "current": {"text": "All", "value": "$__all"}},
        ]},
        "panels": lay.panels,
    }


def docs_text() -> str:
    text = DOCS.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{N.metrics_markdown()}{END}{tail}"


def outputs() -> dict[Path, str]:
    return {DOCS: docs_text(),
            DASHBOARD: json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a generated file differs; write nothing")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(REPO)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
