"""The one definition of every Prometheus metric soakkit exports: name, type, HELP, unit, labels.

Conventions (prometheus.io "naming" and the node_exporter textfile collector):

* one application prefix, ``soakkit_``, then the file's subsystem (``soak``, ``rotation``,
  ``catalog``);
* base units as the last word (``_seconds``, ``_bytes``, ``_ratio`` for 0–1 style ratios):
  soakkit's ``ms`` are exported as seconds and its ``bps`` as ratios (1 bp = 0.0001);
* counters end in ``_total``; timestamps are ``_timestamp_seconds`` (epoch, from the
  writer's injected clock);
* bounded labels only: ``profile``, ``mode``, ``gate`` and ``run_id`` (the active run of a
  soak file, one per file) plus small fixed sets (``verdict``, ``status``, ``guard``,
  ``action``, ``op``, ``phase``).

KPI and parameter metrics are derived from :data:`soakkit.kpi.KPIS`,
:data:`soakkit.gate.GATES` and :data:`soakkit.config.params.PARAMS`; ``docs/METRICS.md``
is generated from :data:`METRICS` (``scripts/build_metrics_assets.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from soakkit.config.params import PARAMS, TUNABLE
from soakkit.gate import GATES
from soakkit.kpi import KPIS
from soakkit.rotation.plan import PHASES
from soakkit.tuning.guards import SUMMARY_COUNTERS

__all__ = [
    "ACTION_KINDS",
    "CATALOG_FILE",
    "FILES",
    "GATED_KPIS",
    "GUARD_COUNTERS",
    "KPI_THRESHOLDS",
    "KPI_VALUES",
    "METRICS",
    "PARAM_LOWER",
    "PARAM_UPPER",
    "PARAM_VALUES",
    "REVERT_COUNTER",
    "ROTATION_FILE",
    "RUN_LABELS",
    "SOAK_FILE",
    "STATUSES",
    "VERDICTS",
    "BaseUnit",
    "Metric",
    "base_unit",
    "kpi_scale",
    "metrics_markdown",
    "param_bounds",
    "param_scale",
]

SOAK_FILE = "soakkit_soak.prom"
ROTATION_FILE = "soakkit_rotation.prom"
CATALOG_FILE = "soakkit_catalog.prom"
#: Textfile name → what writes it.
FILES: Mapping[str, str] = {
    SOAK_FILE: "`soakkit soak --metrics-dir DIR`, after every iteration",
    ROTATION_FILE: "`soakkit rotate --metrics-dir DIR`, after every rotation",
    CATALOG_FILE: "`soakkit metrics --artifacts A --out DIR`",
}

#: Labels of every series describing the active soak run.
RUN_LABELS: tuple[str, ...] = ("run_id", "profile", "mode", "gate")
VERDICTS: tuple[str, ...] = ("PASS", "WARN", "FAIL")
#: A soak run's status (``RUN.json`` ``status``).
STATUSES: tuple[str, ...] = ("running", "finished", "interrupted")
#: A rotation's status (its log record's ``status``).
ROTATION_STATUSES: tuple[str, ...] = ("ok", "over_budget", "error")
#: The TUNING_REPORT summary counter that counts panic reverts (exported on its own).
REVERT_COUNTER = "panic_reverts"
#: ``guard`` label values: the TUNING_REPORT summary counters other than reverts.
GUARD_COUNTERS: tuple[str, ...] = tuple(c for c in SUMMARY_COUNTERS if c != REVERT_COUNTER)
#: ``action`` label values: rotation phases that change files.
ACTION_KINDS: tuple[str, ...] = tuple(p for p in PHASES if p not in ("skip", "keep"))

Kind = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Metric:
    """One metric family: the same name, type and HELP in every file that carries it."""

    name: str
    kind: Kind
    help: str
    unit: str  #: base unit ("seconds", "bytes", "ratio", ...) or "" for a plain count/state
    labels: tuple[str, ...]
    file: str


@dataclass(frozen=True)
class BaseUnit:
    """How a soakkit unit is exported: the name suffix and the factor to apply."""

    suffix: str
    scale: float
    token: str  #: the unit word(s) in soakkit's own names, removed from the metric name


#: soakkit unit → Prometheus base unit.
UNITS: Mapping[str, BaseUnit] = {
    "ms": BaseUnit("seconds", 1e-3, "ms"),
    "bps": BaseUnit("ratio", 1e-4, "bps"),
    "ratio": BaseUnit("ratio", 1.0, "ratio"),
    "1/min": BaseUnit("per_second", 1.0 / 60.0, "per_min"),
    "USD": BaseUnit("usd", 1.0, ""),
    "USD/h": BaseUnit("usd_per_second", 1.0 / 3600.0, "per_hour_usd"),
}


def base_unit(unit: str) -> BaseUnit:
    """The export rule of a soakkit unit (``KeyError`` for a unit with no rule)."""
    return UNITS[unit]


def kpi_scale(kpi: str) -> float:
    """Factor from KPI ``kpi``'s soakkit unit to its exported base unit."""
    return base_unit(KPIS[kpi].unit).scale


def param_scale(param: str) -> float:
    """Factor from parameter ``param``'s soakkit unit to its exported base unit."""
    return base_unit(PARAMS[param].unit).scale


def param_bounds(param: str) -> tuple[float, float]:
    """The hard bounds of ``param`` in its exported base unit."""
    spec = PARAMS[param]
    return float(spec.lo) * param_scale(param), float(spec.hi) * param_scale(param)


def _stem(name: str, unit: BaseUnit) -> str:
    return re.sub(rf"_{unit.token}(?=_|$)", "", name) if unit.token else name


def _converted(unit: str) -> str:
    rule = base_unit(unit)
    if rule.scale == 1.0:
        return ""
    return f", in {rule.suffix.replace('_', ' ')} (soakkit's {unit} x {rule.scale:.6g})"


_ALL: list[Metric] = []


def _m(name: str, kind: Kind, unit: str, labels: tuple[str, ...], file: str,
       help_text: str) -> Metric:
    metric = Metric(name, kind, help_text, unit, labels, file)
    _ALL.append(metric)
    return metric


# --- soakkit_soak.prom ------------------------------------------------------------------
_R = RUN_LABELS
SOAK_STATUS = _m("soakkit_soak_status", "gauge", "", (*_R, "status"), SOAK_FILE,
                 "1 for the run's current status (running, finished, interrupted), else 0.")
SOAK_START = _m("soakkit_soak_start_timestamp_seconds", "gauge", "seconds", _R, SOAK_FILE,
                "When the run started (epoch seconds, the run's clock).")
SOAK_COMPLETED = _m("soakkit_soak_completed_iterations", "gauge", "", _R, SOAK_FILE,
                    "Iterations completed so far.")
SOAK_PLANNED = _m("soakkit_soak_planned_iterations", "gauge", "", _R, SOAK_FILE,
                  "Iterations the run will do (--iterations).")
SOAK_PROGRESS = _m("soakkit_soak_progress_ratio", "gauge", "ratio", _R, SOAK_FILE,
                   "Completed / planned iterations (0-1).")
SOAK_LAST_END = _m("soakkit_soak_last_iteration_end_timestamp_seconds", "gauge", "seconds",
                   _R, SOAK_FILE, "When the last completed iteration ended (epoch seconds).")
SOAK_LAST_SUCCESS = _m("soakkit_soak_last_success_timestamp_seconds", "gauge", "seconds", _R,
                       SOAK_FILE, "When the last iteration that passed the gate (PASS or WARN) "
                                  "ended (epoch seconds).")
SOAK_VERDICT = _m("soakkit_soak_verdict", "gauge", "", (*_R, "verdict"), SOAK_FILE,
                  "1 for the last iteration's verdict (PASS, WARN, FAIL), else 0.")
SOAK_ITERATIONS = _m("soakkit_soak_iterations_total", "counter", "", (*_R, "verdict"),
                     SOAK_FILE, "Iterations completed in this run, by verdict.")
SOAK_FAIL_STREAK = _m("soakkit_soak_fail_streak_iterations", "gauge", "", _R, SOAK_FILE,
                      "Consecutive FAIL iterations ending with the last one (0 after a "
                      "PASS or WARN).")
TUNER_APPLIED = _m("soakkit_soak_tuner_applications_total", "counter", "", _R, SOAK_FILE,
                   "Iterations whose tuner decision changed the live parameters.")
TUNER_REVERTS = _m("soakkit_soak_tuner_reverts_total", "counter", "", _R, SOAK_FILE,
                   "Panic reverts to the baseline parameters.")
TUNER_GUARDS = _m("soakkit_soak_tuner_guard_activations_total", "counter", "", (*_R, "guard"),
                  SOAK_FILE, "Iterations in which a tuner guard acted, by guard "
                             "(TUNING_REPORT.json summary counters).")

#: Every KPI some gate judges, in KPIS order.
GATED_KPIS: tuple[str, ...] = tuple(
    k for k in KPIS if any(t.kpi == k for g in GATES.values() for t in g.thresholds))


def _derived(kind: str, name: str, unit: str, word: str, labels: tuple[str, ...],
             help_text: str) -> Metric:
    """``soakkit_soak_<kind>_<name without its unit>[_<word>]_<base unit>`` (a soak gauge)."""
    rule = base_unit(unit)
    middle = f"_{word}" if word else ""
    return _m(f"soakkit_soak_{kind}_{_stem(name, rule)}{middle}_{rule.suffix}", "gauge",
              rule.suffix, labels, SOAK_FILE, help_text)


KPI_VALUES: Mapping[str, Metric] = {
    k: _derived("kpi", k, KPIS[k].unit, "", _R, f"KPI {k} of the last iteration"
                f"{_converted(KPIS[k].unit)}: {KPIS[k].definition}.")
    for k in GATED_KPIS}
KPI_THRESHOLDS: Mapping[str, Metric] = {
    k: _derived("kpi", k, KPIS[k].unit, "threshold", (*_R, "phase", "op"),
                f"Gate threshold on {k} that judged the last iteration"
                f"{_converted(KPIS[k].unit)}: the KPI must be `op` this value (phase warmup "
                "or steady).")
    for k in GATED_KPIS}
PARAM_VALUES: Mapping[str, Metric] = {
    p: _derived("param", p, PARAMS[p].unit, "", _R, f"Live value of parameter {p} after the "
                f"last iteration{_converted(PARAMS[p].unit)}.")
    for p in TUNABLE}
PARAM_LOWER: Mapping[str, Metric] = {
    p: _derived("param", p, PARAMS[p].unit, "lower_bound", (),
                f"Hard lower bound of parameter {p}{_converted(PARAMS[p].unit)}.")
    for p in TUNABLE}
PARAM_UPPER: Mapping[str, Metric] = {
    p: _derived("param", p, PARAMS[p].unit, "upper_bound", (),
                f"Hard upper bound of parameter {p}{_converted(PARAMS[p].unit)}.")
    for p in TUNABLE}

# --- soakkit_rotation.prom --------------------------------------------------------------
_RF = ROTATION_FILE
ROT_BEFORE_ALLOCATED = _m("soakkit_rotation_before_allocated_bytes", "gauge", "bytes", (), _RF,
                          "Allocated bytes (disk blocks) under the artifacts folder before "
                          "the last rotation.")
ROT_BEFORE_APPARENT = _m("soakkit_rotation_before_apparent_bytes", "gauge", "bytes", (), _RF,
                         "Apparent bytes (file sizes) before the last rotation.")
ROT_AFTER_ALLOCATED = _m("soakkit_rotation_after_allocated_bytes", "gauge", "bytes", (), _RF,
                         "Allocated bytes after the last rotation (what the budget limits).")
ROT_AFTER_APPARENT = _m("soakkit_rotation_after_apparent_bytes", "gauge", "bytes", (), _RF,
                        "Apparent bytes after the last rotation.")
ROT_AFTER_FILES = _m("soakkit_rotation_after_files", "gauge", "", (), _RF,
                     "Files under the artifacts folder after the last rotation.")
ROT_BUDGET = _m("soakkit_rotation_budget_bytes", "gauge", "bytes", (), _RF,
                "Disk budget (--max-size-mb) in allocated bytes; absent without a budget.")
ROT_ACTIONS = _m("soakkit_rotation_actions_total", "counter", "", ("action",), _RF,
                 "Rotation actions carried out, by kind (recover, history, delete, compress, "
                 "budget), summed over the rotations exported to this folder.")
ROT_ERRORS = _m("soakkit_rotation_errors_total", "counter", "", (), _RF,
                "Rotation errors (scan and action errors, a rotation that could not run), "
                "summed over the rotations exported to this folder.")
ROT_STATUS = _m("soakkit_rotation_status", "gauge", "", ("status",), _RF,
                "1 for the last rotation's status (ok, over_budget, error), else 0.")
ROT_DURATION = _m("soakkit_rotation_duration_seconds", "gauge", "seconds", (), _RF,
                  "How long the last rotation took (scan, plan, actions, rescan).")
ROT_LAST_RUN = _m("soakkit_rotation_last_run_timestamp_seconds", "gauge", "seconds", (), _RF,
                  "When the last rotation ran (its --now; epoch seconds).")
ROT_LAST_SUCCESS = _m("soakkit_rotation_last_success_timestamp_seconds", "gauge", "seconds", (),
                      _RF, "When the last rotation without errors ran (epoch seconds); over "
                           "budget still counts as a success.")

# --- soakkit_catalog.prom ---------------------------------------------------------------
_CF = CATALOG_FILE
CAT_RUNS = _m("soakkit_catalog_runs", "gauge", "", ("profile", "mode"), _CF,
              "Runs in the catalog, by profile and mode.")
CAT_ITERATIONS = _m("soakkit_catalog_iterations", "gauge", "", ("profile", "mode", "verdict"),
                    _CF, "Iterations in the catalog, by profile, mode and verdict.")
CAT_PROBLEMS = _m("soakkit_catalog_problems", "gauge", "", (), _CF,
                  "Files the catalog skipped as corrupt or unreadable.")
CAT_LAST_SUCCESS = _m("soakkit_catalog_last_success_timestamp_seconds", "gauge", "seconds", (),
                      _CF, "When `soakkit metrics` last exported the catalog (epoch seconds).")

#: Every metric soakkit exports, in file order.
METRICS: tuple[Metric, ...] = tuple(_ALL)


def metrics_markdown() -> str:
    """The metric reference of ``docs/METRICS.md`` (one table per file)."""
    out: list[str] = []
    for file, writer in FILES.items():
        out += [f"### `{file}`", "", f"Written by {writer}.", "",
                "| Metric | Type | Unit | Labels | Meaning |", "|---|---|---|---|---|"]
        for m in METRICS:
            if m.file == file:
                labels = ", ".join(f"`{x}`" for x in m.labels) or "—"
                meaning = m.help.replace("|", "\\|")
                out.append(f"| `{m.name}` | {m.kind} | {m.unit or '—'} | {labels} | "
                           f"{meaning} |")
        out.append("")
    return "\n".join(out)
