"""Replay of recorded tapes: the format, bad tapes, windows, labels, gaps, and soak --market-data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from soakkit.core.errors import TapeError
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import load_tape, record, replay_window, windows_available
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tapefile import read_tape, write_tape
from soakkit.soak import SoakOptions, run_soak

from .conftest import REPO, assert_one_line_error, run_subprocess
from .simhelp import params

NOW = "2026-11-24T12:00:00Z"
ORIGIN = 1_700_000_000 * 10**9
SAMPLE = REPO / "examples" / "tapes" / "sample"
REAL = REPO / "examples" / "tapes" / "binance-spot-btcusdt"


def _synthetic(tmp: Path, mode: str = "mixed", minutes: int = 4, seed: int = 3) -> Path:
    market = simulate_market(mode, minutes, np.random.default_rng(seed))
    return write_tape(tmp / "tape", record(market, ORIGIN, "TEST", "test"))


def _as_csv(folder: Path) -> Path:
    """The same tape as CSV files (tape.json keeps only the venue's latency constants: tick
    and lot are inferred)."""
    out = folder.parent / "csv"
    out.mkdir()
    for name in ("trades", "quotes"):
        pl.read_parquet(folder / f"{name}.parquet").write_csv(out / f"{name}.csv")
    latency = json.loads((folder / "tape.json").read_text())["latency"]
    (out / "tape.json").write_text(json.dumps({"latency": latency}))
    return out


@pytest.mark.determinism
def test_replay_of_a_written_tape_is_the_market_that_was_written(tmp_path: Path) -> None:
    market = simulate_market("volatile", 3, np.random.default_rng(5))
    folder = write_tape(tmp_path / "t", record(market, ORIGIN))
    for path in (folder, _as_csv(folder)):
        window = replay_window(read_tape(path), 1, 3)
        assert np.array_equal(window.trade_ns, market.trade_ns)
        assert np.array_equal(window.trade_px, market.trade_px)
        assert np.array_equal(window.bid_qty, market.bid_qty)
        assert np.array_equal(window.ask_px, market.ask_px)
        # the same strategy, queue and latency models run on it: the same results
        p = params()
        a = compute_kpis(market, run_strategy(market, p, np.random.default_rng(1)), p)
        b = compute_kpis(window, run_strategy(window, p, np.random.default_rng(1)), p)
        assert {k: v for k, v in a.items() if k != "activity"} == {
            k: v for k, v in b.items() if k != "activity"}


def test_windows_slice_the_tape_and_carry_the_book_over(tmp_path: Path) -> None:
    tape = read_tape(_synthetic(tmp_path, minutes=4))
    assert windows_available(tape, 2) == 2 and windows_available(tape, 1) == 4
    second = replay_window(tape, 2, 2)
    start = tape.start_ns + 2 * 60 * 10**9
    q0 = int(np.searchsorted(tape.quote_ns, start, side="right")) - 1
    assert second.quote_ns[0] == 0 and second.bid_px[0] == tape.bid_px[q0]
    assert second.origin_ns == start and np.all(second.trade_ns >= 0)
    assert second.trade_ns.max() < 120 * 10**9
    with pytest.raises(Exception, match="window"):
        replay_window(tape, 3, 2)


def test_regimes_are_labelled_from_the_data(tmp_path: Path) -> None:
    calm = replay_window(read_tape(_synthetic(tmp_path / "c", "calm", 6)), 1, 6)
    spike = replay_window(read_tape(_synthetic(tmp_path / "s", "spike", 6, seed=0)), 1, 6)
    assert set(calm.regime_by_minute.tolist()) <= {0, 1}
    assert calm.regime_mix()["calm"] >= 0.8
    assert spike.regime_mix()["spike"] >= 0.5 and spike.jumps > 0


BAD: dict[str, tuple[str, Callable[[pl.DataFrame], pl.DataFrame], str]] = {
    "unsorted": ("quotes", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit(1)).otherwise(pl.col("ts_ns"))
        .alias("ts_ns")), "quotes.csv:7: ts_ns 1 is earlier than the row before"),
    "zero price": ("trades", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(0.0).otherwise(pl.col("price"))
        .alias("price")), "trades.csv:5: price 0 must be > 0"),
    "negative price": ("quotes", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(-1.0).otherwise(pl.col("bid_px"))
        .alias("bid_px")), "quotes.csv:2: bid_px -1 must be > 0"),
    "crossed": ("quotes", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 9).then(pl.col("ask_px") + 100.0)
        .otherwise(pl.col("bid_px")).alias("bid_px")), "quotes.csv:11: crossed book"),
    "locked": ("quotes", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.col("ask_px"))
        .otherwise(pl.col("bid_px")).alias("bid_px")), "quotes.csv:4: locked book"),
    "missing column": ("trades", lambda f: f.drop("side"),
                       "trades.csv: missing column(s) side"),
    "header only": ("trades", lambda f: f.head(0), "trades.csv: no rows"),
    "bad side": ("trades", lambda f: f.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(0).otherwise(pl.col("side"))
        .alias("side")), "trades.csv:3: side 0 must be 1"),
    "not a number": ("trades", lambda f: f.with_columns(pl.col("qty").cast(pl.String))
                     .with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("1,5"))
                                   .otherwise(pl.col("qty")).alias("qty")),
                     "trades.csv:4: qty '1,5' is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_tape_is_one_line_naming_file_and_row(case: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    table, spoil, message = BAD[case]
    folder = _as_csv(_synthetic(tmp_path))
    path = folder / f"{table}.csv"
    spoil(pl.read_csv(path)).write_csv(path)
    with pytest.raises(TapeError, match=re.escape(message.split(": ", 1)[1][:30])):
        read_tape(folder)
    for argv in (("tape", "check", str(folder)),
                 ("soak", "--market-data", str(folder), "--iterations", "1", "--sim-minutes",
                  "1", "--artifacts", str(tmp_path / "art"), "--now", NOW)):
        result = cli(*argv)
        assert result.code == 2
        assert_one_line_error(result, message)
    assert not (tmp_path / "art" / "runs").exists()  # nothing half-written


def test_empty_and_missing_files(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = _as_csv(_synthetic(tmp_path))
    (folder / "trades.csv").write_text("")
    assert_one_line_error(cli("tape", "check", str(folder)), "trades.csv: empty file")
    (folder / "trades.csv").unlink()
    assert_one_line_error(cli("tape", "check", str(folder)), "no trades.parquet")
    assert_one_line_error(cli("tape", "check", str(tmp_path / "nowhere")), "not a tape folder")
    both = _synthetic(tmp_path / "b")
    pl.read_parquet(both / "quotes.parquet").write_csv(both / "quotes.csv")
    assert_one_line_error(cli("tape", "check", str(both)), "both quotes.parquet and quotes.csv")


def test_gaps_are_reported_never_filled(tmp_path: Path) -> None:
    market = simulate_market("calm", 3, np.random.default_rng(2))
    rec = record(market, ORIGIN)
    hole = (60 * 10**9, 72 * 10**9)  # 12 s with no message at all
    keep_t = ~((market.trade_ns >= hole[0]) & (market.trade_ns < hole[1]))
    keep_q = ~((market.quote_ns >= hole[0]) & (market.quote_ns < hole[1]))
    import dataclasses

    holed = dataclasses.replace(rec, **{
        k: getattr(rec, k)[keep_t] for k in ("trade_ns", "trade_side", "trade_px", "trade_qty")
    }, **{k: getattr(rec, k)[keep_q] for k in ("quote_ns", "bid_px", "bid_qty", "ask_px",
                                              "ask_qty")})
    folder = write_tape(tmp_path / "holed", holed)
    window = replay_window(read_tape(folder), 1, 3)
    assert len(window.gaps) == 1
    at, length = window.gaps[0]
    assert 59.0 < at < 61.0 and 11.0 < length < 13.0
    result = run_soak(SoakOptions(market_data=folder, iterations=1, sim_minutes=3,
                                  artifacts=tmp_path / "art", now=NOW), env={})
    assert any("silent for 1" in w for w in result.warnings)
    doc = json.loads(next(result.run_dir.glob("ITER_SUMMARY_1.json")).read_text())
    assert doc["market"]["gaps"] == [{"at_s": round(at, 3), "length_s": round(length, 3)}]


def test_too_short_a_tape_for_the_run_is_a_usage_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = _synthetic(tmp_path, minutes=2)
    result = cli("soak", "--market-data", str(folder), "--iterations", "3", "--sim-minutes", "1",
                 "--artifacts", str(tmp_path / "art"))
    assert result.code == 2
    assert_one_line_error(result, "fewer than --iterations 3")


def test_done_when_replay_runs_on_the_sample_tape(tmp_path: Path) -> None:
    result = run_subprocess("soak", "--market-data", str(SAMPLE), "--iterations", "2",
                            "--sim-minutes", "10", "--artifacts", str(tmp_path), "--now", NOW)
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    run_dir = next((tmp_path / "runs").iterdir())
    assert "-replay.sample-" in run_dir.name  # the tape, by name
    docs = [json.loads((run_dir / f"ITER_SUMMARY_{n}.json").read_text()) for n in (1, 2)]
    assert [d["mode"] for d in docs] == ["replay", "replay"]
    assert docs[0]["market"]["window_start_utc"] == "2023-11-14T22:13:20.000Z"
    assert docs[1]["market"]["window_start_utc"] == "2023-11-14T22:23:20.000Z"
    assert all(d["summary"]["fill_count"] > 0 for d in docs)
    # same tape, same seed: same results
    again = run_soak(SoakOptions(market_data=SAMPLE, iterations=2, sim_minutes=10,
                                 artifacts=tmp_path / "again", now=NOW), env={})
    redo = json.loads((again.run_dir / "ITER_SUMMARY_2.json").read_text())
    assert redo["summary"] == docs[1]["summary"]


@pytest.mark.determinism
def test_the_real_l2_sample_replays_the_same_twice(tmp_path: Path) -> None:
    """The shipped real sample (BTCUSDT spot, receive times, 25 depth levels): a soak on
    it runs through the CLI and gives the same summaries again in process."""
    result = run_subprocess("soak", "--market-data", str(REAL), "--iterations", "2",
                            "--sim-minutes", "2", "--artifacts", str(tmp_path), "--now", NOW)
    assert result.code in (0, 1), result.err
    run_dir = next((tmp_path / "runs").iterdir())
    docs = [json.loads((run_dir / f"ITER_SUMMARY_{n}.json").read_text()) for n in (1, 2)]
    assert docs[0]["market"]["tape"] == str(REAL)
    assert docs[0]["summary"]["activity"]["market_events"] > 20_000  # depth rows count too
    again = run_soak(SoakOptions(market_data=REAL, iterations=2, sim_minutes=2,
                                 artifacts=tmp_path / "again", now=NOW), env={})
    for n in (1, 2):
        redo = json.loads((again.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
        assert redo["summary"] == docs[n - 1]["summary"]


def test_an_interrupted_replay_resumes_on_the_next_window(tmp_path: Path) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    options = SoakOptions(market_data=SAMPLE, iterations=2, sim_minutes=10,
                          artifacts=tmp_path, now=NOW, sleep_seconds=1.0)
    first = run_soak(options, env={}, sleep=interrupt)
    assert first.status == "interrupted" and first.iterations_done == 1
    done = run_soak(SoakOptions(artifacts=tmp_path, now=NOW), env={}, resume=first.run_id)
    assert done.status == "finished" and done.iterations_done == 2
    doc = json.loads((done.run_dir / "ITER_SUMMARY_2.json").read_text())
    assert doc["mode"] == "replay"
    assert doc["market"]["window_start_utc"] == "2023-11-14T22:23:20.000Z"


def test_mode_and_market_data_exclude_each_other(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("soak", "--market-data", str(SAMPLE), "--mode", "spike", "--artifacts",
                 str(tmp_path))
    assert result.code == 2
    assert_one_line_error(result, "--mode", "--market-data")


def test_the_sample_tape_is_small_and_valid() -> None:
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 3 * 2**20
    tape = load_tape(SAMPLE)
    assert tape.duration_s > 19 * 60 and tape.symbol == "SYNTH-PERP"


def test_the_real_sample_is_small_valid_and_says_where_it_comes_from() -> None:
    size = sum(p.stat().st_size for p in REAL.iterdir())
    assert size < 3 * 2**20
    tape = load_tape(REAL)
    assert (tape.symbol, tape.venue, tape.instrument.kind) == ("BTCUSDT", "binance", "spot")
    assert 5 * 60 <= tape.duration_s < 6 * 60
    assert tape.depth is not None and tape.depth.levels == 25
    assert tape.quote_local_ns is not None and tape.provenance["clock"]["shifted"]
    readme = (REAL / "README.md").read_text()
    assert "MIT" in readme and "hftbacktest" in readme and "btcusdt_20240809.gz" in readme
