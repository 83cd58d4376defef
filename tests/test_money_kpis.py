"""The money and risk KPIs: definitions, what they respond to, and what they ignore."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soakkit.gate import ACTIVITY_FLOOR
from soakkit.kpi import KPIS, with_reference
from soakkit.sim.regimes import MARKET, MODES, STRATEGY

from .simhelp import simulate


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(MODES), seed=st.integers(0, 2**32 - 1), minutes=st.integers(1, 6),
       limit=st.floats(1000.0, 20000.0), spread=st.floats(0.0, 3.0))
def test_money_kpis_follow_their_definitions(mode: str, seed: int, minutes: int, limit: float,
                                             spread: float) -> None:
    tape, result, k = simulate(mode, seed, minutes, position_limit_notional=limit,
                               base_spread_bps_delta=spread)
    assert k["pnl_per_hour_usd"] == pytest.approx(k["pnl_usd"] * 3600.0 / tape.duration_s)
    assert k["inventory_p95_usd"] == pytest.approx(k["risk_ratio"] * 10_000.0)
    if k["inventory_p95_usd"] > 0:
        assert k["risk_adjusted_pnl"] == pytest.approx(k["pnl_usd"] / k["inventory_p95_usd"])
    assert k["max_drawdown_usd"] >= 0.0
    assert k["max_drawdown_usd"] >= -k["pnl_usd"] - 1e-9  # the curve starts at 0, ends at pnl
    f = result.fills
    if f.t.size:
        cost = -f.side * f.qty * (tape.mid_at(f.t + MARKET.markout_s) - f.mid)
        late = f.t + MARKET.markout_s >= tape.duration_s
        cost = np.where(late, -f.side * f.qty * (tape.mid_end - f.mid), cost)
        assert k["adverse_cost_usd_p95"] == pytest.approx(float(np.percentile(cost, 95)))


def test_drawdown_is_the_largest_fall_of_the_marked_p_and_l() -> None:
    tape, result, k = simulate("spike", 11)
    f = result.fills
    fee = np.where(f.taker, -MARKET.taker_fee_bps, MARKET.maker_rebate_bps) * f.qty * f.price / 1e4
    cash, held = np.cumsum(-f.side * f.qty * f.price + fee), np.cumsum(f.side * f.qty)
    grid = np.arange(0.0, tape.duration_s, STRATEGY.risk_sample_s)
    equity = [0.0]
    for t, m in zip(grid, tape.mid_at(grid), strict=True):  # the slow, obvious way
        i = int(np.searchsorted(f.t, t, side="right")) - 1
        equity.append(cash[i] + held[i] * m if i >= 0 else 0.0)
    equity.append(cash[-1] + held[-1] * tape.mid_end)
    assert equity[-1] == pytest.approx(k["pnl_usd"])
    worst = max(max(equity[:j + 1]) - equity[j] for j in range(len(equity)))
    assert k["max_drawdown_usd"] == pytest.approx(worst)
    assert k["max_drawdown_usd"] > 0


def test_risk_adjusted_pnl_does_not_depend_on_the_risk_budget() -> None:
    small = simulate("volatile", 3, risk_budget_notional=10_000.0)[2]
    large = simulate("volatile", 3, risk_budget_notional=50_000.0)[2]
    assert large["risk_ratio"] == pytest.approx(small["risk_ratio"] / 5)  # the budget games this
    assert large["risk_adjusted_pnl"] == small["risk_adjusted_pnl"]  # ...not this
    assert large["inventory_p95_usd"] == small["inventory_p95_usd"]


@pytest.mark.parametrize(("param", "lo", "hi"), [("impact_cap_ratio", 0.02, 0.2),
                                                 ("max_delta_ratio", 0.05, 0.3)])
def test_notional_weighted_tails_see_the_quote_size(param: str, lo: float, hi: float) -> None:
    """The bps tails are blind to size; the USD tails grow with it (issue 10)."""
    small = [simulate("volatile", s, **{param: lo})[2] for s in range(4)]
    big = [simulate("volatile", s, **{param: hi})[2] for s in range(4)]
    for a, b in zip(small, big, strict=True):
        assert b["adverse_cost_usd_p95"] > a["adverse_cost_usd_p95"]
        assert b["slippage_cost_usd_p95"] >= a["slippage_cost_usd_p95"]


def test_the_reference_sets_the_activity_share() -> None:
    reference = simulate("calm", 5)[2]
    idle = simulate("calm", 5, impact_cap_ratio=0.02, max_delta_ratio=0.05,
                    position_limit_notional=1440.0)[2]
    out = with_reference(idle, reference)
    assert out["volume_vs_reference"] == pytest.approx(idle["volume_usd"] / reference["volume_usd"])
    assert out["volume_vs_reference"] < ACTIVITY_FLOOR  # a tenth of the quote: below the floor
    assert out["reference"]["pnl_usd"] == reference["pnl_usd"]
    assert with_reference(reference, reference)["volume_vs_reference"] == 1.0
    assert set(KPIS) <= set(out)
