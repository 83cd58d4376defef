"""Data of the KPI report: one run (or the latest), a window, a gate, an optional baseline.

Everything comes from the run catalog (so rotated runs report every iteration) and the
run's ``RUN.json``; every verdict is recomputed with :mod:`soakkit.gate` for the gate the
report asks for. The notebook ``kpi_report.ipynb`` only displays what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.layout import RUN_FILE, list_runs, read_json_maybe_gz, resolve_run_dir
from soakkit.artifacts.runid import run_facts
from soakkit.catalog.entry import load_catalog
from soakkit.catalog.folders import LEGACY_RUN_ID
from soakkit.config.params import PARAMS, TUNABLE
from soakkit.core.errors import ArtifactError, SoakkitError, UsageError
from soakkit.core.tables import table_html
from soakkit.gate import (
    GATES,
    RunVerdict,
    Verdict,
    check_gate_name,
    judge_iteration,
    judge_run,
)
from soakkit.kpi import KPIS
from soakkit.report.money import MONEY_KPIS, dollar_warnings, gate_table, money_table

__all__ = ["GATED_KPIS", "NO_BASELINE", "KpiReport", "load_kpi_report"]

#: The ``baseline`` that asks for no comparison (None means the run's own, if it links one).
NO_BASELINE = "none"
#: KPIs shown as trends (the ones the gates judge), in panel order.
GATED_KPIS = ("net_bps", "risk_ratio", "maker_taker_ratio", "p95_latency_ms")
#: KPIs of the headline record and the baseline comparison: net_bps beside the dollars.
_SUMMARY_KPIS = ("net_bps", *MONEY_KPIS, "gross_bps", "adverse_bps", "inventory_bps",
                 "risk_ratio", "maker_taker_ratio", "p95_latency_ms", "adverse_bps_p95",
                 "cancel_ratio", "order_age_p95_ms")


@dataclass(frozen=True)
class KpiReport:
    """Tables and verdict of a KPI report."""

    run_id: str
    gate: str
    header: pl.DataFrame
    provenance: pl.DataFrame
    iterations: pl.DataFrame
    verdicts: tuple[Verdict, ...]
    verdict: RunVerdict
    tuning: pl.DataFrame
    comparison: pl.DataFrame | None  #: means over the window beside the baseline's
    baseline: str | None  #: the baseline compared with (its run id), if any
    problems: tuple[str, ...]
    money: pl.DataFrame  #: dollars and activity per iteration, beside net_bps
    gate_table: pl.DataFrame  #: the gate's thresholds (floors included) against the run
    warnings: tuple[str, ...] = ()  #: the comparison's "net_bps up, dollars down" lines
    #: which baseline the comparison uses and where it came from, or why there is none
    baseline_note: str = ""

    def kpi_table(self) -> pl.DataFrame:
        """The gated KPIs, the dollars beside them and the gate's verdict per iteration."""
        return self.iterations.select("iteration", "regime", *GATED_KPIS, "pnl_usd",
                                      "volume_usd", "volume_vs_reference", "risk_adjusted_pnl",
                                      "gate_verdict")

    def _repr_html_(self) -> str:
        """Jupyter: run header, verdict and KPIs per iteration in the reports' table style."""
        import html

        verdict = html.escape(f"{self.verdict.verdict} under the {self.gate} gate: "
                              + "; ".join(self.verdict.reasons))
        return (table_html(self.header, caption=f"KPI report of {self.run_id}")
                + f"<p><b>{verdict}</b></p>"
                + table_html(self.kpi_table(), caption="KPIs per iteration"))

    def record(self) -> dict[str, Any]:
        """The headline numbers written to ``kpis.json``."""
        means = {k: _mean(self.iterations, k) for k in _SUMMARY_KPIS}
        last = self.iterations.tail(1).to_dicts()[0] if self.iterations.height else {}
        return {"run_id": self.run_id, "gate": self.gate, "verdict": self.verdict.verdict,
                "reasons": list(self.verdict.reasons),
                "iterations": self.iterations["iteration"].to_list(),
                "mean": means, "last": {k: _round(last.get(k)) for k in _SUMMARY_KPIS},
                "baseline": self.baseline, "problems": list(self.problems),
                "warnings": list(self.warnings)}


def _mean(frame: pl.DataFrame, column: str) -> float | None:
    if frame.height == 0 or frame[column].null_count() == frame.height:
        return None
    value = frame[column].mean()
    return round(float(value), 6) if isinstance(value, int | float) else None


def _round(value: object) -> object:
    """Six decimals: records stay comparable across machines (nbval goldens)."""
    return round(value, 6) if isinstance(value, float) else value


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _run_frame(catalog: pl.DataFrame, run_id: str, last_n: int) -> pl.DataFrame:
    frame = catalog.filter(pl.col("run_id") == run_id).sort("iteration")
    if frame.height == 0:
        raise ArtifactError(f"run {run_id}: no readable iterations")
    return frame.tail(last_n) if last_n > 0 else frame


def _options(meta: dict[str, Any]) -> dict[str, Any]:
    options = meta.get("options")
    return options if isinstance(options, dict) else {}


def _header(run_id: str, meta: dict[str, Any], frame: pl.DataFrame,
            verdict: RunVerdict, baseline: str | None) -> pl.DataFrame:
    options = _options(meta)
    profile = meta.get("profile", {}) if isinstance(meta.get("profile"), dict) else {}
    facts = run_facts(options)
    tuner = {True: "on (live-apply between iterations)", False: "off",
             None: "not recorded"}[facts["tune"]]
    rows = [
        ("run id", run_id),
        ("profile", f"{profile.get('name', '?')} (sha256 {str(profile.get('sha256', '?'))[:12]})"),
        ("tuner", tuner),
        ("strategy", str(facts["strategy"] or "not recorded")),
        ("market", str(facts["market"] or "not recorded")),
        ("mode", str(options.get("mode", frame["mode"].drop_nulls().head(1).to_list() or "?"))),
        ("seed", str(options.get("seed", "?"))),
        ("baseline", baseline or "none"),
        ("run gate", str(options.get("gate", "?"))),
        ("status", str(meta.get("status", "legacy layout"))),
        ("iterations", f"{_as_int(frame['iteration'].min())}-"
                       f"{_as_int(frame['iteration'].max())} ({frame.height} shown)"),
        ("started", str(meta.get("started_utc", "?"))),
        ("verdict", verdict.verdict),
    ]
    return pl.DataFrame(rows, schema=["field", "value"], orient="row")


def _provenance(meta: dict[str, Any]) -> pl.DataFrame:
    params = meta.get("config", {}).get("params", {}) if isinstance(meta.get("config"),
                                                                    dict) else {}
    rows = []
    # the run's parameters (its strategy's), in the registry's order, then declared ones
    names = [n for n in PARAMS if n in params] + [n for n in params if n not in PARAMS]
    for name in names or list(PARAMS):
        entry = params.get(name, {})
        if not isinstance(entry, dict):
            entry = {}
        origin = entry.get("origin", {}) if isinstance(entry.get("origin"), dict) else {}
        shadowed = ", ".join(f"{s['origin']['source']}={s['value']}"
                             for s in reversed(entry.get("shadowed", [])))
        unit = PARAMS[name].unit if name in PARAMS else str(entry.get("unit", ""))
        rows.append((name, str(entry.get("value", "")), unit,
                     str(origin.get("source", "")), shadowed))
    return pl.DataFrame(rows, schema=["parameter", "value", "unit", "origin", "shadows"],
                        orient="row")


def _tuning(frame: pl.DataFrame) -> pl.DataFrame:
    deltas = [pl.col(f"delta_{k}").alias(k) for k in TUNABLE]
    guards = [c for c in frame.columns if c.startswith("guard_")]
    events = frame.select(
        "iteration",
        pl.col("rules_fired").list.join(", ").alias("rules"),
        *deltas,
        pl.concat_str([pl.when(pl.col(g) > 0).then(pl.lit(g.removeprefix("guard_") + " "))
                       .otherwise(pl.lit("")) for g in guards]).str.strip_chars().alias(
            "guards"),
        pl.col("skip_reason"),
    )
    active = [k for k in TUNABLE if events[k].null_count() < events.height]
    return events.select("iteration", "rules", *active, "guards", "skip_reason")


def _comparison(frame: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for k in _SUMMARY_KPIS:
        a, b = _mean(frame, k), _mean(other, k)
        diff = None if a is None or b is None else round(a - b, 6)
        better = KPIS[k].better
        verdict = "" if diff is None or better == "n/a" else (
            "better" if (diff > 0) == (better == "higher") and diff != 0 else
            ("same" if diff == 0 else "worse"))
        rows.append((k, a, b, diff, verdict))
    return pl.DataFrame(rows, schema={"kpi": pl.String, "run": pl.Float64,
                                      "baseline": pl.Float64, "difference": pl.Float64,
                                      "": pl.String}, orient="row")


def _pick_baseline(artifacts: Path, meta: dict[str, Any], asked: str | None
                   ) -> tuple[str | None, str]:
    """The baseline to compare with (its run id, or None) and a sentence saying why.

    ``asked``: a run id, ``legacy-latest``, :data:`NO_BASELINE`, or None for the one the run
    links (``RUN.json`` ``baseline``, written by ``soakkit soak --baseline`` and the demo).
    """
    if asked == NO_BASELINE:
        return None, "no comparison (parameter `baseline` is \"none\")"
    if asked is not None:
        base_id = asked if asked == LEGACY_RUN_ID else resolve_run_dir(artifacts, asked).name
        return base_id, f"baseline {base_id} (parameter `baseline`)"
    linked = meta.get("baseline")
    if not isinstance(linked, str):
        return None, ("no baseline: the run links none and none was asked for (parameter "
                      "`baseline`: a run id)")
    try:
        return resolve_run_dir(artifacts, linked).name, \
            f"baseline {linked}, linked to the run when it started"
    except SoakkitError:
        return None, f"no comparison: the run's baseline {linked} is no longer there"


def load_kpi_report(artifacts: Path | str | None = None, run: str = "latest", *,
                    last_n: int = 0, gate: str = "production",
                    baseline: str | None = None) -> KpiReport:
    """Assemble the KPI report of ``run`` (a run id, ``latest`` or ``legacy-latest``).

    ``artifacts`` defaults to :func:`soakkit.artifacts.layout.resolve_artifacts`, which the
    catalog does once; everything else reads the folder the catalog was loaded from.
    ``baseline`` is the run to compare with: a run id, ``"none"`` (:data:`NO_BASELINE`), or
    None for the baseline the run links in its ``RUN.json`` (``soakkit demo`` and
    ``soakkit soak --baseline`` link one); :attr:`KpiReport.baseline_note` says which.

    Raises
    ------
    ArtifactError
        No runs, an unknown run id, or a run without readable iterations.
    UsageError
        An unknown gate or a negative window.
    """
    check_gate_name(gate, "gate")
    if last_n < 0:
        raise UsageError(f"last_n {last_n}: expected 0 (all) or a positive window")
    catalog = load_catalog(artifacts)
    meta: dict[str, Any]
    root = catalog.root
    if run == LEGACY_RUN_ID:
        run_id, meta = LEGACY_RUN_ID, {}
    else:
        if not list_runs(root) and catalog.frame.height == 0:
            raise ArtifactError(f"no runs under {root}: run `soakkit soak` first")
        run_dir = resolve_run_dir(root, run)
        run_id = run_dir.name
        try:
            doc = read_json_maybe_gz(run_dir / RUN_FILE)
        except SoakkitError as exc:
            raise ArtifactError(f"run {run_id}: {exc}") from None
        meta = doc if isinstance(doc, dict) else {}
    frame = _run_frame(catalog.frame, run_id, last_n)
    verdicts = tuple(judge_iteration(row, gate, int(row["iteration"]))
                     for row in frame.iter_rows(named=True))
    frame = frame.with_columns(pl.Series("gate_verdict", [v.verdict for v in verdicts]))
    verdict = judge_run(list(zip(frame["iteration"].to_list(), verdicts, strict=True)))
    comparison = None
    warnings: tuple[str, ...] = ()
    base_id, note = _pick_baseline(root, meta, baseline)
    if base_id is not None:
        comparison = _comparison(frame, _run_frame(catalog.frame, base_id, last_n))
        warnings = dollar_warnings(dict(zip(comparison["kpi"].to_list(),
                                            comparison["difference"].to_list(), strict=True)),
                                   base_id)
    return KpiReport(run_id, gate, _header(run_id, meta, frame, verdict, base_id),
                     _provenance(meta), frame, verdicts, verdict, _tuning(frame), comparison,
                     base_id, catalog.problems, money_table(frame), gate_table(frame, gate),
                     warnings, note)


def thresholds(gate: str) -> dict[str, tuple[str, float, float]]:
    """KPI → (op, limit, warn margin) of a gate (for drawing bands)."""
    return {t.kpi: (t.op, t.value, t.warn_margin) for t in GATES[gate].thresholds}
