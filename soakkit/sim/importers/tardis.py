"""Tardis.dev CSV datasets (plain or ``.gz``), told apart by their header:

=========================  ============================================================
dataset                    columns
=========================  ============================================================
``trades``                 exchange, symbol, timestamp, local_timestamp, id, side, price,
                           amount
``quotes``, book_ticker    exchange, symbol, timestamp, local_timestamp, ask_amount,
                           ask_price, bid_price, bid_amount
``book_snapshot_25``       exchange, symbol, timestamp, local_timestamp, then per level
                           ``i`` from 0: asks[i].price, asks[i].amount, bids[i].price,
                           bids[i].amount (empty where the side has fewer levels)
``incremental_book_L2``    exchange, symbol, timestamp, local_timestamp, is_snapshot, side
                           (bid|ask), price, amount (0 removes the level)
=========================  ============================================================

Times are µs since the epoch: ``timestamp`` the venue's (Tardis falls back to the receive
time where the venue sends none: such rows are estimated as in a capture),
``local_timestamp`` Tardis' receive time, kept as the tape's ``local_ns`` (aligned with
:func:`soakkit.sim.feed.fit_clock`). ``side`` of a trade is the taker's (``unknown`` rows
are dropped and counted). The exchange id is the venue (``binance``, ``binance-futures``,
``binance-delivery``: spot, linear, inverse; another exchange's kind comes from
``--kind``, linear by default). An incremental book starts at its first snapshot block;
``--quotes`` may be left out with a book: the best level of the depth is the L1 quote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError
from soakkit.sim.book import BookBuilder
from soakkit.sim.depth import DepthBook
from soakkit.sim.feed import estimate_exchange_ns, feed_latency_ms, fit_clock
from soakkit.sim.importers.binance import VENUES
from soakkit.sim.importers.common import (
    DepthInput,
    ImportReport,
    InstrumentHint,
    Quotes,
    Trades,
    finish,
    quotes_from_depth,
    same_or_refuse,
)
from soakkit.sim.importers.csvfiles import decompressed, numbers, read_text_csv
from soakkit.sim.instrument import binance_contract_size
from soakkit.sim.tables import epoch_ns

__all__ = ["import_tardis"]

_HEAD = ["exchange", "symbol", "timestamp", "local_timestamp"]
_QUOTE = ["ask_amount", "ask_price", "bid_price", "bid_amount"]
_US = 1_000


def _read(path: Path, want: str) -> pl.DataFrame:
    frame = read_text_csv(path, decompressed(path))
    cols = set(frame.columns)
    found = ("trades" if {"side", "price", "amount", "id"} <= cols else
             "quotes" if set(_QUOTE) <= cols else
             "incremental_book_L2" if {"is_snapshot", "side", "price", "amount"} <= cols else
             "book_snapshot" if "asks[0].price" in cols else "")
    if not set(_HEAD) <= cols or (not found.startswith(want.split("|", maxsplit=1)[0]) and not (
            want == "book" and found in ("incremental_book_L2", "book_snapshot"))):
        raise TapeError(f"{path}: not a Tardis {want} file (header: "
                        f"{','.join(frame.columns[:8])})")
    return frame


def _times(frame: pl.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Venue and receive times (µs) as ns, each within a tape's bounds (``epoch_ns``)."""
    n = numbers(frame, path, ["timestamp", "local_timestamp"], ("timestamp", "local_timestamp"))
    venue, local = (epoch_ns(path, n[c], _US, c, hint="Tardis times are µs: is this row in "
                             "another unit?") for c in ("timestamp", "local_timestamp"))
    return venue, local


def _book_input(path: Path, frame: pl.DataFrame, levels: int, venue: np.ndarray,
                local: np.ndarray) -> DepthInput:
    if "asks[0].price" in frame.columns:  # book_snapshot_N: one row per snapshot
        have = 0
        while f"asks[{have}].price" in frame.columns:
            have += 1
        n = min(levels, have)
        cols = [f"{s}[{i}].{w}" for i in range(n) for s in ("asks", "bids")
                for w in ("price", "amount")]
        vals = {c: np.nan_to_num(v, nan=0.0) for c, v in numbers(
            frame, path, cols).items()}
        grid = {f"{s}_{w}": np.column_stack([vals[f"{s}[{i}].{w}"] for i in range(n)])
                for s in ("asks", "bids") for w in ("price", "amount")}

        def build_snapshots(tick: float, lot: float) -> DepthBook:
            return DepthBook(venue, np.round(grid["bids_price"] / tick).astype(np.int64),
                             grid["bids_amount"] / lot,
                             np.round(grid["asks_price"] / tick).astype(np.int64),
                             grid["asks_amount"] / lot, local)

        present = np.concatenate((grid["bids_amount"].ravel(), grid["asks_amount"].ravel())) > 0
        return DepthInput(np.concatenate((grid["bids_price"].ravel(),
                                          grid["asks_price"].ravel()))[present],
                          np.concatenate((grid["bids_amount"].ravel(),
                                          grid["asks_amount"].ravel()))[present],
                          build_snapshots, int(venue.min()), int(venue.max()))
    val = numbers(frame, path, ["price", "amount"])
    side = frame["side"].str.strip_chars().to_numpy()
    snap = frame["is_snapshot"].str.strip_chars().str.to_lowercase().to_numpy() == "true"
    bad = ~np.isin(side, ("bid", "ask"))
    if bad.any():
        row = int(np.argmax(bad))
        raise TapeError(f"{path}:{row + 2}: side {side[row]!r} is not bid or ask")
    start = int(np.argmax(snap)) if snap.any() else 0
    px, qty = val["price"], val["amount"]

    def build_incremental(tick: float, lot: float) -> DepthBook:
        book = BookBuilder(levels)
        ticks = np.round(px / tick).astype(np.int64).tolist()
        lots = (qty / lot).tolist()
        sides = np.where(side == "bid", 1, -1).tolist()
        snaps, times, recv = snap.tolist(), venue.tolist(), local.tolist()
        for i in range(start, px.size):
            if snaps[i] and (i == start or not snaps[i - 1]):
                book.clear(1)
                book.clear(-1)
            book.update(sides[i], ticks[i], lots[i])
            last = i + 1 == px.size or recv[i + 1] != recv[i] or snaps[i + 1] != snaps[i]
            if last:
                book.record(times[i], recv[i])
        return book.book(with_local=True)

    live = (qty > 0) & (np.arange(px.size) >= start)
    return DepthInput(px[live], qty[live], build_incremental, int(venue[start:].min()),
                      int(venue[start:].max()))


def import_tardis(trades: Path, quotes: Path | None, out: Path, *, book: Path | None = None,
                  tick: float | None = None, lot: float | None = None,
                  kind: str | None = None, contract_size: float | None = None,
                  levels: int = 25, replace: bool = False) -> ImportReport:
    """Convert Tardis ``trades`` with ``quotes`` and/or a book dataset into a tape at ``out``
    (``replace``: a tape already there; else it is refused)."""
    if quotes is None and book is None:
        raise TapeError("Tardis import needs --quotes, --book, or both")
    report = ImportReport(out)
    frames = {"trades": (trades, _read(trades, "trades"))}
    if quotes is not None:
        frames["quotes"] = (quotes, _read(quotes, "quotes"))
    if book is not None:
        frames["book"] = (book, _read(book, "book"))
    symbol = same_or_refuse("symbol", {p.name: _one(f, "symbol", p) for p, f in frames.values()})
    venue = same_or_refuse("venue", {p.name: _one(f, "exchange", p) for p, f in frames.values()})
    times = {k: _times(f, p) for k, (p, f) in frames.items()}
    timed = {k: ts != lc for k, (ts, lc) in times.items()}  # Tardis' fallback: ts = local
    # one message per (venue time, receive time): a book message spans many rows
    first = {k: np.concatenate(([True], (np.diff(ts) != 0) | (np.diff(lc) != 0)))
             for k, (ts, lc) in times.items()}
    sample = {k: timed[k] & first[k] for k in times}
    clock = fit_clock(np.concatenate([times[k][1][sample[k]] for k in times]),
                      np.concatenate([times[k][0][sample[k]] for k in times]))
    fixed = {k: clock.to_exchange(lc) for k, (_, lc) in times.items()}
    t_local = np.concatenate([fixed[k][sample[k]] for k in times])
    t_lat = np.maximum(t_local - np.concatenate([times[k][0][sample[k]] for k in times]), 0)
    venue_ns = {}
    for k in times:
        ts = times[k][0].copy()
        ts[~timed[k]] = estimate_exchange_ns(fixed[k][~timed[k]], t_local, t_lat)
        venue_ns[k], fixed[k] = ts, np.maximum(fixed[k], ts)
    report.clock = clock.to_json()
    report.feed = feed_latency_ms(np.concatenate([venue_ns[k][sample[k]] for k in times]),
                                  np.concatenate([fixed[k][sample[k]] for k in times]))
    estimated = int(sum(int((~m).sum()) for m in timed.values()))
    if estimated:
        report.notes.append(f"{estimated} rows carry no venue time (timestamp = "
                            "local_timestamp): estimated from the feed latency of that second")
    path, t = frames["trades"]
    tn = numbers(t, path, ["price", "amount"])
    side = t["side"].str.strip_chars().replace_strict({"buy": 1, "sell": -1}, default=0,
                                                      return_dtype=pl.Int8).to_numpy()
    depth = (_book_input(book, frames["book"][1], levels, venue_ns["book"], fixed["book"])
             if book is not None else None)
    if quotes is not None:
        qp, qf = frames["quotes"]
        qn = numbers(qf, qp, _QUOTE)
        q = Quotes(venue_ns["quotes"], qn["bid_price"], qn["bid_amount"], qn["ask_price"],
                   qn["ask_amount"], fixed["quotes"])
    else:
        assert depth is not None
        report.notes.append("no quotes file: the best quotes come from the depth")
        q = quotes_from_depth(depth, tick, lot)
    seen = VENUES.get(venue)
    if seen is None:
        report.notes.append(f"exchange {venue!r}: instrument kind "
                            f"{kind or 'linear'} ({'--kind' if kind else 'assumed; pass --kind'})")
    elif kind is not None and kind != seen:
        raise TapeError(f"--kind {kind}: the data is a {venue} market ({seen}); leave --kind out")
    kind = seen or kind or "linear"
    size = contract_size or (binance_contract_size(symbol) if venue == "binance-delivery"
                             else 1.0)
    hint = InstrumentHint(symbol, venue, kind, size, tick, lot)
    names = " + ".join(p.name for p, _ in frames.values())
    return finish(report, out, Trades(venue_ns["trades"], side, tn["price"], tn["amount"],
                                      fixed["trades"]), q, hint, f"tardis: {names}", depth,
                  {"clock": report.clock, "feed_latency_ms": report.feed,
                   "estimated_quote_times": bool(estimated)}, replace)


def _one(frame: pl.DataFrame, column: str, path: Path) -> str:
    values = frame[column].unique().to_list()
    if len(values) != 1:
        raise TapeError(f"{path}: {column} takes several values ({', '.join(map(str, values[:4]))}"
                        "); import one instrument at a time")
    return str(values[0])
