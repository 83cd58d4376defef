"""One mini-soak iteration, in memory: config → sim → kpi → gate → tuning.

:func:`run_iteration` is the one definition of an iteration. The soak runner
(:mod:`soakkit.soak.runner`) writes what it returns as ``ITER_SUMMARY_<n>.json`` and a
``TUNING_REPORT.json`` entry; a sweep cell keeps it in memory. The tuner's live values
come from a :class:`~soakkit.tuning.store.RuntimeStore` (a run's file, or memory).

An iteration starts from the position and resting orders the previous one left (recorded
in its entry, ``carry``, so a resumed run continues from them), and a synthetic market
opens where the previous one closed. Every minute of the market is traded once, by the
values in force or, during a trial, by one of the trial's two arms
(:mod:`soakkit.soak.trading`), each stretch by the run's strategy
(:func:`soakkit.strategy.engine.simulate`: legacy, a model strategy, a class or an external
program) from the state the stretch before it left. The only other run is the gate's
reference profile from flat, which does not depend on the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from soakkit.artifacts.layout import ITER_SCHEMA_VERSION
from soakkit.config.layers import Layer, ResolvedConfig, resolve
from soakkit.config.params import Value
from soakkit.config.profiles import load_profile
from soakkit.config.runtime import RuntimeOverrides
from soakkit.core.errors import ConfigError, Problem, StrategyError
from soakkit.core.io import Clock, format_utc
from soakkit.core.json_canonical import round_floats
from soakkit.gate import Verdict, judge_iteration
from soakkit.kpi import compute_kpis, with_reference
from soakkit.sim.carry import FLAT, BookState
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import REGIME_NAMES
from soakkit.sim.schedule import trade_schedule
from soakkit.sim.strategy import StrategyResult
from soakkit.sim.tape import NS, MarketTape
from soakkit.soak.options import SoakOptions, load_market
from soakkit.soak.trading import (
    comparable_pairs,
    minute_labels,
    observe_windows,
    observed_regime,
    plan_windows,
    run_reference,
    window_records,
)
from soakkit.strategy.api import QuotingPrior
from soakkit.strategy.engine import simulate, where_in
from soakkit.strategy.estimators import default_prior, prior_from_fit
from soakkit.strategy.registry import StrategyRef, load_strategy
from soakkit.tuning.engine import Decision, HistoryEntry, decide
from soakkit.tuning.guards import SUMMARY_COUNTERS, TunerState
from soakkit.tuning.store import RuntimeStore
from soakkit.tuning.trial import TrialEvidence, WindowObservation, arm_kpis, pair_windows

__all__ = ["IterationReport", "Session", "run_iteration", "tuning_report"]


@dataclass
class Session:
    """A run in progress, in memory: what the next iteration needs from the earlier ones."""

    options: SoakOptions
    run_id: str
    clock: Clock
    env: Mapping[str, str]
    profile_sha256: str  #: the profile the run started with (profiles are immutable)
    entries: list[dict[str, Any]] = field(default_factory=list)  #: TUNING_REPORT entries
    verdicts: list[tuple[int, Verdict]] = field(default_factory=list)
    _strategy: StrategyRef | None = field(default=None, repr=False)
    _prior: QuotingPrior | None = field(default=None, repr=False)

    @property
    def strategy(self) -> StrategyRef:
        """The run's strategy (selected once: an external program describes itself once)."""
        if self._strategy is None or self._strategy.name != self.options.strategy:
            self._strategy = load_strategy(self.options.strategy, self.env)
        return self._strategy

    def prior(self) -> QuotingPrior:
        """What the model strategies assume about the market before their own estimates:
        a calibrated market profile's fit, else the default market's."""
        o = self.options
        if self._prior is None:
            market = load_market(o.market, o.artifacts) if o.market_data is None else None
            fitted = prior_from_fit(market.fit, f"market {o.market}") if market else None
            self._prior = fitted or default_prior()
        return self._prior


@dataclass(frozen=True)
class IterationReport:
    """One finished iteration: its ITER_SUMMARY document and TUNING_REPORT entry."""

    iteration: int
    total: int
    verdict: Verdict
    kpis: Mapping[str, Any]
    decision: Decision
    applied: bool
    doc: Mapping[str, Any]  #: the ITER_SUMMARY document (schema v1)
    entry: Mapping[str, Any]  #: the TUNING_REPORT entry


def _params_snapshot(cfg: ResolvedConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, chain in cfg.chains.items():
        origin = chain[-1].origin
        out[key] = {"value": chain[-1].value, "origin": origin.source}
        if origin.layer == Layer.RUNTIME and origin.revision is not None:
            out[key]["revision"] = origin.revision
    return out


def tuning_report(run_id: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``TUNING_REPORT.json`` document of ``entries`` (one per iteration)."""
    ordered = sorted(entries, key=lambda e: int(e["iteration"]))
    summary = {"count": len(ordered),
               "applied": sum(1 for e in ordered if e["applied"])}
    for counter, flag in SUMMARY_COUNTERS.items():
        summary[counter] = sum(1 for e in ordered if e["guards"].get(flag))
    return {"schema_version": 1, "run_id": run_id, "iterations": ordered, "summary": summary}


def _history(entries: Sequence[Mapping[str, Any]]) -> list[HistoryEntry]:
    out = []
    for e in sorted(entries, key=lambda e: int(e["iteration"])):
        applied = {k: float(v) for k, v in e["applied_deltas"].items()} if e["applied"] else {}
        out.append(HistoryEntry(int(e["iteration"]), applied, TunerState.from_json(e["state"])))
    return out


def _resolve(session: Session, runtime: RuntimeOverrides) -> ResolvedConfig:
    o = session.options
    profile = load_profile(o.profile, o.artifacts, session.strategy.params)
    expected = session.profile_sha256
    if profile.sha256 != expected:
        raise ConfigError([Problem("profile", profile.source, None,
                                   f"{profile.path} changed during the run (sha256 "
                                   f"{profile.sha256[:12]}, run started with "
                                   f"{expected[:12]}); profiles are immutable")])
    return resolve(o.profile, artifacts=o.artifacts, sets=o.sets, env=session.env,
                   runtime=runtime, params=session.strategy.params)


def _pending_trial(entries: Sequence[Mapping[str, Any]], n: int) -> Mapping[str, Any] | None:
    """The change iteration ``n - 1`` left under trial, if any (``tuning.trial.pending``)."""
    last = next((e for e in entries if e["iteration"] == n - 1), None)
    trial = last.get("trial") if last is not None else None
    pending = trial.get("pending") if isinstance(trial, dict) else None
    return pending if isinstance(pending, dict) else None


def _carried(entries: Sequence[Mapping[str, Any]], n: int) -> BookState:
    """What iteration ``n - 1`` left: its position, resting orders and closing mid."""
    last = next((e for e in entries if e["iteration"] == n - 1), None)
    carry = last.get("carry") if last is not None else None
    end = carry.get("end") if isinstance(carry, dict) else None
    return BookState.from_json(end) if isinstance(end, dict) else FLAT


def _trial_record(decision: Decision, applied: bool, pending: Mapping[str, Any] | None,
                  pairs: Sequence[Mapping[str, Any]], windows: list[dict[str, Any]]
                  ) -> dict[str, Any]:
    """``tuning.trial``: this iteration's windows and verdict, and the trial still pending.

    A change the rules made (not a panic revert or a rollback) starts a trial in the next
    iteration; a trial the verdict leaves running carries its pairs on.
    """
    flags = decision.flags
    out = None if decision.trial is None else decision.trial.to_json()
    following: dict[str, Any] | None = None
    if decision.trial is not None and decision.trial.status == "running" and pending:
        following = {**pending, "iterations": int(pending["iterations"]) + 1,
                     "pairs": list(pairs)}
    elif applied and not (flags.panic_revert or flags.canary_rollback):
        following = {"change_iteration": decision.iteration,
                     "rules": sorted({r for p in decision.deltas
                                      for r in decision.owners.get(p, ())}),
                     "stable_values": {p: decision.values_before[p] for p in decision.deltas},
                     "iterations": 0, "pairs": []}
    return {"verdict": out, "windows": windows, "pending": following}


def market_record(tape: MarketTape, options: SoakOptions) -> dict[str, Any]:
    """What market an iteration ran on: a synthetic profile, or a window of a tape."""
    if options.market_data is None:
        return {"source": "synthetic", "profile": options.market, "gaps": []}
    start = datetime.fromtimestamp(tape.origin_ns / NS, UTC)
    return {"source": "replay", "tape": str(options.market_data),
            "window_start_utc": format_utc(start),
            "window_minutes": round(tape.duration_s / 60.0, 6),
            "gaps": [{"at_s": round(at, 3), "length_s": round(length, 3)}
                     for at, length in tape.gaps]}


def run_iteration(session: Session, n: int, store: RuntimeStore) -> IterationReport:
    """Run iteration ``n`` of ``session`` and record it in the session (not on disk)."""
    o = session.options
    started = session.clock.now()
    runtime = store.read()
    if runtime.applied is not None and runtime.applied.iteration == n:
        # restart after a crash between applying iteration n and recording it: run it
        # again with the values it started from; the tuner's decision is then the same
        runtime = replace(runtime, values=dict(runtime.applied.values_before))
    cfg = _resolve(session, runtime)
    market_seq, strategy_seq = np.random.SeedSequence(o.seed, spawn_key=(n,)).spawn(2)
    earlier = [e for e in session.entries if e["iteration"] < n]
    carried = _carried(earlier, n)
    if o.market_data is not None:
        from soakkit.sim.replay import replay_window, stream_tape  # a replay's modules only

        tape = replay_window(stream_tape(o.market_data), n, o.sim_minutes)
    else:
        tape = simulate_market(o.mode, o.sim_minutes, np.random.default_rng(market_seq),
                               load_market(o.market, o.artifacts), start_mid=carried.mid)
    pending = _pending_trial(earlier, n) if o.tune else None
    stable = None if pending is None else {**cfg.values, **pending["stable_values"]}
    plan = plan_windows(tape.duration_s, cfg.values, stable)
    strategy, prior = session.strategy, session.prior()

    def run(piece: MarketTape, values: Mapping[str, Value], rng: np.random.Generator,
            start: BookState) -> StrategyResult:
        """One stretch of the market, traded by the run's strategy from ``start``; an
        error names the iteration and the time from its start (the step is the window's)."""
        try:
            return simulate(strategy.factory(), piece, values, rng, start=start, prior=prior)
        except StrategyError as exc:
            raise where_in(exc, n, piece.origin_ns - tape.origin_ns) from None

    traded = trade_schedule(tape, plan, np.random.default_rng(strategy_seq), carried, run)
    reference_run, reference = run_reference(tape, np.random.default_rng(strategy_seq))
    kpis = round_floats(with_reference(round_floats(compute_kpis(tape, traded.result,
                                                                  cfg.values)),
                                       round_floats(reference)))
    verdict = judge_iteration(kpis, o.gate, n)
    production = judge_iteration(kpis, "production", n + 10**6)
    evidence, pairs, windows = None, [], []
    labels = minute_labels(tape)  # the minutes' regimes, as the bot observed them
    if pending is not None:
        observed = observe_windows(tape, traded, reference_run, labels=labels)
        windows = round_floats(window_records(observed, traded))
        pairs = [*pending["pairs"], *([a.to_json(), b.to_json()]
                                       for a, b in pair_windows(observed))]
        pairs = round_floats(pairs)
        evidence = TrialEvidence(
            int(pending["change_iteration"]), tuple(pending["rules"]),
            dict(pending["stable_values"]), int(pending["iterations"]) + 1,
            tuple((WindowObservation.from_json(a), WindowObservation.from_json(b))
                  for a, b in pairs),
            arm_kpis([w for w in observed if w.arm == "candidate"]),
            int(np.random.SeedSequence([o.seed, n]).generate_state(1)[0]))
    decision = decide(run_id=session.run_id, iteration=n, kpis=kpis,
                      failed=verdict.verdict == "FAIL",
                      production_pass=production.verdict != "FAIL", values=cfg.values,
                      baseline=cfg.baseline(), pinned=cfg.pinned, history=_history(earlier),
                      enabled=o.tune, trial=evidence, regime=observed_regime(tape, labels=labels),
                      comparable_pairs=comparable_pairs(tape, reference_run, labels=labels))
    applied = store.apply(decision, store.read(), cfg.baseline(), cfg.pinned)
    flags = decision.flags
    if applied.status == "already_applied":
        flags = replace(flags, idempotent_skip=True)
    ended = session.clock.now()
    mix = tape.regime_mix()
    applied_ok = applied.applied and decision.changes
    tuning = {
        "deltas": dict(decision.proposed),  # the proposed deltas, by their legacy name
        "applied_deltas": dict(decision.deltas) if applied_ok else {},
        "applied": applied_ok,
        "apply": applied.to_json(),
        "skip_reason": decision.skip_reason or ("" if applied_ok else
                                                f"apply {applied.status}"),
        "guards": flags.to_json(),
        "rationale": decision.rationale,
        "rules_fired": list(decision.rules_fired),
        "values_before": dict(decision.values_before),
        "values_after": dict(decision.values_after),
        "state": decision.state.to_json(),
        "signature": decision.signature,
        "trial": _trial_record(decision, applied_ok, pending, pairs, windows),
    }
    carry = {"start": carried.to_json(), "end": traded.result.end.to_json()}
    summary = dict(kpis)
    summary["kpi_verdict"] = verdict.verdict
    summary["kpi_reasons"] = list(verdict.reasons)
    doc = {
        "schema_version": ITER_SCHEMA_VERSION,
        "run_id": session.run_id,
        "iteration": n,
        "started_utc": format_utc(started),
        "ended_utc": format_utc(ended),
        "duration_s": round((ended - started).total_seconds(), 6),
        "seed": {"run_seed": o.seed, "spawn_key": [n]},
        "mode": o.run_mode,
        "market": market_record(tape, o),
        "regime": max(REGIME_NAMES, key=lambda r: (mix[r], -REGIME_NAMES.index(r))),
        "regime_mix": mix,
        "regime_by_minute": [REGIME_NAMES[i] for i in tape.regime_by_minute.tolist()],
        "sim_minutes": o.sim_minutes,
        "params": _params_snapshot(cfg),
        "carry": carry,
        "summary": summary,
        "gate": verdict.to_json(),
        "tuning": tuning,
    }
    entry = {"iteration": n, "started_utc": doc["started_utc"], "net_bps": kpis["net_bps"],
             "risk_ratio": kpis["risk_ratio"], "kpi_verdict": verdict.verdict,
             "proposed_deltas": tuning["deltas"],
             **{k: tuning[k] for k in ("applied_deltas", "applied", "skip_reason", "guards",
                                       "rationale", "signature", "state", "trial")},
             "carry": carry}
    session.entries = [e for e in session.entries if e["iteration"] != n] + [entry]
    session.verdicts = [v for v in session.verdicts if v[0] != n] + [(n, verdict)]
    return IterationReport(n, o.iterations, verdict, kpis, decision, applied_ok, doc, entry)
