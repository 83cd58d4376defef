"""Data of the optimisation report: what the search tried, what it recommends, and how far
the evidence supports it.

:func:`load_optimize_report` reads a study (``soakkit optimize``): its trials from Optuna's
journal, the result (``result.json``: the winner, the out-of-sample comparisons, the
deflated Sharpe ratio and PBO), and recomputes PBO's logits from the stored per-iteration
rows for the figure. The notebook ``optimize_report.ipynb`` shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.layout import resolve_artifacts
from soakkit.config.params import PARAMS
from soakkit.core.errors import ArtifactError
from soakkit.evidence.overfit import DSR_PASS, PBO_PASS
from soakkit.evidence.stats import pareto_front
from soakkit.optimize.conclude import SUPPORTED
from soakkit.optimize.evaluate import POOLED
from soakkit.optimize.overfitting import Overfitting, feasible, measure_overfitting
from soakkit.optimize.search import open_study
from soakkit.optimize.store import StudyStore, resolve_study_dir

__all__ = ["OptimizeReport", "load_optimize_report", "no_study_note"]

_TRIAL_KPIS = ("pass_rate", "pnl_usd", "risk_ratio", "inventory_p95_usd", "volume_usd",
               "net_bps", "sharpe")


@dataclass(frozen=True)
class OptimizeReport:
    """Tables and figure data of one study."""

    study: str
    verdict: str
    reasons: tuple[str, ...]
    header: pl.DataFrame
    trials: pl.DataFrame  #: every told trial: objective, feasibility, best so far, KPIs
    winner: pl.DataFrame  #: each searched parameter: bounds, profile's value, winner's
    importances: pl.DataFrame  #: parameter, importance (PED-ANOVA); empty when not computable
    points: pl.DataFrame  #: feasible trials: risk, P&L, Pareto flag, winner flag
    in_vs_out: pl.DataFrame  #: the best trials in sample and out of sample
    comparisons: pl.DataFrame  #: the winner against every shipped profile and the tuner
    overfitting: Overfitting | None
    notes: tuple[str, ...]

    @property
    def supported(self) -> bool:
        return self.verdict == SUPPORTED

    def conclusion(self) -> str:
        """One plain sentence: recommend, or say the evidence does not support it."""
        if self.supported:
            return (f"Recommendation supported: DSR >= {DSR_PASS} and PBO <= {PBO_PASS}; "
                    f"the profile {self.study} holds it.")
        why = "; ".join(self.reasons) or self.verdict
        return f"The evidence does not support a recommendation ({self.verdict}): {why}."

    def record(self) -> dict[str, Any]:
        """Headline findings for ``kpis.json`` (rounded: comparable across machines)."""
        o = self.overfitting

        def r(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, 4)

        beats = self.comparisons.filter(~pl.col("market").is_in(POOLED)
                                        & ~pl.col("reference").str.contains("tuner")) \
            if self.comparisons.height else self.comparisons  # no winner: nothing compared
        return {"study": self.study, "verdict": self.verdict,
                "trials": self.trials.height,
                "feasible": int(self.trials["feasible"].sum()) if self.trials.height else 0,
                "dsr": r(o.dsr) if o else None, "pbo": r(o.pbo.pbo) if o else None,
                "beats_cells": int(beats["beats"].sum()) if beats.height else 0,
                "cells": beats.height}


def no_study_note(artifacts: Path | str | None, study: str) -> str | None:
    """A sentence when there is no such study yet (the notebook then shows nothing else)."""
    try:
        root = resolve_artifacts(artifacts)
        resolve_study_dir(root, study)
    except ArtifactError:
        return (f"No study {study!r} yet, so nothing to report: run one first, for example "
                "`soakkit optimize --modes calm,volatile --seeds 1-8 --eval-seeds 101-108 "
                "--trials 40 --name first`, then this report with -p study first.")
    return None


def _trials(study: Any) -> pl.DataFrame:
    from optuna.trial import TrialState

    rows = []
    best = -math.inf
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        score = t.user_attrs.get("score") or {}
        ok = t.state == TrialState.COMPLETE and feasible(t)
        value = float(t.value) if t.value is not None else math.nan
        if ok and value > best:
            best = value
        rows.append({"trial": t.number, "state": t.state.name.lower(), "objective": value,
                     "feasible": ok, "best_so_far": best if math.isfinite(best) else math.nan,
                     **{k: float(score[k]) if score.get(k) is not None else math.nan
                        for k in _TRIAL_KPIS},
                     **{n: float(v) for n, v in (t.user_attrs.get("values") or {}).items()}})
    return pl.DataFrame(rows) if rows else pl.DataFrame({"trial": [], "feasible": []})


def _importances(study: Any) -> pl.DataFrame:
    """PED-ANOVA importances of the searched parameters: how much each one's distribution
    among the best trials differs from the rest (Optuna's, deterministic)."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator())
    except (RuntimeError, ValueError, ZeroDivisionError):
        found = {}
    return pl.DataFrame({"parameter": list(found), "importance": [float(v) for v in
                                                                   found.values()]},
                        schema={"parameter": pl.String, "importance": pl.Float64})


def _winner_table(result: dict[str, Any], meta: dict[str, Any], study: Any) -> pl.DataFrame:
    winner = (result.get("evidence") or {}).get("winner") or {}
    values = winner.get("values") or {}
    baseline = study.trials[0].user_attrs.get("values") if study.trials else None  # trial 0
    names = meta.get("spec", {}).get("params", [])
    space = meta.get("space", {})  # each searched parameter's [kind, lo, hi]
    return pl.DataFrame({
        "parameter": names, "unit": [PARAMS[n].unit if n in PARAMS else "" for n in names],
        "bounds": [f"[{space[n][1]}, {space[n][2]}]" for n in names],
        "profile": [None if baseline is None else str(baseline.get(n)) for n in names],
        "recommended": [str(values.get(n)) for n in names]},
        schema={"parameter": pl.String, "unit": pl.String, "bounds": pl.String,
                "profile": pl.String, "recommended": pl.String})


def _comparisons(result: dict[str, Any]) -> pl.DataFrame:
    rows = (result.get("evidence") or {}).get("out_of_sample") or []

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.4g}"

    return pl.DataFrame({
        "market": [r["group"] for r in rows], "reference": [r["reference"] for r in rows],
        "cells": [r["cells"] for r in rows],
        "recommended": [r["winner"] for r in rows], "reference value": [r["other"] for r in rows],
        "difference [95% CI]": [f"{fmt(r['diff'])} [{fmt(r['ci95'][0])}, {fmt(r['ci95'][1])}]"
                                for r in rows],
        "pass rate (rec. / ref.)": [f"{r['winner_pass_rate']:.2f} / {r['other_pass_rate']:.2f}"
                                    if r["winner_pass_rate"] is not None else "n/a"
                                    for r in rows],
        "P&L diff (USD)": [r["pnl_diff_usd"] for r in rows],
        "beats": [bool(r["beats"]) for r in rows],
        "pass rate kept": [bool(r["keeps_pass_rate"]) for r in rows]},
        schema_overrides={"recommended": pl.Float64, "reference value": pl.Float64,
                          "P&L diff (USD)": pl.Float64, "cells": pl.Int64})


def _points(trials: pl.DataFrame, winner: int | None) -> pl.DataFrame:
    if not trials.height or "risk_ratio" not in trials.columns:
        return pl.DataFrame({"trial": [], "risk": [], "pnl": [], "pareto": [], "winner": []})
    ok = trials.filter(pl.col("feasible"))
    risk, pnl = ok["risk_ratio"].to_list(), ok["pnl_usd"].to_list()
    return pl.DataFrame({"trial": ok["trial"], "risk": risk, "pnl": pnl,
                         "pareto": pareto_front(risk, pnl),
                         "winner": [t == winner for t in ok["trial"].to_list()]})


def load_optimize_report(artifacts: Path | str | None = None, study: str = "latest"
                         ) -> OptimizeReport:
    """Read study ``study`` (a name or ``latest``) for the report.

    Parameters
    ----------
    artifacts
        Artifacts root (``None``: :func:`soakkit.artifacts.layout.resolve_artifacts`).
    study
        Study name, or ``latest`` (the newest finished one).
    """
    root = resolve_artifacts(artifacts)
    store = StudyStore(resolve_study_dir(root, study))
    meta = store.read_meta() or {}
    result = store.read_result() or {}
    optuna_study = open_study(store, read_only=True)
    trials = _trials(optuna_study)
    winner_number = ((result.get("evidence") or {}).get("winner") or {}).get("trial")
    overfitting = None
    notes = []
    if winner_number is not None:
        frozen = optuna_study.trials[winner_number]
        overfitting = measure_overfitting(optuna_study, store, frozen)
    else:
        notes.append("no winner: " + "; ".join(result.get("reasons") or
                                               ["the study has no result yet"]))
    s = meta.get("spec", {})
    data = meta.get("data", {})
    header = pl.DataFrame({
        "study": [store.folder.name], "from profile": [s.get("profile")],
        "strategy": [s.get("strategy")], "sampler": [f"{s.get('sampler')} (seed {s.get('seed')})"],
        "searched": [", ".join(s.get("params", []))],
        "calibration": ["; ".join(f"{g['name']} seeds {g['seeds']} iterations "
                                  f"{g['iterations'][0]}-{g['iterations'][1]}"
                                  for g in data.get("calibration", []))],
        "evaluation": ["; ".join(f"{g['name']} seeds {g['seeds']} iterations "
                                 f"{g['iterations'][0]}-{g['iterations'][1]}"
                                 for g in data.get("evaluation", []))],
        "gate": [s.get("gate")], "trials": [result.get("trials", trials.height)],
        "feasible": [result.get("feasible")], "verdict": [result.get("verdict", "running")]})
    in_vs_out = pl.DataFrame([{"trial": t["trial"], "in sample": t["objective"],
                               "out of sample": t["oos_objective"],
                               "pass rate (in)": t.get("pass_rate")}
                              for t in (result.get("evidence") or {}).get(
                                  "in_vs_out_of_sample", [])],
                             schema={"trial": pl.Int64, "in sample": pl.Float64,
                                     "out of sample": pl.Float64,
                                     "pass rate (in)": pl.Float64})
    return OptimizeReport(
        store.folder.name, str(result.get("verdict", "running")),
        tuple(result.get("reasons") or ()), header, trials,
        _winner_table(result, meta, optuna_study), _importances(optuna_study),
        _points(trials, winner_number), in_vs_out, _comparisons(result), overfitting, tuple(notes))
