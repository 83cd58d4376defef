"""The order-book market writes depth rows when asked: a generated L2 tape.

``simulate_market(..., levels=N)`` and ``soakkit tape sample --market M --levels N``: the
trades and quotes are those of the same seed without depth, every quote row has a depth
row whose best level is its touch, the levels behind it are sorted and hold lots, the
level a move away from the spread reveals was shown before, and the tape passes the tape
checks, replays with depth and is the same bytes for the same seed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from soakkit.sim.bookspec import BOOK_REGIMES
from soakkit.sim.calibrate import write_market_profile
from soakkit.sim.depth import DepthBook
from soakkit.sim.depthfile import DEPTH_TABLE, read_depth
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import DEFAULT_MARKET
from soakkit.sim.replay import load_tape, replay_window
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.tapefile import read_tape

from .conftest import REPO, assert_one_line_error, run_subprocess
from .simhelp import params

BOOK_MARKET = dataclasses.replace(DEFAULT_MARKET, name="book", tick=0.5,
                                  regimes=dict(BOOK_REGIMES))
TAPES = REPO / "examples" / "tapes"
FIELDS = ("trade_ns", "trade_side", "trade_px", "trade_qty", "quote_ns", "bid_px", "bid_qty",
          "ask_px", "ask_qty", "regime_by_minute")


@pytest.fixture(scope="module")
def pair() -> tuple[MarketTape, MarketTape]:
    """The same seed without and with 8 levels of depth."""
    return (simulate_market("mixed", 4, np.random.default_rng(5), BOOK_MARKET),
            simulate_market("mixed", 4, np.random.default_rng(5), BOOK_MARKET, levels=8))


def test_depth_leaves_the_trades_and_quotes_as_they_were(pair: tuple[MarketTape, MarketTape]
                                                         ) -> None:
    plain, deep = pair
    assert plain.depth is None and deep.depth is not None
    for name in FIELDS:
        assert np.array_equal(getattr(plain, name), getattr(deep, name)), name
    assert deep.events == plain.events + deep.depth.rows - 1


def test_depth_rows_agree_with_the_quotes(pair: tuple[MarketTape, MarketTape]) -> None:
    _, tape = pair
    d = tape.depth
    assert d is not None and d.levels == 8 and d.rows == tape.quote_ns.size
    assert np.array_equal(d.ns, tape.quote_ns)
    # the best level of every row is the quote row's touch
    assert np.array_equal(d.bid_px[:, 0], tape.bid_px)
    assert np.array_equal(d.ask_px[:, 0], tape.ask_px)
    assert np.array_equal(d.bid_qty[:, 0], tape.bid_qty)
    assert np.array_equal(d.ask_qty[:, 0], tape.ask_qty)
    # every level present holds whole lots; bids fall and asks rise from the best
    assert (d.bid_qty > 0).all() and (d.ask_qty > 0).all()
    assert np.array_equal(d.bid_qty, np.round(d.bid_qty))
    assert (np.diff(d.bid_px, axis=1) < 0).all() and (np.diff(d.ask_px, axis=1) > 0).all()


def test_a_move_away_shows_the_level_the_depth_showed(pair: tuple[MarketTape, MarketTape]
                                                      ) -> None:
    """When the best bid goes, the new best was the depth's price behind it, and it held
    what the new best shows plus what traded there at that moment (a sweep's last level)."""
    _, tape = pair
    d = tape.depth
    assert d is not None
    for px, qty, sign, side in ((d.bid_px, d.bid_qty, 1, -1), (d.ask_px, d.ask_qty, -1, 1)):
        moves = np.flatnonzero(sign * np.diff(px[:, 0]) < 0) + 1
        jumps = 0
        assert moves.size > 20
        for row in moves.tolist():
            shown = qty[row - 1][px[row - 1] == px[row, 0]]
            if shown.size == 0:
                jumps += 1  # a jump (or a minute's re-centring) moves the book anywhere
                continue
            at = tape.quote_ns[row]
            traded = tape.trade_qty[(tape.trade_ns == at) & (tape.trade_px == px[row, 0])
                                    & (tape.trade_side == side)].sum()
            assert shown[0] == pytest.approx(qty[row, 0] + traded)
        assert jumps <= tape.jumps + tape.regime_by_minute.size


def test_levels_are_bounded_and_need_an_order_book() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match=r"levels must be 0\.\.100"):
        simulate_market("calm", 1, rng, BOOK_MARKET, levels=101)
    with pytest.raises(ValueError, match="not an order book"):
        simulate_market("calm", 1, rng, DEFAULT_MARKET, levels=5)


def test_tape_sample_levels_writes_an_l2_tape_that_checks_and_replays(tmp_path: Path) -> None:
    market = tmp_path / "book.json"
    write_market_profile(market, BOOK_MARKET)
    written = []
    for name in ("one", "two"):
        done = run_subprocess("tape", "sample", str(tmp_path / name), "--market", str(market),
                              "--minutes", "3", "--seed", "4", "--levels", "6",
                              "--conflate-ms", "20")
        assert done.code == 0, done.err
        assert "depth rows of 6 levels" in done.out
        written.append(tmp_path / name)
    checked = run_subprocess("tape", "check", str(written[0]))
    assert checked.code == 0, checked.err
    assert "(6 levels: an L2 tape)" in checked.out
    # same seed, same bytes
    for name in ("trades.parquet", "quotes.parquet", DEPTH_TABLE, "tape.json"):
        assert (written[0] / name).read_bytes() == (written[1] / name).read_bytes(), name
    tape = read_tape(written[0])
    assert tape.depth is not None and tape.depth.levels == 6
    at = np.searchsorted(tape.quote_ns, tape.depth.ns, side="right") - 1  # conflated: a
    assert np.array_equal(tape.quote_ns[at], tape.depth.ns)  # row at a quote row's time
    assert np.array_equal(tape.depth.bid_px[:, 0], tape.bid_px[at])
    assert np.array_equal(tape.depth.ask_qty[:, 0], tape.ask_qty[at])
    # it replays with its depth: the queue model reads the depth ahead of a resting quote
    window = replay_window(load_tape(written[0]), 1, 3)
    assert window.depth is not None and window.events > window.messages
    wide = params(base_spread_bps=10)  # quotes behind the best (this book's spread: 6 bps)
    result = run_strategy(window, wide, np.random.default_rng(2))
    assert result.orders is not None and result.orders.side.size > 0
    blind = run_strategy(dataclasses.replace(window, depth=None), wide,
                         np.random.default_rng(2))
    # with depth the queue ahead of a quote behind the best is the level shown there, not
    # everything (unknown, as on an L1 tape): more fills
    assert result.fills.ns.size > blind.fills.ns.size
    # an L1 sample of the same seed: the same trades and quotes, no depth table
    plain = run_subprocess("tape", "sample", str(tmp_path / "l1"), "--market", str(market),
                           "--minutes", "3", "--seed", "4")
    assert plain.code == 0, plain.err
    assert not (tmp_path / "l1" / DEPTH_TABLE).exists()
    for name in ("trades.parquet", "quotes.parquet"):
        assert (tmp_path / "l1" / name).read_bytes() == (written[0] / name).read_bytes()


def test_tape_sample_levels_refuses_a_market_without_a_book(tmp_path: Path) -> None:
    done = run_subprocess("tape", "sample", str(tmp_path / "s"), "--levels", "5")
    assert done.code == 2
    assert_one_line_error(done, "--levels", "no order book")
    assert not (tmp_path / "s").exists()
    over = run_subprocess("tape", "sample", str(tmp_path / "s"), "--levels", "101")
    assert over.code == 2
    assert_one_line_error(over, "--levels", "1..100")
    alone = run_subprocess("tape", "sample", str(tmp_path / "s"), "--conflate-ms", "50")
    assert alone.code == 2
    assert_one_line_error(alone, "--conflate-ms", "only with --levels")


def _reference_events(book: DepthBook, side: int) -> list[tuple[int, int, float, bool]]:
    """Level events row by row, as sim/depth.py documents them (no vectorising)."""
    px, qty = book.side(side)
    out = []
    for k in range(1, book.rows):
        rows = []
        for r in (k - 1, k):
            shown = {int(p): float(q) for p, q in zip(px[r], qty[r], strict=True) if q > 0}
            worst = int(px[r, -1]) if qty[r, -1] > 0 else None  # a full row knows no further
            rows.append((shown, worst))
        (before, worst_before), (now, worst_now) = rows
        for p, q in now.items():
            old = before.get(p, 0.0) if worst_before is None or p >= worst_before else None
            if old is None or old != q:
                out.append((k, p, q, old is None))
        for p in before:
            if p not in now and (worst_now is None or p >= worst_now):
                out.append((k, p, 0.0, False))
    out.sort(key=lambda e: (e[0], -e[1]))
    return [(int(book.ns[k]), p, q, fresh) for k, p, q, fresh in out]


@pytest.mark.parametrize("source", ["generated", "binance-spot-btcusdt"])
def test_level_events_follow_their_definition(source: str, pair: tuple[MarketTape, MarketTape]
                                              ) -> None:
    """Rows that keep the prices of the row before (most of a generated tape's) and rows
    that move them (most of a capture's) give the events the definition gives."""
    book = pair[1].depth if source == "generated" else read_tape(TAPES / source).depth
    assert book is not None
    book = DepthBook(book.ns[:3000], book.bid_px[:3000], book.bid_qty[:3000],
                     book.ask_px[:3000], book.ask_qty[:3000])
    for side in (1, -1):
        ev = book.level_events(side)
        got = list(zip(ev.ns.tolist(), ev.px.tolist(), ev.qty.tolist(), ev.fresh.tolist(),
                       strict=True))
        assert got == _reference_events(book, side)


def test_a_checked_depth_block_reads_again_to_the_same_book() -> None:
    """``read_depth(check=False)`` (a streamed block read again) converts as the check does."""
    folder = TAPES / "binance-spot-btcusdt"
    tape = read_tape(folder)
    for rows in (None, (100, 700)):
        checked = read_depth(folder / DEPTH_TABLE, tape.instrument, rows=rows)
        again = read_depth(folder / DEPTH_TABLE, tape.instrument, rows=rows, check=False)
        for name in ("ns", "local_ns", "bid_px", "bid_qty", "ask_px", "ask_qty"):
            a, b = getattr(checked, name), getattr(again, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name


def test_a_conflated_depth_is_the_book_at_the_last_quote_row_of_each_stretch(
        pair: tuple[MarketTape, MarketTape]) -> None:
    _, every = pair
    tape = simulate_market("mixed", 4, np.random.default_rng(5), BOOK_MARKET, levels=8,
                           conflate_ms=50)
    d, full = tape.depth, every.depth
    assert d is not None and full is not None
    for name in FIELDS:  # the trades and quotes stay those of the seed
        assert np.array_equal(getattr(tape, name), getattr(every, name)), name
    bucket = d.ns // 50_000_000
    assert d.ns[0] == 0 and (np.diff(bucket[1:]) > 0).all()  # one row per 50 ms at most
    assert 0 < d.rows < full.rows / 3
    # each row is the last quote row of its 50 ms, and the book every-row depth shows then
    at = np.searchsorted(full.ns, d.ns, side="right") - 1
    assert np.array_equal(full.ns[at], d.ns)
    last = np.searchsorted(tape.quote_ns, (bucket[1:] + 1) * 50_000_000, side="left") - 1
    assert np.array_equal(tape.quote_ns[last], d.ns[1:])
    for name in ("bid_px", "bid_qty", "ask_px", "ask_qty"):
        assert np.array_equal(getattr(full, name)[at], getattr(d, name)), name
    with pytest.raises(ValueError, match="conflate_ms must be"):
        simulate_market("calm", 1, np.random.default_rng(1), BOOK_MARKET, levels=2,
                        conflate_ms=60_001)
