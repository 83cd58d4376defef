"""After the search: the verdict, the out-of-sample evaluation, the evidence, ``result.json``
and the recommended profile.

Verdicts: ``empty`` (no trial completed), ``infeasible`` (none holds the constraints),
``no better`` (the starting profile is the best trial), ``not supported`` (the deflated
Sharpe ratio or PBO misses its bar) and ``supported``. Every verdict after ``infeasible``
comes with the out-of-sample evaluation, so the report shows what the winner would have
done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from soakkit.artifacts.layout import STUDIES_DIR
from soakkit.config.profiles import load_profile
from soakkit.core.digests import signature
from soakkit.optimize.evaluate import POOLED, RECOMMENDED, cell_means, compare, reference_configs
from soakkit.optimize.overfitting import measure_overfitting, ranked_trials
from soakkit.optimize.plan import Plan
from soakkit.optimize.recommend import TOOL, profile_document, write_profile
from soakkit.optimize.search import BASELINE_TRIAL, Flight, run_tasks
from soakkit.optimize.store import StudyStore
from soakkit.optimize.tasks import Config, combine, payloads
from soakkit.sweep.cluster import Connection

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["SUPPORTED", "VERDICTS", "conclude"]

SUPPORTED = "supported"
VERDICTS = ("empty", "infeasible", "no better", "not supported", SUPPORTED)


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 9)


def _evaluate(plan: Plan, store: StudyStore, conn: Connection, now: str,
              mtime: Callable[[], float | None], configs: list[Config]
              ) -> dict[str, pl.DataFrame]:
    """Every configuration's cell means on the evaluation set (rows stored under eval/)."""
    ev = plan.data.evaluation
    flights = []
    for config in configs:
        key = plan.config_key(config.values, config.tune, ev, config.profile)
        flights.append(Flight(-1, None, config, key,
                              payloads(config, ev, plan.data, key, gate=plan.spec.gate,
                                       now=now, strategy=plan.spec.strategy),
                              stored=store.has_rows("eval", key)))
    cells: dict[str, pl.DataFrame] = {}
    errors: list[str] = []

    def ready(flight: Flight) -> None:
        if flight.error is not None:
            errors.append(f"{flight.config.label}: {flight.error}")
            return
        if flight.stored:
            rows = store.read_rows("eval", flight.key)
        else:
            rows = combine([p for p in flight.parts if p is not None], ev, flight.batches)
            failed = rows.filter(pl.col("error").is_not_null())
            if failed.height:
                errors.append(f"{flight.config.label}: {failed['error'][0]}")
                return
            store.write_rows("eval", flight.key, rows, mtime())
        cells[flight.config.label] = cell_means(rows)

    run_tasks(conn, flights, store.folder.name, ready)
    if errors:
        cells["__errors__"] = pl.DataFrame({"error": errors})
    return cells


def _trial_json(t: FrozenTrial) -> dict[str, Any]:
    score = t.user_attrs.get("score") or {}
    return {"trial": t.number, "values": t.user_attrs.get("values", t.params),
            "objective": _num(t.value), **{k: _num(v) for k, v in score.items()
                                           if not isinstance(v, dict) and k != "objective"}}


def _oos_objective(cells: pl.DataFrame) -> float | None:
    return _num(cells["objective"].mean()) if cells.height else None


def conclude(plan: Plan, study: optuna.Study, store: StudyStore, conn: Connection, now: str,
             mtime: Callable[[], float | None], stage: Callable[[str], None]
             ) -> dict[str, Any]:
    """Judge the search, evaluate out of sample, write ``result.json`` (and the profile);
    returns the result document."""
    ranked, complete, failed = ranked_trials(study)
    doc: dict[str, Any] = {"schema_version": 1, "study": store.folder.name,
                           "trials": complete + failed, "complete": complete,
                           "failed": failed, "feasible": len(ranked)}
    if complete == 0:
        errors = [t.user_attrs.get("error") for t in study.get_trials(deepcopy=False)
                  if t.user_attrs.get("error")]
        doc.update(verdict="empty", reasons=["no trial completed" + (
            f" (first error: {errors[0]})" if errors else "")])
    elif not ranked:
        doc.update(verdict="infeasible", reasons=[
            f"none of the {complete} complete trials holds the constraints (the gate's "
            f"thresholds and the starting profile's pass rate)"])
    if "verdict" in doc:
        store.write_result(doc, mtime())
        return doc
    winner = ranked[0]
    top = {t.user_attrs["key"]: t for t in ranked[:plan.spec.oos_top]}
    configs = [Config(RECOMMENDED, plan.profile, dict(winner.user_attrs["values"]), False)]
    configs += [Config(f"trial {t.number}", plan.profile, dict(t.user_attrs["values"]), False)
                for t in top.values() if t.number != winner.number]
    configs += reference_configs(plan)
    stage(f"evaluating {len(configs)} configurations on the held-back markets "
          f"({plan.data.evaluation.size:,} iterations each)")
    cells = _evaluate(plan, store, conn, now, mtime, configs)
    eval_errors = cells.pop("__errors__", None)
    groups = [g.name for g in plan.data.evaluation.groups]
    tapes = [g.name for g in plan.data.evaluation.groups if g.tape]
    references = {c.label: cells[c.label] for c in reference_configs(plan) if c.label in cells}
    comparisons = compare(cells[RECOMMENDED], references, groups, tapes) \
        if RECOMMENDED in cells else []
    overfit = measure_overfitting(study, store, winner)
    in_vs_out = [{**_trial_json(t), "oos_objective": _oos_objective(
        cells[RECOMMENDED if t.number == winner.number else f"trial {t.number}"])}
        for t in top.values() if (RECOMMENDED if t.number == winner.number
                                  else f"trial {t.number}") in cells]
    reasons = list(overfit.reasons)
    if eval_errors is not None:
        reasons += [f"out-of-sample run failed: {e}" for e in eval_errors["error"]]
    verdict = SUPPORTED if not reasons else "not supported"
    if winner.number == BASELINE_TRIAL:
        verdict, reasons = "no better", ["the starting profile's own values are the best "
                                         "feasible trial: nothing to recommend", *reasons]
    evidence = {"winner": _trial_json(winner), "overfitting": overfit.to_json(),
                "out_of_sample": [c.to_json() for c in comparisons],
                "in_vs_out_of_sample": in_vs_out, "data": plan.data.identity()}
    digest = signature(evidence)
    doc.update(verdict=verdict, reasons=reasons, evidence=evidence, evidence_sha256=digest)
    doc["profile"] = _maybe_profile(plan, store, winner, doc, mtime)
    store.write_result(doc, mtime())
    return doc


def _maybe_profile(plan: Plan, store: StudyStore, winner: FrozenTrial, doc: dict[str, Any],
                   mtime: Callable[[], float | None]) -> dict[str, Any] | None:
    """Write the recommended profile when ``--write-profile`` and the verdict say so."""
    mode, verdict = plan.spec.write_profile, doc["verdict"]
    if mode == "never" or verdict == "no better" or (mode == "supported"
                                                     and verdict != SUPPORTED):
        return None
    overfit = doc["evidence"]["overfitting"]
    beats = [c for c in doc["evidence"]["out_of_sample"] if c["group"] not in POOLED
             and "+" not in c["reference"]]
    provenance = {
        "tool": TOOL, "study": store.folder.name,
        "study_folder": f"{STUDIES_DIR}/{store.folder.name}",
        "trial": winner.number, "trials": doc["trials"],
        "from_profile": {"name": plan.profile.name, "sha256": plan.profile.sha256},
        "strategy": plan.spec.strategy, "searched": list(plan.params),
        "gate": plan.spec.gate,
        "data": plan.data.identity(),
        "evidence": {"sha256": doc["evidence_sha256"], "verdict": verdict,
                     "dsr": overfit["dsr"], "pbo": overfit["pbo"]["pbo"],
                     "out_of_sample": f"beats {sum(c['beats'] for c in beats)} of "
                                      f"{len(beats)} profile x market cells with a 95 % "
                                      "interval above 0"}}
    description = (f"Recommended by soakkit optimize, study {store.folder.name}: trial "
                   f"{winner.number} of {doc['trials']}, searched from {plan.profile.name} "
                   f"({verdict}).")
    start = load_profile(plan.profile.name, plan.spec.artifacts, plan.specs).params
    profile = profile_document(start, winner.user_attrs["values"], description, provenance)
    path, sha = write_profile(plan.spec.artifacts, store.folder.name, profile, mtime(),
                              plan.specs)
    return {"name": store.folder.name, "path": str(path), "sha256": sha}
