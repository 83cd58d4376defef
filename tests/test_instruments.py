"""Instruments: spot, linear and inverse contracts, booked in USD from one definition.

The COIN-M test replays a real capture (tests/data/tapes): one ETHUSD_PERP contract is
10 USD, so a fill's notional is contracts × 10 whatever the price, and P&L accrues in ETH
(``q·cs·(1/p0 − 1/p1)``) before the KPIs convert it to USD.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soakkit.kpi import compute_kpis
from soakkit.sim.importers import import_binance_capture
from soakkit.sim.instrument import Instrument, binance_contract_size
from soakkit.sim.regimes import MARKET
from soakkit.sim.replay import replay_span
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tapefile import read_tape

from .conftest import REPO
from .simhelp import params

COINM = REPO / "tests" / "data" / "tapes" / "capture" / "cm-ethusd_perp-20240809.gz"


def test_notional_and_value_by_kind() -> None:
    linear = Instrument(0.01, 0.001, "linear")
    inverse = Instrument(0.1, 1.0, "inverse", 100.0)
    assert linear.notional_usd(2.0, 2500.0) == pytest.approx(5000.0)
    assert inverse.notional_usd(3.0, 61000.0) == pytest.approx(300.0)  # 3 × 100 USD
    assert inverse.notional_usd(3.0, 1.0) == pytest.approx(300.0)  # price-free
    # a long of 3 contracts from 60,000 to 61,000 makes 3·100·(1/60k − 1/61k) BTC
    coin = 3 * (inverse.value(61000.0) - inverse.value(60000.0))
    assert coin == pytest.approx(300 * (1 / 60000 - 1 / 61000))
    assert inverse.settle_to_usd(coin, 61000.0) == pytest.approx(coin * 61000.0)
    assert linear.settle_to_usd(7.0, 61000.0) == 7.0
    assert binance_contract_size("BTCUSD_PERP") == 100.0
    assert binance_contract_size("ETHUSD_240927") == 10.0
    with pytest.raises(ValueError, match="kind"):
        Instrument(0.01, 1.0, "option")


def test_coinm_notional_per_fill_is_contracts_times_contract_size(tmp_path: Path) -> None:
    import_binance_capture([COINM], tmp_path / "cm")
    recorded = read_tape(tmp_path / "cm")
    tape = replay_span(recorded, recorded.start_ns, recorded.start_ns + 28 * 10**9)
    inst = tape.instrument
    assert (inst.kind, inst.contract_size, inst.lot) == ("inverse", 10.0, 1.0)
    p = params(base_spread_bps=0.5, base_spread_bps_delta=0.0)  # near the touch: fills
    result = run_strategy(tape, p, np.random.default_rng(3))
    kpis = compute_kpis(tape, result, p)
    f = result.fills
    assert f.lots.size >= 5
    per_fill = inst.notional_usd(f.qty, f.price)
    assert np.array_equal(per_fill, f.lots * 10.0)  # contracts × 10 USD, exactly
    assert kpis["volume_usd"] == pytest.approx(float(f.lots.sum()) * 10.0)
    assert kpis["fill_count"] == f.lots.size
    # nowhere near the coin booking (contracts × price): ~270× less
    assert kpis["volume_usd"] < float((f.qty * f.price).sum()) / 100
    # P&L in ETH, converted at the final mid: cash flows + closing mark + fees
    fee = np.where(f.taker, -MARKET.taker_fee_bps, MARKET.maker_rebate_bps) / 1e4
    coin = float((f.side * f.qty * 10.0 / f.price).sum()) + float((fee * per_fill
                                                                   / f.price).sum())
    coin -= float((f.side * f.qty).sum()) * 10.0 / tape.mid_end
    assert kpis["pnl_usd"] == pytest.approx(coin * tape.mid_end, rel=1e-9, abs=1e-9)
    parts = kpis["gross_bps"] + kpis["fees_bps"] + kpis["adverse_bps"] + kpis["inventory_bps"]
    assert kpis["net_bps"] == pytest.approx(parts, abs=1e-9)
    # risk in USD: |contracts| × 10, whatever the price
    assert kpis["inventory_p95_usd"] <= float(np.abs(f.position).max()) * 10.0 + 1e-9


def test_linear_kpis_do_not_move(tmp_path: Path) -> None:
    """A linear instrument books exactly as before (the synthetic market is linear)."""
    from .simhelp import simulate

    tape, result, kpis = simulate("calm", 1, minutes=2)
    f = result.fills
    assert tape.instrument.kind == "linear"
    assert kpis["volume_usd"] == float((f.qty * f.price).sum())
    cash = float(-(f.side * (f.qty * f.price)).sum())
    fees = float((np.where(f.taker, -MARKET.taker_fee_bps, MARKET.maker_rebate_bps)
                  * (f.qty * f.price) / 1e4).sum())
    assert kpis["pnl_usd"] == cash + fees + float((f.side * f.qty).sum()) * tape.mid_end
