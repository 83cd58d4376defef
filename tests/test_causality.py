"""The causality table holds: each tunable parameter moves each KPI the way economics predicts.

Paired seeds: both runs of a pair see the same market, so each difference is the
parameter's effect. A predicted cell holds when the mean difference has the predicted
sign and at least 6 of the 8 seeds agree. The measured table is in docs/SIMULATOR.md
(``bench/bench_causality.py``).
"""

from __future__ import annotations

from functools import cache

import pytest

from soakkit.evidence.causality import PREDICTIONS, Effect, measure_effects

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
    effect = _effects(mode)[(param, metric)]
    assert effect.mean * direction > 0, (effect.mean, effect.diffs)
    assert effect.agreement(direction) >= 0.75, effect.diffs


def test_faster_requoting_costs_fill_probability() -> None:
    """With queue position, every way of requoting faster loses priority more often."""
    for mode in ("calm", "volatile"):
        effects = _effects(mode)
        assert effects[("min_interval_ms", "fill_probability")].mean > 0  # slower loop
        assert effects[("tail_age_ms", "fill_probability")].mean > 0  # rarer refresh
        assert effects[("replace_rate_per_min", "fill_probability")].mean < 0  # more requotes
