"""The causality table holds: each tunable parameter moves each KPI the way economics predicts.

Paired seeds: both runs of a pair see the same market, so each difference is the
parameter's effect. A predicted cell holds when the mean difference has the predicted
sign and at least 6 of the 8 seeds agree. The measured table is in docs/SIMULATOR.md
(``bench/bench_causality.py``).
"""

from __future__ import annotations

from functools import cache

import pytest

from soakkit.evidence.causality import (
    PREDICTIONS,
    REPLAY_MODE,
    Effect,
    measure_effects,
    replay_effects,
)
from soakkit.sim.replay import load_tape

from .conftest import REPO
from .simhelp import params

MODES = ("calm", "volatile", "spike")
SEEDS = range(8)


@cache
def _effects(mode: str) -> dict[tuple[str, str], Effect]:
    return {(e.param, e.metric): e for e in measure_effects(params(), [mode], SEEDS)}


CELLS = [(param, metric, mode, p.direction) for param, row in PREDICTIONS.items()
         for metric, p in row.items() for mode in MODES if mode in p.modes]


@pytest.mark.slow
@pytest.mark.parametrize(("param", "metric", "mode", "direction"), CELLS,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CELLS])
def test_parameter_moves_kpi_as_predicted(param: str, metric: str, mode: str,
                                          direction: int) -> None:
    _holds(_effects(mode)[(param, metric)], direction)


def _holds(effect: Effect, direction: int) -> None:
    """The mean has the predicted sign and at least 6 of the 8 seeds agree."""
    assert effect.mean * direction > 0, (effect.mean, effect.diffs)
    assert effect.agreement(direction) >= 0.75, effect.diffs


@pytest.mark.slow
def test_faster_requoting_costs_fill_probability() -> None:
    """With queue position, every way of requoting faster loses priority more often."""
    for mode in ("calm", "volatile"):
        effects = _effects(mode)
        assert effects[("min_interval_ms", "fill_probability")].mean > 0  # slower loop
        assert effects[("tail_age_ms", "fill_probability")].mean > 0  # rarer refresh
        assert effects[("replace_rate_per_min", "fill_probability")].mean < 0  # more requotes


REAL = REPO / "examples" / "tapes" / "binance-spot-btcusdt"
REPLAY_CELLS = [(param, metric, p.direction) for param, row in PREDICTIONS.items()
                for metric, p in row.items() if REPLAY_MODE in p.modes]


@cache
def _replayed(l2: bool) -> dict[tuple[str, str], Effect]:
    """Effects on the real sample (BTCUSDT spot, an L2 tape with receive times), 8 paired
    seeds over its five 1-minute windows, quoting 0.5 bps from the mid (inside its depth)."""
    values = params(base_spread_bps=0.5)
    return {(e.param, e.metric): e for e in replay_effects(values, load_tape(REAL), SEEDS,
                                                           l2=l2)}


@pytest.mark.slow
@pytest.mark.parametrize("l2", [True, False], ids=["L2", "L1"])
@pytest.mark.parametrize(("param", "metric", "direction"), REPLAY_CELLS,
                         ids=[f"{c[0]}-{c[1]}" for c in REPLAY_CELLS])
def test_the_table_holds_on_a_real_tape(param: str, metric: str, direction: int,
                                        l2: bool) -> None:
    _holds(_replayed(l2)[(param, metric)], direction)
