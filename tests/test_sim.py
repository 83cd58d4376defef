"""The simulator and strategy: seeded, vectorised, and every KPI a consequence of the inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import MARKET, MODES, REGIME_NAMES, regime_schedule
from soakkit.sim.stats import median

from .simhelp import kpi_mean, simulate


@pytest.mark.determinism
def test_same_seed_same_everything() -> None:
    a_tape, a_res, a_kpi = simulate("mixed", 3)
    b_tape, b_res, b_kpi = simulate("mixed", 3)
    assert np.array_equal(a_tape.trade_ns, b_tape.trade_ns)
    assert np.array_equal(a_tape.mid_px, b_tape.mid_px)
    assert np.array_equal(a_res.fills.price, b_res.fills.price)
    assert a_kpi == b_kpi
    assert simulate("mixed", 4)[2] != a_kpi


@pytest.mark.determinism
def test_global_random_state_is_never_used() -> None:
    np.random.seed(1)  # noqa: NPY002 - the point: legacy global state must not matter
    first = simulate("volatile", 5)[2]
    np.random.seed(2)  # noqa: NPY002
    np.random.random(1000)  # noqa: NPY002
    assert simulate("volatile", 5)[2] == first


def test_market_does_not_depend_on_parameters() -> None:
    tape_a = simulate("volatile", 9, min_interval_ms=40)[0]
    tape_b = simulate("volatile", 9, min_interval_ms=300, base_spread_bps_delta=2.0)[0]
    assert np.array_equal(tape_a.trade_ns, tape_b.trade_ns)
    assert np.array_equal(tape_a.mid_px, tape_b.mid_px)


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(MODES), seed=st.integers(0, 2**32 - 1), minutes=st.integers(1, 6),
       spread=st.floats(0.0, 3.0), interval=st.integers(40, 300),
       limit=st.floats(1000.0, 20000.0))
def test_net_is_exactly_the_sum_of_its_components(mode: str, seed: int, minutes: int,
                                                  spread: float, interval: int,
                                                  limit: float) -> None:
    k = simulate(mode, seed, minutes, base_spread_bps_delta=spread, min_interval_ms=interval,
                 position_limit_notional=limit)[2]
    parts = k["gross_bps"] + k["fees_bps"] + k["adverse_bps"] + k["inventory_bps"]
    assert k["net_bps"] == pytest.approx(parts, abs=1e-9)
    assert k["pnl_usd"] == pytest.approx(k["net_bps"] * k["volume_usd"] / 1e4, abs=1e-6)


def test_fees_are_rebates_minus_taker_fees() -> None:
    k = simulate("volatile", 2, position_limit_notional=2000.0)[2]
    f = k["fills"]
    expected = (MARKET.maker_rebate_bps * f["maker_volume"]
                - MARKET.taker_fee_bps * f["taker_volume"]) / (f["maker_volume"]
                                                               + f["taker_volume"])
    assert f["taker_volume"] > 0
    assert k["fees_bps"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_regimes_differ_clearly_over_twenty_seeds() -> None:
    seeds = range(20)
    calm = [simulate("calm", s)[2] for s in seeds]
    spike = [simulate("spike", s)[2] for s in seeds]
    for key in ("adverse_bps_p95", "risk_ratio"):
        c = np.array([k[key] for k in calm])
        s = np.array([k[key] for k in spike])
        assert s.min() > np.median(c), key  # every spike seed above the calm median
        assert s.mean() > c.mean() + 3 * np.sqrt(c.var() / 20 + s.var() / 20), key
    vol = [simulate("volatile", s)[2]["adverse_bps_p95"] for s in seeds]
    assert np.mean(vol) > np.mean([k["adverse_bps_p95"] for k in calm])


def test_mixed_mode_switches_regimes() -> None:
    schedule = regime_schedule("mixed", 600, np.random.default_rng(1))
    counts = np.bincount(schedule, minlength=3)
    assert all(counts > 30), counts
    assert (np.diff(schedule) != 0).sum() > 30
    tape = simulate_market("mixed", 60, np.random.default_rng(2))
    assert sum(tape.regime_mix().values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown mode"):
        regime_schedule("storm", 3, np.random.default_rng(0))
    assert set(REGIME_NAMES) == {"calm", "volatile", "spike"}


def test_wider_spread_fewer_fills_more_gross_per_fill() -> None:
    def per_fill(**kw: float) -> tuple[float, float]:
        ks = [simulate("calm", s, **kw)[2] for s in range(10)]
        fills = np.mean([k["fill_count"] for k in ks])
        gross_usd = np.mean([k["gross_bps"] * k["volume_usd"] / 1e4 / k["fill_count"]
                             for k in ks])
        return float(fills), float(gross_usd)

    narrow = per_fill(base_spread_bps_delta=0.0)
    wide = per_fill(base_spread_bps_delta=1.0)
    assert wide[0] < narrow[0] * 0.7
    assert wide[1] > narrow[1]


@pytest.mark.slow
def test_longer_interval_orders_live_longer_and_fill_more_often() -> None:
    """A slower loop leaves each order in its queue longer: older orders, and a larger
    share of them filled before the bot replaces them (fewer cancelled unfilled)."""
    for mode in ("calm", "volatile"):
        fast = [simulate(mode, s, min_interval_ms=50)[2] for s in range(8)]
        slow = [simulate(mode, s, min_interval_ms=250)[2] for s in range(8)]

        def unfilled_share(ks: list[dict[str, float]]) -> float:
            return float(np.mean([1.0 - k["activity"]["fill_probability"] for k in ks]))

        assert unfilled_share(slow) < unfilled_share(fast), mode
        assert np.mean([k["order_age_p95_ms"] for k in slow]) > np.mean(
            [k["order_age_p95_ms"] for k in fast]), mode


def test_lower_position_limit_lower_risk_more_taker_unloads() -> None:
    """A lower limit caps inventory (lower risk) by unloading more often: more taker
    orders and a larger taker share of the volume (its quotes are also smaller, since
    max_delta_ratio caps them as a share of the limit, so taker USD alone need not grow)."""
    high = [simulate("volatile", s, position_limit_notional=6000.0)[2] for s in range(8)]
    low = [simulate("volatile", s, position_limit_notional=2500.0)[2] for s in range(8)]
    assert np.mean([k["risk_ratio"] for k in low]) < np.mean([k["risk_ratio"] for k in high])
    assert np.mean([k["activity"]["unloads"] for k in low]) > np.mean(
        [k["activity"]["unloads"] for k in high])
    assert np.mean([k["maker_taker_ratio"] for k in low]) < np.mean(
        [k["maker_taker_ratio"] for k in high])


@pytest.mark.slow
def test_latency_grows_with_request_load() -> None:
    assert kpi_mean("volatile", "p95_latency_ms", replace_rate_per_min=360) > kpi_mean(
        "volatile", "p95_latency_ms", replace_rate_per_min=150)
    assert kpi_mean("volatile", "p95_latency_ms", concurrency_limit=32) < kpi_mean(
        "volatile", "p95_latency_ms", concurrency_limit=6)


@pytest.mark.slow
def test_smaller_quotes_trade_less_notional() -> None:
    assert kpi_mean("calm", "volume_usd", impact_cap_ratio=0.03) < kpi_mean(
        "calm", "volume_usd", impact_cap_ratio=0.12)
    assert kpi_mean("spike", "volume_usd", max_delta_ratio=0.05) < kpi_mean(
        "spike", "volume_usd", max_delta_ratio=0.3)


def test_tail_age_refreshes_old_orders() -> None:
    short = simulate("calm", 1, tail_age_ms=300)
    long = simulate("calm", 1, tail_age_ms=1500)
    assert short[1].requotes["refresh"] > long[1].requotes["refresh"]
    assert short[2]["order_age_p95_ms"] < long[2]["order_age_p95_ms"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), min_size=1,
                max_size=40))
def test_median_is_numpys_bit_for_bit(values: list[float]) -> None:
    assert median(np.array(values)) == float(np.median(values))
    assert median(values) == float(np.median(values))


def test_median_of_a_sample_with_nan_is_nan() -> None:
    assert np.isnan(median(np.array([1.0, np.nan, 2.0])))
