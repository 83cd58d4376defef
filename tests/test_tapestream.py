"""Streamed replay: a long tape read a block at a time replays exactly as the whole read,
holds at most a couple of blocks, and names a bad row by the file's row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from soakkit.core.errors import TapeError
from soakkit.sim import tapestream
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import record, replay_window, stream_tape, windows_available
from soakkit.sim.tape import MarketTape
from soakkit.sim.tapefile import RecordedTape, read_tape, write_tape
from soakkit.sim.tapestream import TapeStream, open_tape
from soakkit.soak import SoakOptions, run_soak

from .conftest import REPO

ORIGIN = 1_700_000_000 * 10**9
NOW = "2026-11-24T12:00:00Z"
REAL = REPO / "examples" / "tapes" / "binance-spot-btcusdt"
BLOCK = 5_000  #: rows per block in these tests (a minute of the long tape is more)


@pytest.fixture(scope="module")
def long_tape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = simulate_market("mixed", 6, np.random.default_rng(4))
    folder = tmp_path_factory.mktemp("long") / "tape"
    return write_tape(folder, record(market, ORIGIN, "TEST", "test"))


_FIELDS = ("trade_ns", "trade_side", "trade_px", "trade_qty", "quote_ns", "bid_px", "bid_qty",
           "ask_px", "ask_qty", "regime_by_minute", "quote_local_ns")


def _same_window(a: MarketTape, b: MarketTape) -> None:
    for name in _FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert (a.gaps, a.jumps, a.latency, a.source, a.origin_ns, a.duration_s) == \
        (b.gaps, b.jumps, b.latency, b.source, b.origin_ns, b.duration_s)
    assert (a.depth is None) == (b.depth is None)
    if a.depth is None or b.depth is None:
        return
    for name in ("ns", "bid_px", "bid_qty", "ask_px", "ask_qty", "local_ns"):
        assert np.array_equal(getattr(a.depth, name), getattr(b.depth, name)), name
    for side in (1, -1):
        ea, eb = a.depth.level_events(side), b.depth.level_events(side)
        for name in ("ns", "px", "qty", "fresh"):
            assert np.array_equal(getattr(ea, name), getattr(eb, name)), (side, name)
        rows = np.arange(-1, a.depth.rows)
        best = a.depth.bid_px[0, 0] if side > 0 else -a.depth.ask_px[0, 0]
        for px in (best, best - 1, best - 5):
            probe = np.full(rows.size, px)
            assert np.array_equal(a.depth.level_qty(side, rows, probe),
                                  b.depth.level_qty(side, rows, probe), equal_nan=True)


@pytest.mark.determinism
@pytest.mark.parametrize("minutes", [1, 2])
def test_a_long_tape_streamed_replays_the_windows_of_the_whole_read(
        long_tape: Path, minutes: int) -> None:
    whole = read_tape(long_tape)
    stream = open_tape(long_tape, BLOCK)
    assert isinstance(stream, TapeStream)
    assert stream.rows > 6 * BLOCK  # many blocks per table
    assert (stream.start_ns, stream.end_ns) == (whole.start_ns, whole.end_ns)
    assert stream.latency == whole.latency
    n = windows_available(whole, minutes)
    assert windows_available(stream, minutes) == n == 6 // minutes
    for k in range(1, n + 1):
        window = replay_window(stream, k, minutes)
        _same_window(replay_window(whole, k, minutes), window)
        # memory: the blocks the window's rows span, at most two more per table; never
        # the tape
        bound = window.trade_ns.size + window.quote_ns.size + 2 * BLOCK * len(stream.tables)
        assert stream.held_rows <= bound < stream.rows
    # windows read in time order decode each block once more after the check
    for table in stream.tables:
        assert table.decoded <= 2 * table.blocks


@pytest.mark.determinism
def test_the_real_l2_tape_streamed_is_the_whole_read() -> None:
    """Depth rows, receive times and the latency fitted from them (no tape.json latency):
    the stream fits the load a stretch of whole seconds at a time, to the same numbers."""
    whole = read_tape(REAL)
    stream = open_tape(REAL, 4_000)
    assert isinstance(stream, TapeStream) and stream.depth is not None
    assert "latency" not in json.loads((REAL / "tape.json").read_text())
    assert stream.latency == whole.latency
    for k in range(1, windows_available(whole, 1) + 1):
        _same_window(replay_window(whole, k, 1), replay_window(stream, k, 1))


def test_a_short_tape_is_read_whole(long_tape: Path) -> None:
    assert isinstance(open_tape(long_tape), RecordedTape)  # fits in one default block


@pytest.mark.determinism
def test_a_soak_on_a_streamed_tape_gives_the_same_iterations(
        long_tape: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def summaries(artifacts: Path) -> list[dict[str, object]]:
        result = run_soak(SoakOptions(market_data=long_tape, iterations=3, sim_minutes=2,
                                      artifacts=artifacts, now=NOW), env={})
        return [json.loads((result.run_dir / f"ITER_SUMMARY_{n}.json").read_text())["summary"]
                for n in (1, 2, 3)]

    whole = summaries(tmp_path / "whole")
    monkeypatch.setattr(tapestream, "BLOCK_ROWS", BLOCK)
    assert isinstance(stream_tape(long_tape), TapeStream)
    assert summaries(tmp_path / "streamed") == whole


def _spoil(folder: Path, table: str, row: int, column: str, value: float) -> None:
    path = folder / f"{table}.parquet"
    frame = pl.read_parquet(path)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value))
                       .otherwise(pl.col(column)).alias(column)).write_parquet(path)


@pytest.mark.parametrize(("table", "row", "column", "value", "message"), [
    ("quotes", 3 * BLOCK + 17, "bid_px", 1e9, "crossed book"),
    ("trades", 2 * BLOCK + 1, "side", 0, "side 0 must be 1"),
    ("quotes", 2 * BLOCK, "ts_ns", ORIGIN, "is earlier than the row before"),
])
def test_a_bad_row_in_a_later_block_names_the_file_row(
        long_tape: Path, tmp_path: Path, table: str, row: int, column: str, value: float,
        message: str) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    for f in long_tape.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    _spoil(folder, table, row, column, value)
    with pytest.raises(TapeError) as whole:
        read_tape(folder)
    with pytest.raises(TapeError) as streamed:
        open_tape(folder, BLOCK)
    assert str(streamed.value) == str(whole.value)  # the same one line
    assert re.search(rf"{table}\.parquet: row {row + 1}: .*{message}", str(streamed.value))


def test_an_empty_table_beside_a_long_one_is_the_whole_reads_one_line(
        long_tape: Path, tmp_path: Path) -> None:
    """A table with a header and no rows stops the open, as the whole read does, however
    long the other table is."""
    folder = tmp_path / "empty"
    folder.mkdir()
    for f in long_tape.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    trades = folder / "trades.parquet"
    pl.read_parquet(trades).head(0).write_parquet(trades)
    with pytest.raises(TapeError) as whole:
        read_tape(folder)
    with pytest.raises(TapeError) as streamed:
        open_tape(folder, BLOCK)
    assert str(streamed.value) == str(whole.value) == f"{trades}: no rows (only a header)"
