"""The causality table: what each tunable parameter does to each KPI, measured on paired seeds.

Each parameter is moved from its lower to its upper bound with everything else at the
profile's values; both runs of a pair see the same market (same seed), so the difference
is the parameter's effect. :data:`PREDICTIONS` states the direction market-making
economics predicts (+1 up, -1 down) where it predicts one; ``tests/test_causality.py``
holds the engine to it and ``docs/SIMULATOR.md`` records the measured table
(``bench/bench_causality.py`` prints it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from soakkit.config.params import PARAMS, TUNABLE, Value
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import DEFAULT_MARKET, MarketProfile
from soakkit.sim.replay import replay_window, windows_available
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.tapefile import RecordedTape

__all__ = ["METRICS", "PREDICTIONS", "REPLAY_MODE", "Effect", "Prediction", "effects_on",
           "measure_effects", "predicted", "replay_effects"]

#: What the table reports: KPIs, then diagnostics from ``summary.activity``.
METRICS: tuple[str, ...] = (
    "fill_count", "volume_usd", "gross_bps", "adverse_bps", "net_bps", "pnl_usd",
    "risk_ratio", "maker_taker_ratio", "p95_latency_ms", "order_age_p95_ms", "rejects",
    "orders_placed", "fill_probability", "unloads",
)

_UP, _DOWN = 1, -1
#: the mode of effects measured on a recorded tape: a real market mixes the regimes, so the
#: predictions that hold in every mode apply to it
REPLAY_MODE = "replay"
_SYNTHETIC = ("calm", "volatile", "spike", "mixed")
_ALL = (*_SYNTHETIC, REPLAY_MODE)
_BUSY = ("volatile", "spike")  # where requotes hit the replace budget and inventory the limit
_STEADY = ("calm", "volatile")  # where the replace budget leaves requotes to the loop


@dataclass(frozen=True)
class Prediction:
    """Direction (+1 up, -1 down) and the modes in which the mechanism is at work."""

    direction: int
    modes: tuple[str, ...] = _ALL


def _p(direction: int, modes: tuple[str, ...] = _ALL) -> Prediction:
    return Prediction(direction, modes)


#: Parameter → metric → predicted direction when the parameter goes from low to high.
PREDICTIONS: Mapping[str, Mapping[str, Prediction]] = {
    # a slower loop requotes less: fewer orders, each rests longer in its queue (older,
    # likelier to fill), but less quoting time at the touch: fewer fills. (In spike the
    # replace budget, not the loop, sets how long orders live.)
    "min_interval_ms": {"orders_placed": _p(_DOWN), "fill_probability": _p(_UP),
                        "order_age_p95_ms": _p(_UP, _STEADY), "fill_count": _p(_DOWN)},
    # more requotes allowed: more orders, each loses its queue priority sooner (lower fill
    # probability, younger orders); where the budget binds, more requests: latency, rejects.
    # (A real tape's budget binds only in its busiest seconds: too few extra requotes to
    # move the fill probability.)
    "replace_rate_per_min": {"orders_placed": _p(_UP), "fill_probability": _p(_DOWN,
                                                                              _SYNTHETIC),
                             "order_age_p95_ms": _p(_DOWN), "p95_latency_ms": _p(_UP, _BUSY),
                             "rejects": _p(_UP, _BUSY)},
    # a wider quote trades less, but earns more spread on what it trades (in spike, jumps
    # run through quotes at any distance, so the spread captured depends on the jumps)
    "base_spread_bps_delta": {"fill_count": _p(_DOWN), "volume_usd": _p(_DOWN),
                              "gross_bps": _p(_UP, _STEADY)},
    # larger quotes: more volume, inventory builds faster (on a real book the best level
    # holds far more than max_delta_ratio × the limit, which then sets the size at both
    # bounds: the synthetic market's thin levels only)
    "impact_cap_ratio": {"volume_usd": _p(_UP, _SYNTHETIC), "risk_ratio": _p(_UP, _SYNTHETIC)},
    "max_delta_ratio": {"volume_usd": _p(_UP), "risk_ratio": _p(_UP)},
    # refreshing less often: fewer orders and requests, each keeps its priority longer
    # (in spike, price moves replace orders long before their tail age; on a real tape the
    # requests left are requotes on price moves, which come in its busy seconds, so the
    # p95 latency over requests does not fall)
    "tail_age_ms": {"orders_placed": _p(_DOWN), "fill_probability": _p(_UP, _STEADY),
                    "order_age_p95_ms": _p(_UP), "p95_latency_ms": _p(_DOWN, _SYNTHETIC)},
    # more room for inventory: more risk; where the limit is reached, fewer taker unloads
    "position_limit_notional": {"risk_ratio": _p(_UP), "unloads": _p(_DOWN, _BUSY),
                                "maker_taker_ratio": _p(_UP, _BUSY)},
}


@dataclass(frozen=True)
class Effect:
    """Paired differences (high bound − low bound) of one metric, one per seed."""

    param: str
    mode: str
    metric: str
    diffs: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.diffs.mean())

    def agreement(self, direction: int) -> float:
        """Share of seeds whose difference has the predicted sign."""
        return float((np.sign(self.diffs) == direction).mean())


def predicted(param: str, metric: str, mode: str) -> int:
    """The predicted direction of ``metric`` when ``param`` goes up in ``mode`` (0: none)."""
    p = PREDICTIONS.get(param, {}).get(metric)
    return p.direction if p is not None and mode in p.modes else 0


def _metric(kpis: Mapping[str, Any], name: str) -> float:
    value = kpis[name] if name in kpis else kpis["activity"][name]
    return float(value or 0.0)


def measure_effects(values: Mapping[str, Value], modes: Iterable[str], seeds: Iterable[int],
                    minutes: int = 10, params: Iterable[str] = TUNABLE,
                    market: MarketProfile = DEFAULT_MARKET) -> list[Effect]:
    """Effects of moving each of ``params`` from its lower to its upper bound."""
    out = []
    seeds = list(seeds)
    for mode in modes:
        tapes = []
        for seed in seeds:
            market_seq, strategy_seq = np.random.SeedSequence(seed).spawn(2)
            tapes.append((simulate_market(mode, minutes, np.random.default_rng(market_seq),
                                          market), strategy_seq))
        out += effects_on(values, mode, tapes, params)
    return out


def replay_effects(values: Mapping[str, Value], tape: RecordedTape, seeds: Iterable[int],
                   minutes: int = 1, params: Iterable[str] = TUNABLE, l2: bool = True
                   ) -> list[Effect]:
    """The same on a recorded tape: seed ``s`` replays window ``s`` mod the windows the tape
    holds, with latency draws from ``s`` (``l2=False``: the tape's depth left out)."""
    windows = windows_available(tape, minutes)
    tapes = []
    for seed in seeds:
        window = replay_window(tape, seed % windows + 1, minutes)
        tapes.append((window if l2 else replace(window, depth=None),
                      np.random.SeedSequence(seed).spawn(2)[1]))
    return effects_on(values, REPLAY_MODE, tapes, params)


def effects_on(values: Mapping[str, Value], mode: str,
               tapes: list[tuple[MarketTape, np.random.SeedSequence]],
               params: Iterable[str] = TUNABLE) -> list[Effect]:
    """Paired effects of each of ``params`` (low → high bound) on prepared markets."""
    out = []
    for name in params:
        runs = []
        for bound in (PARAMS[name].lo, PARAMS[name].hi):
            p = {**values, name: bound}
            runs.append([compute_kpis(tape, run_strategy(tape, p, np.random.default_rng(s)), p)
                         for tape, s in tapes])
        for metric in METRICS:
            diffs = np.array([_metric(h, metric) - _metric(lo, metric)
                              for lo, h in zip(runs[0], runs[1], strict=True)])
            out.append(Effect(name, mode, metric, diffs))
    return out
