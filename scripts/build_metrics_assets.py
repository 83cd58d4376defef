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

from soakkit.config.params import PARAMS
from soakkit.core.io import atomic_write_text
from soakkit.kpi import KPIS
from soakkit.metrics import names as N

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "METRICS.md"
DASHBOARD = REPO / "examples" / "grafana" / "soakkit.json"
BEGIN, END = "<!-- metrics:begin (scripts/build_metrics_assets.py) -->", "<!-- metrics:end -->"

UID = "soakkit-soak"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUN = 'run_id=~"$run_id"'
#: Grafana unit of each soakkit unit. KPI and parameter panels are titled with soakkit's
#: names (``net_bps``, ``pnl_per_hour_usd``), so their queries convert the exported base unit
#: back (:func:`in_soakkit_units`) and the axis says the unit of the title. Grafana has no
#: basis point (its ``bps`` is bits per second): a custom suffix says it.
GRAFANA_UNITS = {"ms": "ms", "bps": "suffix: bps", "ratio": "none", "1/min": "suffix: /min",
                 "USD": "currencyUSD", "USD/h": "currencyUSD"}
#: Each verdict and rotation status as the number a stat panel shows, and its colour.
VERDICT_CODES = dict(zip(N.VERDICTS, zip(range(3), ("green", "orange", "red"), strict=True),
                         strict=True))
STATUS_CODES = dict(zip(N.ROTATION_STATUSES, zip(range(3), ("green", "orange", "red"),
                                                   strict=True), strict=True))


def in_soakkit_units(expr: str, unit: str) -> str:
    """``expr`` (in the exported base unit) converted to soakkit's ``unit``."""
    factor = 1.0 / N.base_unit(unit).scale
    return expr if factor == 1.0 else f"{expr} * {round(factor, 9):g}"


def one_hot_code(metric: str, label: str, selector: str,
                 codes: dict[str, tuple[int, str]], by: str = "") -> str:
    """A one-hot state gauge (1 for the current ``label`` value) as that value's code (one
    series per ``by`` label value)."""
    sep = "," if selector else ""
    parts = [f'({metric}{{{selector}{sep}{label}="{value}"}} == 1) * 0 + {code}'
             for value, (code, _) in codes.items()]
    return f"max{f' by ({by})' if by else ''}(" + " or ".join(parts) + ")"


def value_mappings(codes: dict[str, tuple[int, str]]) -> list[dict[str, Any]]:
    """Grafana value mappings: each code shown as its name, in its colour."""
    return [{"type": "value", "options": {str(code): {"text": name, "color": colour,
                                                       "index": code}
                                          for name, (code, colour) in codes.items()}}]


def code_thresholds(codes: dict[str, tuple[int, str]]) -> list[tuple[float | None, str]]:
    ordered = sorted(codes.values())
    return [(None if i == 0 else code, colour) for i, (code, colour) in enumerate(ordered)]


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
         thresholds: list[tuple[float | None, str]] | None = None,
         mappings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
    defaults: dict[str, Any] = {"unit": unit, "thresholds": {"mode": "absolute",
                                                             "steps": steps}}
    if mappings:
        defaults["mappings"] = mappings
    return {"type": "stat", "title": title, "description": description,
            "targets": [target(expr, legend)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
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
    lay.add(stat("Last verdict", one_hot_code(N.SOAK_VERDICT.name, "verdict", RUN,
                                              VERDICT_CODES, "run_id"), "none", "{{run_id}}",
                 "Verdict of each run's last iteration (the gate's PASS, WARN or FAIL).",
                 code_thresholds(VERDICT_CODES), value_mappings(VERDICT_CODES)), 4, 4)
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
    lay.add(stat("Last rotation status", one_hot_code(N.ROT_STATUS.name, "status", "",
                                                      STATUS_CODES), "none", "status",
                 "ok, over_budget or error.", code_thresholds(STATUS_CODES),
                 value_mappings(STATUS_CODES)), 4, 4)
    lay.row("KPIs against their gate thresholds")
    for kpi in N.GATED_KPIS:
        value, limit, unit = N.KPI_VALUES[kpi], N.KPI_THRESHOLDS[kpi], KPIS[kpi].unit
        lay.add(series(kpi, [
            target(in_soakkit_units(f"{value.name}{{{RUN}}}", unit), "{{run_id}}"),
            target(in_soakkit_units(f"{limit.name}{{{RUN}}}", unit), "limit {{op}} ({{phase}})",
                   "B")], GRAFANA_UNITS[unit], f"{value.help} Shown in {unit}.",
            dashed=("B",)), 12, 8)
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
        value, unit = N.PARAM_VALUES[param], PARAMS[param].unit
        lay.add(series(param, [
            target(in_soakkit_units(f"{value.name}{{{RUN}}}", unit), "{{run_id}}"),
            target(in_soakkit_units(N.PARAM_LOWER[param].name, unit), "lower bound", "B"),
            target(in_soakkit_units(N.PARAM_UPPER[param].name, unit), "upper bound", "C")],
            GRAFANA_UNITS[unit], f"{value.help} Shown in {unit}.", dashed=("B", "C")), 8, 7)
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
    # the Prometheus query of an annotation is its target (where Grafana's Prometheus data
    # source keeps it; the dashboard schema has no top-level expr)
    annotations = [
        {"name": "Tuner applied", "datasource": DATASOURCE, "enable": True,
         "iconColor": "blue", "target": {
             "refId": "Anno", "step": "15s", "titleFormat": "tuner applied",
             "textFormat": "run {{run_id}}", "tagKeys": "run_id",
             "expr": f"changes({N.TUNER_APPLIED.name}{{{RUN}}}[1m]) > 0"}},
        {"name": "Tuner guards and reverts", "datasource": DATASOURCE, "enable": True,
         "iconColor": "orange", "target": {
             "refId": "Anno", "step": "15s", "titleFormat": "tuner guard",
             "textFormat": "{{guard}}", "tagKeys": "guard",
             "expr": f"(sum by (guard) (changes({N.TUNER_GUARDS.name}{{{RUN}}}[1m])) > 0) or "
                     f"label_replace(changes({N.TUNER_REVERTS.name}{{{RUN}}}[1m]) > 0, "
                     '"guard", "panic_revert", "", "")'}},
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
             "label": "Prometheus", "current": {"text": "Prometheus", "value": "prometheus"},
             "hide": 0},
            {"name": "run_id", "type": "query", "label": "run", "datasource": DATASOURCE,
             "query": {"query": f"label_values({N.SOAK_STATUS.name}, run_id)",
                       "refId": "run_id"}, "refresh": 2,
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
