"""The mini-soak runner: config → sim → kpi → gate → tuning → artifacts, once per iteration.

Entry point: :func:`run_soak`. Each iteration resolves the configuration (the run's
``runtime_overrides.json`` is the runtime layer), simulates ``sim_minutes`` of market with
a seed derived from the run seed and the iteration number, computes the KPIs, judges them,
lets the tuner decide and apply, and writes ``ITER_SUMMARY_<n>.json``, then
``TUNING_REPORT.json``, then ``RUN.json`` — each atomically, so a crash or Ctrl-C leaves a
consistent run that :func:`run_soak` with ``resume=`` continues.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from soakkit import __version__
from soakkit.artifacts import (
    ITER_SCHEMA_VERSION,
    RUN_FILE,
    RUN_LOCK,
    TUNING_REPORT_FILE,
    iter_summary_name,
    iteration_files,
    make_run_id,
    read_json_maybe_gz,
    resolve_run_dir,
    runs_root,
    update_latest,
)
from soakkit.config.layers import Layer, ResolvedConfig, resolve
from soakkit.config.runtime import (
    RUNTIME_FILE,
    RuntimeOverrides,
    read_runtime_overrides,
    write_runtime_overrides,
)
from soakkit.errors import ConfigError, Problem, UsageError
from soakkit.gate import RunVerdict, Verdict, check_gate_name, judge_iteration, judge_run
from soakkit.io import Clock, atomic_write_json, clock_from, format_utc, round_floats
from soakkit.kpi import compute_kpis
from soakkit.locks import exclusive_lock
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import MODES, REGIME_NAMES
from soakkit.sim.strategy import run_strategy
from soakkit.tuning.apply import apply_decision
from soakkit.tuning.engine import Decision, HistoryEntry, decide
from soakkit.tuning.guards import SUMMARY_COUNTERS, TunerState

__all__ = ["IterationReport", "SoakOptions", "SoakResult", "run_soak", "sleep_from_env",
           "validate_options"]

SLEEP_ENV = "SOAK_SLEEP_SECONDS"


@dataclass(frozen=True)
class SoakOptions:
    """What to run (mirrors ``soakkit soak``'s flags)."""

    profile: str = "steady_safe"
    iterations: int = 3
    mode: str = "calm"
    seed: int = 1
    sim_minutes: int = 10
    gate: str = "smoke"
    sets: tuple[str, ...] = ()
    artifacts: Path = Path("artifacts/soak")
    tune: bool = True
    sleep_seconds: float | None = None  #: None: take SOAK_SLEEP_SECONDS (default 0)
    now: str | None = None  #: freeze the clock (ISO-8601); also SOAKKIT_NOW

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "iterations": self.iterations, "mode": self.mode,
                "seed": self.seed, "sim_minutes": self.sim_minutes, "gate": self.gate,
                "sets": list(self.sets), "tune": self.tune}


@dataclass(frozen=True)
class IterationReport:
    """One finished iteration, as handed to a progress callback."""

    iteration: int
    total: int
    verdict: Verdict
    kpis: Mapping[str, Any]
    decision: Decision
    applied: bool


@dataclass(frozen=True)
class SoakResult:
    """The outcome of :func:`run_soak`."""

    run_id: str
    run_dir: Path
    status: str  #: finished | interrupted
    verdict: RunVerdict
    iterations_done: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 for PASS or WARN, 1 for FAIL, 130 when interrupted."""
        if self.status == "interrupted":
            return 130
        return 1 if self.verdict.verdict == "FAIL" else 0


def sleep_from_env(env: Mapping[str, str]) -> float:
    """``SOAK_SLEEP_SECONDS`` as a float >= 0 (default 0); a bad value names the variable."""
    text = env.get(SLEEP_ENV)
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{SLEEP_ENV}={text!r}: expected a number of seconds >= 0") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{SLEEP_ENV}={text!r}: expected a finite number of seconds >= 0")
    return value


def validate_options(options: SoakOptions) -> None:
    """Raise :class:`UsageError` naming the first bad option (before anything runs)."""
    if options.iterations < 1:
        raise UsageError(f"--iterations {options.iterations}: expected an integer >= 1")
    if options.mode not in MODES:
        raise UsageError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if not 1 <= options.sim_minutes <= 1440:
        raise UsageError(f"--sim-minutes {options.sim_minutes}: expected 1..1440")
    if options.sleep_seconds is not None and (not math.isfinite(options.sleep_seconds)
                                              or options.sleep_seconds < 0):
        raise UsageError(f"--sleep-seconds {options.sleep_seconds}: expected a number >= 0")
    if options.seed < 0:
        raise UsageError(f"--seed {options.seed}: expected an integer >= 0")
    check_gate_name(options.gate)


def _portable(value: Any, artifacts: Path) -> Any:
    """Provenance with paths made relative to the artifacts root or the package."""
    if isinstance(value, dict):
        return {k: (_portable_path(v, artifacts) if k == "path" and isinstance(v, str)
                    else _portable(v, artifacts)) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, artifacts) for v in value]
    return value


def _portable_path(text: str, artifacts: Path) -> str:
    path = Path(text)
    package = Path(__file__).parent
    for root, label in ((artifacts.resolve(), "<artifacts>"), (package, "<soakkit>")):
        try:
            return f"{label}/{path.resolve().relative_to(root).as_posix()}"
        except ValueError:
            continue
    return text


def _params_snapshot(cfg: ResolvedConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, chain in cfg.chains.items():
        origin = chain[-1].origin
        out[key] = {"value": chain[-1].value, "origin": origin.source}
        if origin.layer == Layer.RUNTIME and origin.revision is not None:
            out[key]["revision"] = origin.revision
    return out


def _tuning_report(run_id: str, entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(entries, key=lambda e: int(e["iteration"]))
    summary = {"count": len(ordered),
               "applied": sum(1 for e in ordered if e["applied"])}
    for counter, flag in SUMMARY_COUNTERS.items():
        summary[counter] = sum(1 for e in ordered if e["guards"].get(flag))
    return {"schema_version": 1, "run_id": run_id, "iterations": ordered, "summary": summary}


def _history(entries: Sequence[dict[str, Any]]) -> list[HistoryEntry]:
    out = []
    for e in sorted(entries, key=lambda e: int(e["iteration"])):
        applied = {k: float(v) for k, v in e["applied_deltas"].items()} if e["applied"] else {}
        out.append(HistoryEntry(int(e["iteration"]), applied, TunerState.from_json(e["state"])))
    return out


@dataclass
class _Run:
    """Mutable bookkeeping of one run while it executes."""

    options: SoakOptions
    run_id: str
    run_dir: Path
    clock: Clock
    env: Mapping[str, str]
    meta: dict[str, Any]
    entries: list[dict[str, Any]]
    verdicts: list[tuple[int, Verdict]]
    warnings: list[str]

    @property
    def runtime_path(self) -> Path:
        return self.run_dir / RUNTIME_FILE

    def mtime(self) -> float:
        """The run clock's now, as the modification time of the files the run writes."""
        return self.clock.now().timestamp()

    def write_meta(self) -> None:
        atomic_write_json(self.run_dir / RUN_FILE, self.meta, mtime=self.mtime())

    def write_report(self) -> None:
        atomic_write_json(self.run_dir / TUNING_REPORT_FILE,
                          _tuning_report(self.run_id, self.entries), mtime=self.mtime())


def _resolve(run: _Run, runtime: RuntimeOverrides | None) -> ResolvedConfig:
    o = run.options
    cfg = resolve(o.profile, artifacts=o.artifacts, sets=o.sets, env=run.env, runtime=runtime)
    expected = run.meta["profile"]["sha256"]
    if cfg.profile.sha256 != expected:
        raise ConfigError([Problem("profile", cfg.profile.source, None,
                                   f"{cfg.profile.path} changed during the run (sha256 "
                                   f"{cfg.profile.sha256[:12]}, run started with "
                                   f"{expected[:12]}); profiles are immutable")])
    return cfg


def _iteration(run: _Run, n: int) -> IterationReport:
    o = run.options
    started = run.clock.now()
    runtime = read_runtime_overrides(run.runtime_path)
    if runtime.applied is not None and runtime.applied.iteration == n:
        # restart after a crash between applying iteration n and recording it: run it
        # again with the values it started from; the tuner's decision is then the same
        runtime = replace(runtime, values=dict(runtime.applied.values_before))
    cfg = _resolve(run, runtime)
    market_seq, strategy_seq = np.random.SeedSequence(o.seed, spawn_key=(n,)).spawn(2)
    tape = simulate_market(o.mode, o.sim_minutes, np.random.default_rng(market_seq))
    outcome = run_strategy(tape, cfg.values, np.random.default_rng(strategy_seq))
    kpis = round_floats(compute_kpis(tape, outcome, cfg.values))  # as written: see FLOAT_DIGITS
    verdict = judge_iteration(kpis, o.gate, n)
    production = judge_iteration(kpis, "production", n + 10**6)
    decision = decide(run_id=run.run_id, iteration=n, kpis=kpis,
                      failed=verdict.verdict == "FAIL",
                      production_pass=production.verdict != "FAIL", values=cfg.values,
                      baseline=cfg.baseline(), pinned=cfg.pinned,
                      history=_history([e for e in run.entries if e["iteration"] < n]),
                      enabled=o.tune)
    current = read_runtime_overrides(run.runtime_path)
    applied = apply_decision(run.runtime_path, decision, current, cfg.baseline(), cfg.pinned,
                             mtime=run.mtime())
    flags = decision.flags
    if applied.status == "already_applied":
        flags = replace(flags, idempotent_skip=True)
    ended = run.clock.now()
    mix = tape.regime_mix()
    applied_ok = applied.applied and decision.changes
    tuning = {
        "deltas": dict(decision.proposed),  # legacy name: the proposed deltas
        "proposed_deltas": dict(decision.proposed),
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
    }
    summary = dict(kpis)
    summary["kpi_verdict"] = verdict.verdict
    summary["kpi_reasons"] = list(verdict.reasons)
    doc = {
        "schema_version": ITER_SCHEMA_VERSION,
        "run_id": run.run_id,
        "iteration": n,
        "started_utc": format_utc(started),
        "ended_utc": format_utc(ended),
        "duration_s": round((ended - started).total_seconds(), 6),
        "seed": {"run_seed": o.seed, "spawn_key": [n]},
        "mode": o.mode,
        "regime": max(REGIME_NAMES, key=lambda r: (mix[r], -REGIME_NAMES.index(r))),
        "regime_mix": mix,
        "regime_by_minute": [REGIME_NAMES[i] for i in tape.regime_by_minute.tolist()],
        "sim_minutes": o.sim_minutes,
        "params": _params_snapshot(cfg),
        "summary": summary,
        "gate": verdict.to_json(),
        "tuning": tuning,
    }
    atomic_write_json(run.run_dir / iter_summary_name(n), doc, mtime=ended.timestamp())
    entry = {"iteration": n, "started_utc": doc["started_utc"], "net_bps": kpis["net_bps"],
             "risk_ratio": kpis["risk_ratio"], "kpi_verdict": verdict.verdict,
             **{k: tuning[k] for k in ("proposed_deltas", "applied_deltas", "applied",
                                       "skip_reason", "guards", "rationale", "signature",
                                       "state")}}
    run.entries = [e for e in run.entries if e["iteration"] != n] + [entry]
    run.write_report()
    run.verdicts = [v for v in run.verdicts if v[0] != n] + [(n, verdict)]
    run.meta["iterations_done"] = n
    run.write_meta()
    return IterationReport(n, o.iterations, verdict, kpis, decision, applied_ok)


def _start(options: SoakOptions, env: Mapping[str, str], clock: Clock) -> _Run:
    cfg = resolve(options.profile, artifacts=options.artifacts, sets=options.sets, env=env)
    started = clock.now()
    base_id = make_run_id(started, options.profile, options.mode, options.seed)
    root = runs_root(options.artifacts)
    root.mkdir(parents=True, exist_ok=True)
    run_id, k = base_id, 1
    while True:
        try:
            (root / run_id).mkdir()
            break
        except FileExistsError:
            k += 1
            run_id = f"{base_id}-{k}"
    run_dir = root / run_id
    meta = {
        "schema_version": 1, "run_id": run_id, "soakkit_version": __version__,
        "started_utc": format_utc(started), "ended_utc": None, "status": "running",
        "options": options.to_json(),
        "profile": {"name": cfg.profile.name, "sha256": cfg.profile.sha256,
                    "builtin": cfg.profile.builtin,
                    "path": _portable_path(str(cfg.profile.path), Path(options.artifacts))},
        "config": _portable(cfg.to_json(), Path(options.artifacts)),
        "iterations_done": 0, "verdict": None,
    }
    run = _Run(options, run_id, run_dir, clock, env, meta, [], [], list(cfg.warnings))
    run.write_meta()
    write_runtime_overrides(run.runtime_path, expected_revision=None,
                            base_profile=cfg.profile.name,
                            base_profile_sha256=cfg.profile.sha256, values={}, applied=None,
                            mtime=run.mtime())
    run.write_report()
    return run


def _reopen(artifacts: Path, run_id: str, env: Mapping[str, str], clock: Clock) -> _Run:
    run_dir = resolve_run_dir(artifacts, run_id)
    meta = read_json_maybe_gz(run_dir / RUN_FILE)
    if meta.get("status") == "finished":
        raise UsageError(f"run {run_id} already finished; nothing to resume")
    o = meta["options"]
    options = SoakOptions(profile=o["profile"], iterations=int(o["iterations"]), mode=o["mode"],
                          seed=int(o["seed"]), sim_minutes=int(o["sim_minutes"]),
                          gate=o["gate"], sets=tuple(o["sets"]), artifacts=Path(artifacts),
                          tune=bool(o["tune"]))
    report = read_json_maybe_gz(run_dir / TUNING_REPORT_FILE)
    have = {f.iteration for f in iteration_files(run_dir)}
    entries = [e for e in report.get("iterations", []) if e["iteration"] in have]
    done = 0
    while done + 1 in have and any(e["iteration"] == done + 1 for e in entries):
        done += 1
    entries = [e for e in entries if e["iteration"] <= done]
    verdicts = []
    for e in entries:
        doc = read_json_maybe_gz(run_dir / iter_summary_name(e["iteration"]))
        g = doc["gate"]
        verdicts.append((e["iteration"], Verdict(g["verdict"], tuple(g["reasons"]), g["gate"],
                                                 g["phase"])))
    meta["status"] = "running"
    meta["iterations_done"] = done
    return _Run(options, meta["run_id"], run_dir, clock, env, meta, entries, verdicts, [])


def run_soak(
    options: SoakOptions,
    *,
    env: Mapping[str, str] | None = None,
    resume: str | None = None,
    progress: Callable[[IterationReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SoakResult:
    """Run (or resume) a mini-soak and write its artifacts.

    Parameters
    ----------
    options
        What to run; with ``resume`` only ``artifacts``, ``now`` and ``sleep_seconds`` are
        taken from it and the rest from the run's ``RUN.json``.
    env
        Environment for the config layers, ``SOAK_SLEEP_SECONDS`` and ``SOAKKIT_NOW``.
    resume
        Run id of an interrupted or crashed run to continue.
    progress
        Called after every iteration.
    sleep
        Sleeps between iterations (never after the last); injectable for tests.

    Returns
    -------
    SoakResult

    Raises
    ------
    UsageError, ConfigError
        Bad options or configuration (exit code 2); nothing is written.
    LockedError
        The run to resume is still active.
    """
    env = dict(os.environ) if env is None else dict(env)
    clock = clock_from(options.now, env)
    pause = options.sleep_seconds if options.sleep_seconds is not None else sleep_from_env(env)
    if resume is None:
        validate_options(options)
        run = _start(options, env, clock)
    else:
        run = _reopen(options.artifacts, resume, env, clock)
    with exclusive_lock(run.run_dir / RUN_LOCK, f"soak run {run.run_id}"):
        total = run.options.iterations
        status = "finished"
        try:
            for n in range(run.meta["iterations_done"] + 1, total + 1):
                report = _iteration(run, n)
                if progress is not None:
                    progress(report)
                if n < total and pause > 0:
                    sleep(pause)
        except KeyboardInterrupt:
            status = "interrupted"
        verdict = judge_run(run.verdicts)
        run.meta.update(status=status, ended_utc=format_utc(clock.now()),
                        verdict=verdict.to_json())
        run.write_meta()
    if status == "finished":
        warning = update_latest(run.options.artifacts, run.run_id)
        if warning:
            run.warnings.append(warning)
    return SoakResult(run.run_id, run.run_dir, status, verdict, int(run.meta["iterations_done"]),
                      tuple(run.warnings))

