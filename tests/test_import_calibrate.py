"""Public-format importers (Tardis, Binance) and calibration of the synthetic market to a tape."""

from __future__ import annotations

import dataclasses
import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from soakkit.sim.calibrate import calibrate, read_market_profile, write_market_profile
from soakkit.sim.importers import import_binance, import_tardis
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import DEFAULT_MARKET, REGIMES
from soakkit.sim.replay import record
from soakkit.sim.tape import MarketTape
from soakkit.sim.tapefile import read_tape, write_tape

from .conftest import assert_one_line_error, run_subprocess

NOW = "2026-11-24T12:00:00Z"
ORIGIN_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in µs


def _market(minutes: int = 3, mode: str = "volatile", seed: int = 1) -> MarketTape:
    return simulate_market(mode, minutes, np.random.default_rng(seed))


def _tardis(tmp: Path, m: MarketTape) -> tuple[Path, Path]:
    """The market as Tardis trades + quotes CSVs (µs), with rows a replay cannot use."""
    us_t = ORIGIN_US + m.trade_ns // 1000
    us_q = ORIGIN_US + m.quote_ns // 1000
    trades = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    for i, (ts, side, px, qty) in enumerate(zip(us_t.tolist(), m.trade_side.tolist(),
                                                m.trade_px.tolist(), m.trade_qty.tolist(),
                                                strict=True)):
        trades.append(f"binance-futures,SYNUSDT,{ts},{ts + 1500},{i},"
                      f"{'buy' if side > 0 else 'sell'},{px * m.tick:.1f},{qty * m.lot:.4f}")
    trades.insert(5, f"binance-futures,SYNUSDT,{us_t[3]},{us_t[3]},x,unknown,50000.0,0.0100")
    quotes = ["exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,"
              "bid_amount"]
    for ts, b, bq, a, aq in zip(us_q.tolist(), m.bid_px.tolist(), m.bid_qty.tolist(),
                                m.ask_px.tolist(), m.ask_qty.tolist(), strict=True):
        quotes.append(f"binance-futures,SYNUSDT,{ts},{ts + 900},{aq * m.lot:.4f},"
                      f"{a * m.tick:.1f},{b * m.tick:.1f},{bq * m.lot:.4f}")
    quotes.insert(7, f"binance-futures,SYNUSDT,{us_q[5]},{us_q[5]},,,49990.0,1.0")  # empty ask
    quotes.insert(9, f"binance-futures,SYNUSDT,{us_q[7]},{us_q[7]},1.0,49990.0,50010.0,1.0")
    quotes[20], quotes[21] = quotes[21], quotes[20]  # one pair out of time order
    t_path, q_path = tmp / "trades.csv.gz", tmp / "quotes.csv"
    t_path.write_bytes(gzip.compress(("\n".join(trades) + "\n").encode()))
    q_path.write_text("\n".join(quotes) + "\n")
    return t_path, q_path


def test_tardis_import_keeps_the_market_and_counts_what_it_drops(tmp_path: Path) -> None:
    m = _market()
    report = import_tardis(*_tardis(tmp_path, m), tmp_path / "tape")
    assert report.trades == m.trade_ns.size and report.quotes == m.quote_ns.size
    dropped = {k.split()[0] + k.split()[-1]: v for k, v in report.dropped.items()}
    assert sum(report.dropped.values()) == 3 and 1 in dropped.values()
    assert report.reordered["quote"] >= 1
    lines = report.lines()
    assert any("dropped 1 quotes with an empty side" in line for line in lines)
    tape = read_tape(tmp_path / "tape")
    assert tape.tick == pytest.approx(m.tick) and tape.lot == pytest.approx(m.lot)
    assert np.array_equal(tape.trade_ns, (ORIGIN_US + m.trade_ns // 1000) * 1000)
    assert np.array_equal(tape.trade_px, m.trade_px)
    assert np.array_equal(tape.trade_side, m.trade_side)
    assert np.array_equal(tape.bid_qty, m.bid_qty)


def test_binance_futures_and_spot_files_import(tmp_path: Path) -> None:
    agg = tmp_path / "BTCUSDT-aggTrades-2024-03-01.csv"
    agg.write_text("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
                   "is_buyer_maker\n"
                   "1,42283.10,0.004,1,1,1704067200012,false\n"
                   "2,42283.20,0.150,2,4,1704067200012,false\n"
                   "3,42283.00,0.020,5,5,1704067200040,true\n")
    ticker = tmp_path / "BTCUSDT-bookTicker-2024-03-01.csv"
    ticker.write_text("update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,"
                      "transaction_time,event_time\n"
                      "1,42283.00,5.870,42283.10,3.112,1704067200009,1704067200010\n"
                      "7,42283.00,5.870,42283.20,2.962,1704067200012,1704067200012\n"
                      "12,42282.90,5.850,42283.20,2.962,1704067200040,1704067200041\n")
    report = import_binance(agg, ticker, tmp_path / "fut", symbol="BTCUSDT")
    assert (report.trades, report.quotes) == (3, 3)
    tape = read_tape(tmp_path / "fut")
    assert tape.trade_side.tolist() == [1, 1, -1]  # is_buyer_maker=true: seller aggressed
    assert tape.trade_ns.tolist()[0] == 1_704_067_200_012_000_000
    # inferred: the coarsest steps these few rows share (--tick/--lot set them explicitly)
    assert tape.tick == pytest.approx(0.1) and tape.lot == pytest.approx(0.002)
    import_binance(agg, ticker, tmp_path / "fut2", lot=0.001)
    assert read_tape(tmp_path / "fut2").lot == pytest.approx(0.001)
    spot = tmp_path / "spot.csv"  # no header, 8 columns, µs (2025 on)
    spot.write_text("3380000001,94210.01000000,0.00210000,1,1,1735689600010866,False,True\n"
                    "3380000002,94210.00000000,0.00012000,2,2,1735689600052113,True,True\n")
    ticker2 = tmp_path / "t2.csv"
    ticker2.write_text(ticker.read_text().replace("42283", "94210").replace("170406720",
                                                                            "173568960"))
    zipped = tmp_path / "spot-aggTrades.zip"  # as data.binance.vision ships them
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(spot, "spot-aggTrades.csv")
    import_binance(zipped, ticker2, tmp_path / "spot", symbol="BTCUSDT")
    tape = read_tape(tmp_path / "spot")
    assert tape.trade_ns.tolist() == [1_735_689_600_010_866_000, 1_735_689_600_052_113_000]
    assert tape.trade_side.tolist() == [1, -1]


def test_a_broken_public_file_is_one_line(tmp_path: Path) -> None:
    t, q = _tardis(tmp_path, _market(1))
    q.write_text(q.read_text().replace(",49990.0,50010.0,", ",49990.0,five,", 1))
    result = run_subprocess("tape", "import", "--from", "tardis", "--trades", str(t),
                            "--quotes", str(q), "--out", str(tmp_path / "x"))
    assert result.code == 2
    assert_one_line_error(result, "quotes.csv:10: bid_price 'five' is not a number")
    assert not (tmp_path / "x").exists()


def test_done_when_replay_runs_on_a_converted_public_format_file(tmp_path: Path) -> None:
    t, q = _tardis(tmp_path, _market(4, "mixed", 2))
    done = run_subprocess("tape", "import", "--from", "tardis", "--trades", str(t), "--quotes",
                          str(q), "--out", str(tmp_path / "tape"))
    assert done.code == 0, done.err
    assert "dropped 1 trades without an aggressor side" in done.out
    soak = run_subprocess("soak", "--market-data", str(tmp_path / "tape"), "--iterations", "2",
                          "--sim-minutes", "1", "--artifacts", str(tmp_path / "art"), "--now",
                          NOW)
    assert soak.code in (0, 1) and "Traceback" not in soak.err, soak.err
    doc = json.loads(next((tmp_path / "art" / "runs").glob("*/ITER_SUMMARY_2.json")).read_text())
    assert doc["market"]["window_start_utc"] == "2024-01-01T00:01:00.000Z"
    assert doc["summary"]["fill_count"] > 0


@pytest.mark.slow
def test_a_market_profile_round_trips_and_drives_synthetic_soaks(tmp_path: Path) -> None:
    m = _market(3, "calm", 4)
    folder = write_tape(tmp_path / "tape", record(m, ORIGIN_US * 1000))
    done = run_subprocess("calibrate", str(folder), "--name", "venue", "--artifacts",
                          str(tmp_path / "art"))
    assert done.code == 0, done.err
    path = tmp_path / "art" / "markets" / "venue.json"
    profile = read_market_profile(path)
    assert profile.name == "venue" and profile.order_book and "spike" not in profile.seen
    assert profile.fit["derived"]["spike"].startswith("from ")  # type: ignore[index]
    write_market_profile(tmp_path / "copy.json", profile)
    assert read_market_profile(tmp_path / "copy.json").seen == profile.seen
    # a synthetic soak on the fitted market: its price grid is the tape's
    bigger = dataclasses.replace(profile, tick=10.0, mid0=20_000.0)
    write_market_profile(tmp_path / "art" / "markets" / "big.json", bigger)
    soak = run_subprocess("soak", "--market", "big", "--mode", "calm", "--iterations", "1",
                          "--sim-minutes", "1", "--artifacts", str(tmp_path / "art"), "--now",
                          NOW)
    assert soak.code in (0, 1), soak.err
    doc = json.loads(next((tmp_path / "art" / "runs").glob("*/ITER_SUMMARY_1.json")).read_text())
    assert doc["market"] == {"source": "synthetic", "profile": "big", "gaps": []}
    # without --mode, a calibrated market runs its fitted regime mix
    fitted = run_subprocess("soak", "--market", str(path), "--iterations", "1", "--sim-minutes",
                            "1", "--artifacts", str(tmp_path / "art2"), "--now", NOW)
    assert fitted.code in (0, 1), fitted.err
    run = json.loads(next((tmp_path / "art2" / "runs").glob("*/RUN.json")).read_text())
    assert run["options"]["mode"] == "mixed", run["options"]
    # and `tape sample --market` writes what that market generates
    sample = run_subprocess("tape", "sample", str(tmp_path / "sample"), "--market", str(path),
                            "--minutes", "2", "--seed", "3")
    assert sample.code == 0, sample.err
    assert "minutes of mixed market 'venue'" in sample.out
    written = read_tape(tmp_path / "sample")
    assert written.trade_ns.size > np.unique(written.trade_ns).size  # several prints an order
    missing = run_subprocess("soak", "--market", "nope", "--artifacts", str(tmp_path / "art"))
    assert missing.code == 2
    assert_one_line_error(missing, "--market nope: no market profile", "soakkit calibrate")
    broken = tmp_path / "broken.json"
    broken.write_text(path.read_text().replace('"tick"', '"tock"'))
    bad = run_subprocess("soak", "--market", str(broken), "--artifacts", str(tmp_path / "art"))
    assert bad.code == 2
    assert_one_line_error(bad, "broken.json: tick")


def test_the_default_market_is_the_regimes_table() -> None:
    assert DEFAULT_MARKET.regimes is REGIMES


@pytest.mark.slow
def test_calibrating_on_a_real_l2_tape_fits_its_depth_instrument_and_load(
        tmp_path: Path) -> None:
    from .conftest import REPO

    tape = read_tape(REPO / "examples" / "tapes" / "binance-spot-btcusdt")
    profile = calibrate(tape, "btc")
    assert (profile.kind, profile.contract_size) == ("spot", 1.0)
    load = profile.fit["load"]  # fitted on the calibration window (its whole minutes)
    assert isinstance(load, dict)
    assert profile.latency.activity_ref_per_s == load["ref_per_s"]
    assert load["ref_per_s"] == pytest.approx(tape.load.ref_per_s, rel=0.05)
    assert profile.latency.activity_gain == pytest.approx(tape.load.gain, rel=0.05)
    assert profile.latency.feed_ms == tape.load.base_ms
    seen = [r for r, n in profile.fit["observed_minutes"].items() if n]  # type: ignore[union-attr]
    assert seen and tuple(seen) == profile.seen
    assert all(profile.regimes[r].deep_depth_usd > 0 for r in REGIMES)
    path = write_market_profile(tmp_path / "btc.json", profile)
    back = read_market_profile(path)
    assert back.kind == "spot"  # JSON keeps 10 significant digits
    assert dataclasses.asdict(back.latency) == pytest.approx(dataclasses.asdict(profile.latency))
    assert back.regimes["volatile"].deep_depth_usd == pytest.approx(
        profile.regimes["volatile"].deep_depth_usd)
    # a profile written before instruments, L2, fitted latency and the order book still reads
    doc = json.loads(write_market_profile(tmp_path / "classic.json", DEFAULT_MARKET).read_text())
    for key in ("kind", "contract_size", "latency", "seen"):
        del doc[key]
    for spec in doc["regimes"].values():
        del spec["deep_depth_usd"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    old = read_market_profile(tmp_path / "old.json")
    assert old.kind == "linear" and old.latency == DEFAULT_MARKET.latency
    assert not old.order_book and old.regimes == REGIMES
    synthetic = simulate_market("volatile", 1, np.random.default_rng(1), profile)
    assert synthetic.instrument.kind == "spot"  # and the profile's latency, keyed by event
    assert synthetic.latency == dataclasses.replace(profile.latency, keyed=True)
