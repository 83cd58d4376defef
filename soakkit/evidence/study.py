"""Paired studies of mini-soaks: named seed sets, per-run metrics, bootstrap intervals.

The tuning benchmark (``bench/bench_tuning.py``) and the lever tests share these, so the
evidence in ``docs/TUNING.md`` and the tests measure the same things the same way:

* :data:`CALIBRATION_SEEDS` and :data:`EVALUATION_SEEDS` are disjoint. Rules, guards,
  rollback constants and static settings are chosen on the calibration seeds only; the
  evidence is reported on the evaluation seeds, which nothing was tuned on.
* Two configurations compared on one seed see the same markets (the simulated market does
  not depend on the bot's parameters), so differences are paired per seed.
* :func:`paired_ci` is a percentile bootstrap of the mean paired difference over seeds, or
  over the sampling units it is told (a replayed tape's windows: its seeds share a market).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.config.layers import resolve
from soakkit.config.params import PARAMS
from soakkit.evidence.stats import bootstrap_mean_ci
from soakkit.gate import judge_iteration
from soakkit.soak.iteration import IterationReport
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import MARKET_MODE, SoakOptions
from soakkit.tuning.rules import RELAX, RULES, evaluate_rules

__all__ = ["CALIBRATION_SEEDS", "EVALUATION_SEEDS", "LEVER_CASES", "RUN_METRICS", "LeverCase",
           "PairedDiff", "kpi_mean", "lever_effects", "market_label", "paired_ci",
           "production_pass", "rule_deltas", "run_metrics", "schedule_of", "shifted_sets",
           "static_kpis"]

#: Seeds the rules, guards, rollback constants and static grids are calibrated on.
CALIBRATION_SEEDS: tuple[int, ...] = tuple(range(1, 31))
#: Seeds the evidence is reported on; never used for calibration (disjoint, tested).
EVALUATION_SEEDS: tuple[int, ...] = tuple(range(70_001, 70_025))

#: Per-run metrics of the evidence table: means over the run's iterations.
RUN_METRICS: tuple[str, ...] = ("pass_rate", "pnl_usd", "risk_adjusted_pnl", "volume_usd",
                                "net_bps", "risk_ratio")


def production_pass(kpis: Mapping[str, Any]) -> bool:
    """Whether ``kpis`` hold the steady production thresholds (PASS or WARN)."""
    return judge_iteration(kpis, "production", 10**6).verdict != "FAIL"


def kpi_mean(values: Iterable[Any]) -> float:
    """The mean of a KPI's values, ``None`` (no value) left out; NaN when none has one."""
    arr = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def run_metrics(kpis: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """:data:`RUN_METRICS` of one run: the mean of each KPI, and the production pass rate."""
    out = {"pass_rate": float(np.mean([production_pass(k) for k in kpis]))}
    for name in RUN_METRICS[1:]:
        out[name] = kpi_mean(k.get(name) for k in kpis)
    return out


def schedule_of(mode: str, iterations: int) -> tuple[str, ...]:
    """``calm>volatile``: the first half of the iterations calm, the rest volatile (and so on
    for more modes, in equal parts); a plain mode: no schedule."""
    modes = mode.split(SHIFT)
    if len(modes) == 1:
        return ()
    return tuple(modes[min(len(modes) - 1, i * len(modes) // iterations)]
                 for i in range(iterations))


#: Separates the modes of a regime change within a run (``calm>volatile``).
SHIFT = ">"
#: A ``mode`` naming a calibrated market file (run in the regime mix it was fitted on) …
MARKET_PREFIX = "market="
#: … or a recorded tape replayed window by window.
TAPE_PREFIX = "tape="


def market_label(mode: str) -> str:
    """A short name of ``mode`` for tables: ``market:NAME`` and ``tape:NAME`` (the file's
    or folder's stem) for calibrated markets and tapes, else the mode itself."""
    for prefix, kind in ((MARKET_PREFIX, "market"), (TAPE_PREFIX, "tape")):
        if mode.startswith(prefix):
            return f"{kind}:{Path(mode[len(prefix):]).stem}"
    return mode


def _market_options(mode: str) -> dict[str, Any]:
    """The :class:`SoakOptions` fields that select the market ``mode`` names."""
    if mode.startswith(MARKET_PREFIX):
        return {"market": mode[len(MARKET_PREFIX):], "mode": MARKET_MODE}
    if mode.startswith(TAPE_PREFIX):
        return {"market_data": Path(mode[len(TAPE_PREFIX):])}
    return {"mode": mode}


def static_kpis(profile: str, mode: str, seed: int, *, iterations: int, sim_minutes: int,
                sets: Sequence[str] = (), tune: bool = False) -> list[dict[str, Any]]:
    """Every iteration's KPIs of one in-memory soak (``sets`` are ``key=value``).

    ``mode`` may be a regime change within the run, such as ``calm>volatile``
    (:func:`schedule_of`), a calibrated market file (``market=FILE``, its fitted regime mix)
    or a recorded tape (``tape=DIR``, replayed one window per iteration).
    """
    plain = not mode.startswith((MARKET_PREFIX, TAPE_PREFIX))
    schedule = schedule_of(mode, iterations) if plain else ()
    market = _market_options(schedule[0] if schedule else mode)
    reports: list[IterationReport] = run_in_memory(SoakOptions(
        profile=profile, iterations=iterations, seed=seed, sim_minutes=sim_minutes,
        gate="production", sets=tuple(sets), tune=tune, **market), schedule=schedule)
    return [dict(r.kpis) for r in reports]


@dataclass(frozen=True)
class PairedDiff:
    """Mean of ``a − b`` over seeds, its 95 % bootstrap interval, and seeds up / down."""

    mean_a: float
    mean_b: float
    diff: float
    lo: float
    hi: float
    up: int
    down: int
    n: int = 0  #: seeds in the pair (those where both values are defined)

    def to_json(self) -> dict[str, Any]:
        """The difference as JSON; an undefined figure (no seed with both values) is null."""
        def defined(x: float) -> float | None:
            return x if np.isfinite(x) else None

        return {"mean_a": defined(self.mean_a), "mean_b": defined(self.mean_b),
                "diff": defined(self.diff), "ci95": [defined(self.lo), defined(self.hi)],
                "seeds_up": self.up, "seeds_down": self.down, "seeds": self.n}


def paired_ci(a: Sequence[float], b: Sequence[float], *,
              units: Sequence[Hashable] | None = None, seed: int = 20261124,
              resamples: int = 10_000) -> PairedDiff:
    """Paired mean difference ``a − b`` with a 95 % percentile bootstrap over sampling units.

    Without ``units`` every pair is its own unit (a seed of a synthetic market: each seed
    draws another market). ``units`` names each pair's sampling unit where pairs are not
    independent: on a replayed tape the unit is the window (and the tape), since a seed only
    changes the latency draws over the same recorded market. The pairs of one unit are
    averaged into one before the bootstrap resamples units, so the interval is as wide as the
    number of windows warrants, not the number of seeds; ``n``, ``up`` and ``down`` count
    units (in the order they first appear).

    Only pairs where both values are defined count (``net_bps`` of a run without a fill is
    NaN); with none, every figure is NaN.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    if units is not None:
        if len(units) != both.size:
            raise ValueError(f"paired_ci: {len(units)} units for {both.size} pairs")
        index: dict[Hashable, int] = {}
        codes = np.asarray([index.setdefault(u, len(index))
                            for u, ok in zip(units, both, strict=True) if ok], dtype=np.intp)
        counts = np.bincount(codes, minlength=len(index))
        x = np.bincount(codes, weights=x, minlength=len(index)) / counts
        y = np.bincount(codes, weights=y, minlength=len(index)) / counts
    d = x - y
    lo, hi = bootstrap_mean_ci(d, np.random.default_rng(seed), resamples=resamples)
    if not d.size:
        return PairedDiff(math.nan, math.nan, math.nan, lo, hi, 0, 0, 0)
    return PairedDiff(float(x.mean()), float(y.mean()), float(d.mean()), float(lo), float(hi),
                      int((d > 0).sum()), int((d < 0).sum()), int(d.size))


def shifted_sets(profile: str, start: Mapping[str, float], deltas: Mapping[str, float]
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``--set`` lists of ``start`` and of ``start`` moved by ``deltas`` (clamped, typed)."""
    values = dict(resolve(profile, env={}).values)
    before = {k: PARAMS[k].clamp(float(v)) for k, v in {**values, **start}.items()}
    after = {k: PARAMS[k].clamp(float(before[k]) + float(d)) for k, d in deltas.items()}
    keys = sorted(set(start) | set(deltas))
    return (tuple(f"{k}={before[k]}" for k in keys),
            tuple(f"{k}={after.get(k, before[k])}" for k in keys))


def lever_effects(profile: str, mode: str, start: Mapping[str, float],
                  deltas: Mapping[str, float], seeds: Sequence[int], *, iterations: int,
                  sim_minutes: int, kpis: Sequence[str]) -> dict[str, list[float]]:
    """Per seed, the mean paired change of each of ``kpis`` when ``deltas`` are applied.

    Both soaks are untuned and see the same markets (seed by seed, iteration by
    iteration); the change is measured per iteration and averaged per seed.
    """
    sets_a, sets_b = shifted_sets(profile, start, deltas)
    out: dict[str, list[float]] = {k: [] for k in kpis}
    for seed in seeds:
        a = static_kpis(profile, mode, seed, iterations=iterations, sim_minutes=sim_minutes,
                        sets=sets_a)
        b = static_kpis(profile, mode, seed, iterations=iterations, sim_minutes=sim_minutes,
                        sets=sets_b)
        for k in kpis:
            out[k].append(kpi_mean((None if y.get(k) is None or x.get(k) is None
                                 else float(y[k]) - float(x[k])) for x, y in zip(a, b,
                                                                                 strict=True)))
    return out


@dataclass(frozen=True)
class LeverCase:
    """Where a rule's lever is tested: a cell (and start values) in which its trigger holds."""

    profile: str
    mode: str
    start: Mapping[str, float]  #: parameter values the lever starts from (besides the profile)
    why: str


#: Rule → the cell its lever test runs in (``tests/test_levers.py``, ``bench/bench_levers.py``).
LEVER_CASES: Mapping[str, LeverCase] = {
    "risk_high": LeverCase("aggressive", "volatile", {},
                           "untuned risk_ratio is about 0.59 there, above the trigger in "
                           "nine iterations of ten"),
    "latency_high": LeverCase("aggressive", "spike", {},
                              "p95 latency is above the trigger in about half of the "
                              "iterations there (the venue is busy)"),
    "edge_thin": LeverCase("steady_safe", "mixed", {"impact_cap_ratio": 0.08,
                                                    "max_delta_ratio": 0.12},
                           "quoting the legacy size, untuned net_bps is about 0.8 there, "
                           "below the trigger, with risk_ratio about 0.35 (from the re-tuned "
                           "size the step's effect on net_bps is a fifth of it: the larger "
                           "the quote, the less one more step adds)"),
    "relax": LeverCase("ultra_safe", "calm", {"position_limit_notional": 2500.0,
                                              "min_interval_ms": 120.0,
                                              "replace_rate_per_min": 200.0},
                       "a tuned-away state in a market where relax's conditions hold"),
}


def rule_deltas(rule: str, profile: str, start: Mapping[str, float]) -> dict[str, float]:
    """The deltas ``rule`` proposes from ``start`` (relax: its step back to the profile)."""
    if rule != RELAX.name:
        return {p: d for r in RULES if r.name == rule for p, d in r.deltas}
    baseline = dict(resolve(profile, env={}).values)
    values = {**baseline, **start}
    comfy = {c.kpi: c.value + (-1.0 if c.op in ("<", "<=") else 1.0) * 1e-3 for c in RELAX.when}
    return evaluate_rules(comfy, values, baseline).deltas
