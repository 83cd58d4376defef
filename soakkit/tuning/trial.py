"""Trials: a change is kept or rolled back on what the bot observed trading both ways.

A live bot cannot replay a minute of market without its change; it can trade alternate
minutes with and without it. When the rules change parameters at iteration ``n``, the change
becomes a *trial*: the next iterations (up to ``trial_max_iterations``) are traded in windows
that alternate between the stable values (arm ``A``) and the candidate (arm ``B``), in pairs
ordered A B, B A, A B, … (the ABBA order balances what one arm leaves the next: inventory,
resting orders, a trend within the pair). Every minute of the market is traded once, by one
of them. A pair counts only when both its windows show the same regime, labelled from the
quotes the bot saw (:func:`soakkit.sim.replay.label_minutes`, the same labels a recorded tape
gets), so a calm minute is never compared with a spike, and only when the market gave
something to trade in both windows (the gate's reference profile traded there).

After each trial iteration :func:`judge_trial` looks at all the regime-matched pairs so far.
With fewer than ``trial_min_pairs`` of them it decides nothing yet (the bootstrap of one or
two pairs is a point, not an interval), and if the trial ends so, the change is **rolled
back**: a change the bot could not observe both ways in comparable minutes is not kept.
For the two arms it computes the production gate's KPIs over their windows (sums for money
and volume; the inventory's 95th percentile over the arm's pooled samples, taken every
:data:`SAMPLE_S` seconds; the mean of the windows' p95 latencies) and the objective,
``risk_adjusted_pnl`` (P&L / that inventory at risk), and draws the pairs again
``trial_resamples`` times (a paired bootstrap, seeded by the trial, so the verdict is
reproducible):

1. *feasibility first*: the change is **rolled back** when the 90 % interval of the gate
   violation's change (B − A, in warn margins) lies above ``trial_violation_eps``, and
   **kept** when it lies below ``−trial_violation_eps``;
2. *then the objective*: rolled back when the 90 % interval of its change lies below 0,
   kept when it lies above 0;
3. otherwise the trial goes on, and after ``trial_max_iterations`` the change is kept: nothing
   observed (in at least ``trial_min_pairs`` pairs) says it hurts.

The burden of proof is on the rules (every rule's lever is tested on paired calibration
seeds, ``tests/test_levers.py``); the trial is there to catch a change that hurts where the
rule's assumptions do not hold. With two looks at 90 % intervals (on at least
``trial_min_pairs`` pairs), a change that does nothing is rolled back about one time in ten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from soakkit.config.params import Value
from soakkit.gate import violations
from soakkit.kpi import PERCENTILE_METHOD

__all__ = ["ARMS", "CONSTRAINT_GATE", "OBJECTIVE", "ForeseenPairs", "TrialEvidence",
           "TrialVerdict", "WindowObservation", "arm_kpis", "judge_trial", "pair_windows"]

#: The KPI the tuner maximises, subject to the production gate.
OBJECTIVE = "risk_adjusted_pnl"
#: The gate whose thresholds are the tuner's constraints.
CONSTRAINT_GATE = "production"
#: The two arms of a trial: the values before the change, and with it.
ARMS: tuple[str, str] = ("stable", "candidate")
#: A window's inventory at risk is sampled every this many seconds.
SAMPLE_S = 5.0


class ForeseenPairs(NamedTuple):
    """A trial iteration's window pairs as this iteration's market would have formed them
    (:func:`soakkit.soak.trading.comparable_pairs`): what 3c of the guards reads."""

    judgeable: int  #: one regime and the reference traded in both windows (:func:`pair_windows`)
    same_regime: int  #: both windows in one observed regime
    possible: int  #: pairs a trial iteration of this length has


@dataclass(frozen=True)
class WindowObservation:
    """What the bot observed trading one window: its own fills, and the market's regime."""

    arm: str  #: ``stable`` or ``candidate``
    regime: str  #: labelled from the quotes (calm, volatile, spike)
    duration_s: float
    pnl_usd: float
    volume_usd: float
    maker_volume_usd: float
    inventory_usd: tuple[float, ...]  #: |position × mid| every :data:`SAMPLE_S` seconds
    risk_budget_usd: float  #: ``risk_budget_notional`` (risk_ratio's denominator)
    p95_latency_ms: float | None
    reference_volume_usd: float  #: the gate's reference profile's volume in the window

    def to_json(self) -> dict[str, Any]:
        return {"arm": self.arm, "regime": self.regime, "duration_s": self.duration_s,
                "pnl_usd": self.pnl_usd, "volume_usd": self.volume_usd,
                "maker_volume_usd": self.maker_volume_usd,
                "inventory_usd": list(self.inventory_usd),
                "risk_budget_usd": self.risk_budget_usd, "p95_latency_ms": self.p95_latency_ms,
                "reference_volume_usd": self.reference_volume_usd}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> WindowObservation:
        latency = doc.get("p95_latency_ms")
        return cls(str(doc["arm"]), str(doc["regime"]), float(doc["duration_s"]),
                   float(doc["pnl_usd"]), float(doc["volume_usd"]),
                   float(doc["maker_volume_usd"]),
                   tuple(float(x) for x in doc["inventory_usd"]),
                   float(doc["risk_budget_usd"]), None if latency is None else float(latency),
                   float(doc["reference_volume_usd"]))


def pair_windows(windows: Sequence[WindowObservation]
                 ) -> list[tuple[WindowObservation, WindowObservation]]:
    """Adjacent (stable, candidate) windows of one iteration whose regimes match and in
    which the market gave something to trade (the gate's reference traded in both)."""
    out = []
    for a, b in zip(windows[0::2], windows[1::2], strict=False):
        stable, candidate = (a, b) if a.arm == ARMS[0] else (b, a)
        if {stable.arm, candidate.arm} == set(ARMS) and stable.regime == candidate.regime \
                and min(stable.reference_volume_usd, candidate.reference_volume_usd) > 0:
            out.append((stable, candidate))
    return out


_COLUMNS = ("duration_s", "pnl_usd", "volume_usd", "maker_volume_usd", "risk_budget_usd",
            "p95_latency_ms", "reference_volume_usd")


def _table(windows: Sequence[WindowObservation]) -> dict[str, np.ndarray]:
    out = {c: np.array([np.nan if getattr(w, c) is None else float(getattr(w, c))
                        for w in windows], dtype=np.float64) for c in _COLUMNS}
    width = max((len(w.inventory_usd) for w in windows), default=0)
    samples = np.full((len(windows), max(width, 1)), np.nan)
    for i, w in enumerate(windows):
        samples[i, :len(w.inventory_usd)] = w.inventory_usd
    out["inventory_usd"] = samples
    return out


def _pooled_p95(samples: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """95th percentile (the KPIs' method) of the samples of the windows ``idx``, per row."""
    pooled = samples[idx].reshape(*idx.shape[:-1], -1)
    if np.isnan(pooled).all():
        return np.zeros(idx.shape[:-1])
    with np.errstate(all="ignore"):
        return np.asarray(np.nanpercentile(pooled, 95.0, axis=-1, method=PERCENTILE_METHOD))


def _aggregate(t: Mapping[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Gate KPIs and the objective of the windows ``idx`` (rows: resamples)."""
    def total(c: str) -> np.ndarray:
        return np.asarray(t[c][idx].sum(axis=-1))

    def mean(c: str) -> np.ndarray:
        x = t[c][idx]
        count = np.isfinite(x).sum(axis=-1)
        return np.asarray(np.where(count > 0, np.nansum(x, axis=-1) / np.maximum(count, 1),
                                   np.nan))

    pnl, volume = total("pnl_usd"), total("volume_usd")
    inventory = _pooled_p95(t["inventory_usd"], idx)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "pnl_usd": pnl, "volume_usd": volume,
            "net_bps": np.where(volume > 0, pnl / volume * 1e4, np.nan),
            "maker_taker_ratio": np.where(volume > 0, total("maker_volume_usd") / volume,
                                          np.nan),
            "pnl_per_hour_usd": pnl * 3600.0 / total("duration_s"),
            "risk_ratio": inventory / np.nanmax(t["risk_budget_usd"]),
            "inventory_p95_usd": inventory,
            "p95_latency_ms": mean("p95_latency_ms"),
            "volume_vs_reference": np.where(total("reference_volume_usd") > 0,
                                            volume / total("reference_volume_usd"), np.nan),
            OBJECTIVE: np.where(inventory > 0, pnl / inventory, np.nan),
        }


def arm_kpis(windows: Sequence[WindowObservation]) -> dict[str, float | None]:
    """The gate's KPIs and the objective over ``windows`` (one arm): what the rules read."""
    if not windows:
        return {}
    agg = _aggregate(_table(windows), np.arange(len(windows)))
    return {k: None if not np.isfinite(v) else float(v) for k, v in agg.items()}


@dataclass(frozen=True)
class TrialEvidence:
    """A change under trial and every regime-matched pair observed so far."""

    change_iteration: int  #: the iteration that applied the change
    rules: tuple[str, ...]  #: the rules that proposed it
    stable_values: Mapping[str, Value]  #: the changed parameters' values before it
    iterations: int  #: trial iterations so far, this one included
    pairs: tuple[tuple[WindowObservation, WindowObservation], ...]
    candidate: Mapping[str, Any]  #: this iteration's candidate windows, as :func:`arm_kpis`
    seed: int  #: seeds the bootstrap (reproducible verdicts)


@dataclass(frozen=True)
class TrialVerdict:
    """Kept, rolled back, or still running, with the numbers that decided it."""

    status: Literal["kept", "rolled_back", "running"]
    reason: str
    change_iteration: int
    rules: tuple[str, ...]
    pairs: int
    objective_stable: float | None
    objective_candidate: float | None
    violation_change: tuple[float, float, float] | None  #: point, 90 % interval (B − A)
    objective_change: tuple[float, float, float] | None  #: point, 90 % interval (B − A)
    stable_values: Mapping[str, Value] = field(default_factory=dict)

    @property
    def rolled_back(self) -> bool:
        return self.status == "rolled_back"

    def to_json(self) -> dict[str, Any]:
        def triple(x: tuple[float, float, float] | None) -> list[float] | None:
            return None if x is None else [round(v, 9) for v in x]

        return {"status": self.status, "reason": self.reason,
                "change_iteration": self.change_iteration, "rules": list(self.rules),
                "pairs": self.pairs, "objective_stable": self.objective_stable,
                "objective_candidate": self.objective_candidate,
                "violation_change": triple(self.violation_change),
                "objective_change": triple(self.objective_change),
                "stable_values": dict(self.stable_values)}


def _interval(x: np.ndarray) -> tuple[float, float, float]:
    finite = x[1:][np.isfinite(x[1:])]
    if not np.isfinite(x[0]) or finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    lo, hi = np.percentile(finite, [5.0, 95.0])
    return float(x[0]), float(lo), float(hi)


def judge_trial(evidence: TrialEvidence, *, max_iterations: int, resamples: int,
                violation_eps: float, min_pairs: int) -> TrialVerdict:
    """Keep, roll back or continue the change in ``evidence`` (module docstring)."""
    pairs = evidence.pairs
    last = evidence.iterations >= max_iterations

    def verdict(status: Literal["kept", "rolled_back", "running"], reason: str,
                j: tuple[float | None, float | None] = (None, None),
                dv: tuple[float, float, float] | None = None,
                dj: tuple[float, float, float] | None = None) -> TrialVerdict:
        return TrialVerdict(status, reason, evidence.change_iteration, evidence.rules,
                            len(pairs), j[0], j[1], dv, dj, dict(evidence.stable_values))

    if len(pairs) < min_pairs:  # a bootstrap over so few pairs is not an interval
        seen = (f"only {len(pairs)} of the trial's window pairs could be compared (one "
                f"regime, the reference trading in both), fewer than {min_pairs}")
        if last:  # a change the bot could not observe both ways is not kept
            return verdict("rolled_back", f"{seen} after {evidence.iterations} trial "
                                          "iterations: too little observed to keep the change")
        return verdict("running", f"{seen} so far")
    a = _table([p[0] for p in pairs])
    b = _table([p[1] for p in pairs])
    n = len(pairs)
    rng = np.random.default_rng(evidence.seed)
    idx = np.vstack((np.arange(n)[None, :], rng.integers(0, n, size=(resamples, n))))
    arm_a, arm_b = _aggregate(a, idx), _aggregate(b, idx)
    v_a = violations({k: arm_a[k] for k in arm_a}, CONSTRAINT_GATE)
    v_b = violations({k: arm_b[k] for k in arm_b}, CONSTRAINT_GATE)
    dv = _interval(np.asarray(v_b - v_a))
    dj = _interval(np.asarray(arm_b[OBJECTIVE] - arm_a[OBJECTIVE]))
    j_a, j_b = float(arm_a[OBJECTIVE][0]), float(arm_b[OBJECTIVE][0])
    objectives = (None if not np.isfinite(j_a) else j_a, None if not np.isfinite(j_b) else j_b)

    def show(x: tuple[float, float, float]) -> str:
        return f"{x[0]:+.3g} [{x[1]:+.3g}, {x[2]:+.3g}]"

    def done(status: Literal["kept", "rolled_back", "running"], reason: str) -> TrialVerdict:
        return verdict(status, f"{reason} ({n} pairs)", objectives, dv, dj)

    if dv[1] > violation_eps:
        return done("rolled_back", f"gate violation rises {show(dv)} warn margins")
    if dv[2] < -violation_eps:
        return done("kept", f"gate violation falls {show(dv)} warn margins")
    if np.isfinite(dj[2]) and dj[2] < 0:
        return done("rolled_back", f"{OBJECTIVE} falls {show(dj)}")
    if np.isfinite(dj[1]) and dj[1] > 0:
        return done("kept", f"{OBJECTIVE} rises {show(dj)}")
    if not last:
        return done("running", f"undecided: violation {show(dv)}, {OBJECTIVE} {show(dj)}")
    return done("kept", f"nothing observed against it after {evidence.iterations} trial "
                        f"iterations: violation {show(dv)}, {OBJECTIVE} {show(dj)}")
