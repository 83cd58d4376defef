"""What one iteration trades: its windows, the state it carries, and the gate's reference.

* :func:`plan_windows` – the whole iteration with the values in force or, while a change is
  under trial (:mod:`soakkit.tuning.trial`), windows alternating between the stable values
  and the candidate, in pairs ordered A B, B A, …; every minute is traded once;
* :func:`comparable_pairs` – how many of a trial's window pairs the iteration's market would
  have let it compare (both windows in one observed regime, the reference trading in both);
* :func:`observe_windows` – what the bot saw of each window: its own P&L, volume, inventory
  and latency, the regime labelled from the quotes, and the reference's volume there;
* :func:`reference_values` and :func:`run_reference` – the gate's reference profile
  (:data:`soakkit.gate.REFERENCE_PROFILE`, recorded values, never a user profile) trading
  the same market from flat: a property of the market window, the same for every run on
  it, which the activity floor measures against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from soakkit.config.history import revision_values
from soakkit.config.params import PARAMS, Value
from soakkit.gate import REFERENCE_PROFILE
from soakkit.kpi import compute_kpis, inventory_path
from soakkit.sim.regimes import REGIME_NAMES
from soakkit.sim.replay import label_minutes
from soakkit.sim.schedule import Segment, Traded
from soakkit.sim.strategy import StrategyResult, run_strategy
from soakkit.sim.tape import NS, MarketTape
from soakkit.tuning.trial import ARMS, SAMPLE_S, ForeseenPairs, WindowObservation

__all__ = ["comparable_pairs", "minute_labels", "observe_windows", "observed_regime",
           "plan_windows", "reference_values", "run_reference", "window_records"]


def reference_values() -> dict[str, Value]:
    """The gate's reference profile: defaults < its recorded values, nothing else."""
    values = revision_values(REFERENCE_PROFILE)
    if values is None:  # a revision the history lacks is a programming error
        raise KeyError(f"REFERENCE_PROFILE {REFERENCE_PROFILE!r} is not in the profile history")
    return {**{k: spec.default for k, spec in PARAMS.items()}, **values}


def run_reference(tape: MarketTape, rng: np.random.Generator) -> tuple[StrategyResult,
                                                                      dict[str, Any]]:
    """The reference profile on ``tape`` from flat, and its KPIs."""
    values = reference_values()
    result = run_strategy(tape, values, rng)
    return result, compute_kpis(tape, result, values)


def plan_windows(duration_s: float, values: Mapping[str, Value],
                 stable: Mapping[str, Value] | None) -> list[Segment]:
    """The iteration whole with ``values``, or trial windows (``stable`` vs ``values``).

    A trial cuts the iteration into ``2·max(1, ⌊minutes / 2⌋)`` windows of equal length;
    pair ``k`` runs stable then candidate when ``k`` is even, candidate then stable when odd.
    """
    end = round(duration_s * NS)
    if stable is None:
        return [Segment(0, end, dict(values), "current")]
    edges = _window_edges(duration_s)
    count = len(edges) - 1
    arms = {ARMS[0]: dict(stable), ARMS[1]: dict(values)}
    out = []
    for i in range(count):
        first = ARMS[0] if (i // 2) % 2 == 0 else ARMS[1]
        arm = first if i % 2 == 0 else ARMS[1 - ARMS.index(first)]
        out.append(Segment(edges[i], edges[i + 1], arms[arm], arm))
    return out


def _window_edges(duration_s: float) -> list[int]:
    """The nanosecond edges of a trial iteration's ``2·max(1, ⌊minutes / 2⌋)`` windows."""
    end = round(duration_s * NS)
    count = 2 * max(1, int(duration_s // 120))
    return [end * i // count for i in range(count + 1)]


def _window_minute(start_ns: int, end_ns: int, minutes: int) -> int:
    """The minute whose label is a window's regime: the one holding its middle."""
    return min(int((start_ns / NS + end_ns / NS) / 2.0 // 60.0), minutes - 1)


def comparable_pairs(tape: MarketTape, reference: StrategyResult, *,
                     labels: np.ndarray | None = None) -> ForeseenPairs:
    """How many of a trial's window pairs this iteration's market would have let it compare
    (both windows in one regime, labelled from the quotes, and the gate's reference profile
    trading in both: what :func:`~soakkit.tuning.trial.pair_windows` keeps), and how many a
    trial iteration of its length has. ``labels``: :func:`minute_labels` of ``tape``, when
    the caller has them."""
    labels = minute_labels(tape) if labels is None else labels
    edges = _window_edges(tape.duration_s)
    regimes = [labels[_window_minute(a, b, labels.size)] for a, b in pairwise(edges)]
    traded = [bool(_inside(reference.fills.t, a, b).any()) for a, b in pairwise(edges)]
    pairs = list(zip(regimes[0::2], regimes[1::2], strict=True))
    both = [bool(a and b) for a, b in zip(traded[0::2], traded[1::2], strict=True)]
    same = [a == b for a, b in pairs]
    return ForeseenPairs(sum(bool(s and t) for s, t in zip(same, both, strict=True)),
                         sum(bool(s) for s in same), len(pairs))


def _inside(t: np.ndarray, start_ns: int, end_ns: int) -> np.ndarray:
    """Which of the times ``t`` (seconds) fall in a window ``[start, end)``."""
    return np.asarray((t >= start_ns / NS) & (t < end_ns / NS))


def minute_labels(tape: MarketTape) -> np.ndarray:
    """The regime of every minute, labelled from the quotes (what a live bot can see)."""
    minutes = max(1, round(tape.duration_s / 60.0))
    return label_minutes(tape.quote_ns, tape.mid_px, 0, minutes).labels


def observed_regime(tape: MarketTape, *, labels: np.ndarray | None = None) -> str:
    """The iteration's most common observed regime (ties: the calmer one)."""
    labels = minute_labels(tape) if labels is None else labels
    counts = np.bincount(labels, minlength=len(REGIME_NAMES))
    return REGIME_NAMES[int(np.argmax(counts))]


def observe_windows(tape: MarketTape, traded: Traded, reference: StrategyResult, *,
                    labels: np.ndarray | None = None) -> list[WindowObservation]:
    """What the bot observed in each window of ``traded`` (in order)."""
    labels = minute_labels(tape) if labels is None else labels
    ref_t = reference.fills.t
    ref_notional = tape.instrument.notional_usd(reference.fills.qty, reference.fills.price)
    out = []
    for seg, piece, part in zip(traded.segments, traded.tapes, traded.parts, strict=True):
        k = compute_kpis(piece, part, seg.params)
        t0, t1 = seg.start_ns / NS, seg.end_ns / NS
        minute = _window_minute(seg.start_ns, seg.end_ns, labels.size)
        inside = _inside(ref_t, seg.start_ns, seg.end_ns)
        exposure = inventory_path(piece, part, SAMPLE_S)[2]
        out.append(WindowObservation(
            seg.arm, REGIME_NAMES[int(labels[minute])], round(t1 - t0, 9),
            float(k["pnl_usd"]), float(k["volume_usd"]), float(k["fills"]["maker_volume"]),
            tuple(round(float(x), 2) for x in exposure),
            float(seg.params["risk_budget_notional"]), k["p95_latency_ms"],
            float(ref_notional[inside].sum())))
    return out


def window_records(windows: Sequence[WindowObservation], traded: Traded) -> list[dict[str, Any]]:
    """The windows of a trial iteration as recorded in ``tuning.trial.windows``."""
    return [{"start_s": round(seg.start_ns / NS, 6), "end_s": round(seg.end_ns / NS, 6),
             **w.to_json()} for w, seg in zip(windows, traded.segments, strict=True)]
