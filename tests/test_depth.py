"""L2 depth: what a depth row knows, its level changes, queue position behind the best, the file.

Hand-made books, scenario by scenario; the real excerpts are in tests/test_importers.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from soakkit.core.errors import TapeError
from soakkit.sim.depth import DepthBook
from soakkit.sim.matching import find_opportunities, side_timeline
from soakkit.sim.queue import ProbQueue, RiskAverseQueue
from soakkit.sim.replay import record, replay_span
from soakkit.sim.tapefile import read_tape, write_tape

from .test_matching import MS, tape

NAN = float("nan")


def book(rows: list[tuple[int, list[tuple[int, float]], list[tuple[int, float]]]],
         levels: int = 3) -> DepthBook:
    """rows: (ms, [(bid px, qty), ...], [(ask px, qty), ...]), best first."""
    n = len(rows)
    arrays = [np.zeros((n, levels), np.int64), np.zeros((n, levels)),
              np.zeros((n, levels), np.int64), np.zeros((n, levels))]
    for i, (_, bids, asks) in enumerate(rows):
        for j, (p, q) in enumerate(bids):
            arrays[0][i, j], arrays[1][i, j] = p, q
        for j, (p, q) in enumerate(asks):
            arrays[2][i, j], arrays[3][i, j] = p, q
    return DepthBook(np.array([r[0] * MS for r in rows], np.int64), *arrays)


DEPTH = book([
    (0, [(100, 5.0), (99, 3.0), (98, 2.0)], [(101, 5.0), (102, 4.0), (103, 1.0)]),
    (100, [(100, 5.0), (99, 1.0), (98, 2.0)], [(101, 5.0), (102, 4.0), (103, 1.0)]),
    (200, [(100, 5.0), (98, 2.0), (97, 7.0)], [(101, 5.0), (102, 4.0), (104, 2.0)]),
])


def test_a_row_knows_its_levels_and_the_empty_prices_between_them() -> None:
    rows = np.array([0, 0, 0, 2, 2, -1])
    px = np.array([99, 95, 101, 99, 96, 99])
    got = DEPTH.level_qty(1, rows, px)
    # 99 shown; 95 beyond the third level (unknown); 101 better than the best: empty;
    # 99 gone by row 2 (between levels 98 and 100: empty); 96 beyond; no row yet
    assert np.array_equal(got, [3.0, NAN, 0.0, 0.0, NAN, NAN], equal_nan=True)
    asks = DEPTH.level_qty(-1, np.array([0, 2, 2]), -np.array([102, 103, 105]))
    assert np.array_equal(asks, [4.0, 0.0, NAN], equal_nan=True)


def test_level_events_are_changes_of_known_levels() -> None:
    ev = DEPTH.level_events(1)
    got = list(zip((ev.ns // MS).tolist(), ev.px.tolist(), ev.qty.tolist(), ev.fresh.tolist(),
                   strict=True))
    # 99: 3 → 1, then emptied (0); 97 comes into view at row 2 (was beyond row 1's levels)
    assert got == [(100, 99, 1.0, False), (200, 99, 0.0, False), (200, 97, 7.0, True)]
    asks = DEPTH.level_events(-1)
    # 103 emptied (row 2 shows 104 beyond it); 104 was beyond row 1's third level
    assert list(zip(asks.px.tolist(), asks.qty.tolist(), asks.fresh.tolist(), strict=True)
                ) == [(-103, 0.0, False), (-104, 2.0, True)]


def test_a_window_shares_the_whole_books_lookups_and_events() -> None:
    win = DEPTH.window(50 * MS, 250 * MS)
    assert win.ns.tolist() == [0, 50 * MS, 150 * MS] and win.rows == 3
    assert np.array_equal(win.level_qty(1, np.array([0, 1]), np.array([99, 99])), [3.0, 1.0])
    ev = win.level_events(1)
    assert (ev.ns // MS).tolist() == [50, 150, 150]
    assert DEPTH.window(100 * MS, 250 * MS).level_events(1).ns.tolist() == [100 * MS,
                                                                             100 * MS]


def _l2(depth: DepthBook, quotes: list[tuple[int, int, float, int, float]],
        trades: list[tuple[int, int, int, float]] = ()):  # type: ignore[no-untyped-def]
    return replace(tape(quotes, trades), depth=depth)


def test_an_order_behind_the_best_takes_its_queue_from_the_depth() -> None:
    quotes = [(0, 100, 5.0, 101, 5.0), (300, 99, 6.0, 101, 5.0)]
    trades = [(400, -1, 99, 4.0)]  # a seller takes 4 lots at 99
    depth = book([(0, [(100, 5.0), (99, 3.0), (98, 2.0)], [(101, 5.0)]),
                  (100, [(100, 5.0), (99, 6.0), (98, 2.0)], [(101, 5.0)])])  # 3 joined behind
    args = (1, np.array([99]), np.array([50 * MS]), np.array([10_000 * MS]))
    for queue in (RiskAverseQueue(), ProbQueue("power", 2.0)):
        l2, l1 = _l2(depth, quotes, trades), tape(quotes, trades)
        got = find_opportunities(l2, side_timeline(l2, 1), *args, queue, False)
        assert got.front0.tolist() == [3.0]  # the depth at 99 when the order arrived
        assert got.avail.tolist() == [1.0] and (got.ns // MS).tolist() == [400]
        # an L1 tape cannot tell: everything shown when 99 becomes best is ahead
        blind = find_opportunities(l1, side_timeline(l1, 1), *args, queue, False)
        assert np.isinf(blind.front0[0]) and blind.avail.size == 0


def test_cancellations_behind_the_best_move_the_queue_by_the_model() -> None:
    quotes = [(0, 100, 5.0, 101, 5.0), (300, 99, 3.0, 101, 5.0)]
    trades = [(400, -1, 99, 3.0)]
    depth = book([(0, [(100, 5.0), (99, 4.0)], [(101, 5.0)]),
                  (100, [(100, 5.0), (99, 6.0)], [(101, 5.0)]),  # 2 join behind us
                  (200, [(100, 5.0), (99, 3.0)], [(101, 5.0)])])  # 3 cancel
    args = (1, np.array([99]), np.array([50 * MS]), np.array([10_000 * MS]))
    l2 = _l2(depth, quotes, trades)
    averse = find_opportunities(l2, side_timeline(l2, 1), *args, RiskAverseQueue(), False)
    prob = find_opportunities(l2, side_timeline(l2, 1), *args, ProbQueue("power", 2.0),
                              False)
    # risk averse: the cancellations were behind us, front = min(4, 3) = 3 and the trade of
    # 3 only clears it; power:2: each was behind with p = 2² / (2² + 4²) = 0.2, so front =
    # 4 - 0.8·3 + min(2 - 0.6, 0) = 1.6 and the trade leaves 1.4 lots: 1 to us
    assert averse.avail.size == 0
    assert prob.avail.tolist() == [1.0]


def test_an_l2_tape_round_trips_and_replays(tmp_path: Path) -> None:
    quotes = [(0, 100, 5.0, 101, 5.0), (300, 99, 6.0, 101, 5.0)]
    market = replace(_l2(DEPTH, quotes, [(400, -1, 99, 4.0)]), duration_s=60.0)
    folder = write_tape(tmp_path / "t", record(market, 1_700_000_000 * 10**9, "X", "test"))
    back = read_tape(folder)
    assert back.depth is not None and back.depth.levels == 3
    assert np.array_equal(back.depth.bid_px, DEPTH.bid_px)
    assert np.array_equal(back.depth.ask_qty, DEPTH.ask_qty)
    window = replay_span(back, back.start_ns, back.start_ns + 60 * 10**9)
    assert window.depth is not None and np.array_equal(window.depth.ns, DEPTH.ns)
    assert window.events == market.events


@pytest.mark.parametrize(("change", "message"), [
    ({"bid_px_1": [99.0, 101.0, 98.0]}, "bid levels must fall strictly"),
    ({"bid_px_0": [102.0, 100.0, 100.0]}, "crossed or locked depth"),
    ({"bid_qty_1": [3.0, None, 2.0]}, "bid level with a price but no quantity"),
    ({"ask_px_1": [102.0, 102.5, 102.0]}, "not a multiple of the tick"),
])
def test_a_bad_depth_table_names_its_row(change: dict[str, list[float | None]], message: str,
                                         tmp_path: Path) -> None:
    quotes = [(0, 100, 5.0, 101, 5.0), (300, 99, 6.0, 101, 5.0)]
    market = replace(_l2(DEPTH, quotes, [(400, -1, 99, 4.0)]), duration_s=60.0)
    folder = write_tape(tmp_path / "t", record(market, 1_700_000_000 * 10**9, "X", "test"))
    frame = pl.read_parquet(folder / "depth.parquet")
    for name, values in change.items():
        frame = frame.with_columns(pl.Series(name, values, dtype=pl.Float64))
    frame.write_parquet(folder / "depth.parquet")
    with pytest.raises(TapeError, match=message):
        read_tape(folder)
