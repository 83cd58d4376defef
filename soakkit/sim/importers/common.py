"""What every importer shares: the report, the checks between inputs, writing the tape.

An importer reads its vendor's files into :class:`Trades`, :class:`Quotes` and, for an L2
source, a :class:`DepthInput`; :func:`finish` does the rest the same way for every
source:

* rows a replay cannot use are dropped and **counted** (trades without an aggressor side
  or with a zero price or size, quotes with an empty side, crossed or locked quotes);
  rows out of time order are sorted (stably) and counted;
* the inputs must cover the same time: when their spans overlap by less than half of
  the shorter one the import is refused (the spans named); prints before the first quote
  (no book to meet) are dropped and counted;
* they must be one market: when more than half of the trades print outside the quoted
  book (by more than its spread), trades and quotes are refused as two markets (spot
  trades with futures quotes, another symbol, another day);
* the price tick and lot are inferred from the decimals (``--tick``, ``--lot`` set them;
  the lot from the trades and best quotes only),
  the instrument recorded in ``tape.json`` with the symbol, venue and source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.core.errors import TapeError
from soakkit.sim.depth import DepthBook
from soakkit.sim.instrument import Instrument
from soakkit.sim.tape_checks import check_values, in_units
from soakkit.sim.tapefile import RecordedTape, grid_step, write_tape

__all__ = ["DepthInput", "ImportReport", "InstrumentHint", "Quotes", "Trades", "finish",
           "quotes_from_depth", "same_or_refuse"]

_MIN_OVERLAP = 0.5  #: inputs must overlap by at least this share of the shorter span
_MAX_OUTSIDE = 0.5  #: ... and at most this share of trades may print outside the book


@dataclass
class ImportReport:
    """What an import wrote and what it had to leave out."""

    folder: Path
    trades: int = 0
    quotes: int = 0
    depth_rows: int = 0
    levels: int = 0
    instrument: Instrument | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    reordered: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    feed: dict[str, Any] = field(default_factory=dict)  #: feed latency percentiles, ms
    clock: dict[str, Any] = field(default_factory=dict)  #: how the local clock was aligned

    def lines(self) -> list[str]:
        inst = self.instrument
        what = (f"{inst.symbol or '?'} on {inst.venue or '?'} ({inst.kind}, tick {inst.tick:g}, "
                f"lot {inst.lot:g}" + (f", contract {inst.contract_size:g} USD" if inst.inverse
                                      else "") + "), ") if inst else ""
        depth = f", {self.depth_rows} depth rows ({self.levels} levels)" if self.depth_rows else ""
        out = [f"wrote {self.folder}: {what}{self.trades} trades, {self.quotes} quotes{depth}"]
        if self.feed:
            out.append(f"  feed latency (receive - venue time): p50 {self.feed['p50']:g} ms, "
                       f"p90 {self.feed['p90']:g} ms, p99 {self.feed['p99']:g} ms over "
                       f"{self.feed['messages']} messages")
        if self.clock.get("shifted"):
            out.append(f"  local clock {self.clock['offset_ms']:+g} ms from the venue's, drift "
                       f"{self.clock['drift_ppm']:+g} ppm: aligned on the fastest messages "
                       "(latency above the fastest path; docs/SIMULATOR.md)")
        out += [f"  dropped {n} {what}" for what, n in self.dropped.items() if n]
        out += [f"  sorted {n} {what} rows that were out of time order"
                for what, n in self.reordered.items() if n]
        out += [f"  note: {n}" for n in self.notes]
        return out


@dataclass(frozen=True)
class Trades:
    """Prints: venue time (ns), aggressor side (±1, 0 unknown), price, size; receive time."""

    ns: np.ndarray
    side: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    local: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Trades:
        return Trades(self.ns[rows], self.side[rows], self.price[rows], self.qty[rows],
                      None if self.local is None else self.local[rows])


@dataclass(frozen=True)
class Quotes:
    """Best bid and ask after each update (NaN: a side is missing); receive time."""

    ns: np.ndarray
    bid: np.ndarray
    bid_qty: np.ndarray
    ask: np.ndarray
    ask_qty: np.ndarray
    local: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Quotes:
        return Quotes(self.ns[rows], self.bid[rows], self.bid_qty[rows], self.ask[rows],
                      self.ask_qty[rows], None if self.local is None else self.local[rows])


@dataclass(frozen=True)
class DepthInput:
    """An L2 source: its prices and sizes (for the grids), and how to build the book."""

    prices: np.ndarray
    sizes: np.ndarray
    build: Callable[[float, float], DepthBook]  #: (tick, lot) → the top-N rows
    first_ns: int
    last_ns: int


@dataclass(frozen=True)
class InstrumentHint:
    """What the user said (flags) or the files told about the instrument; None: infer."""

    symbol: str
    venue: str
    kind: str
    contract_size: float = 1.0
    tick: float | None = None
    lot: float | None = None


def same_or_refuse(what: str, found: dict[str, str]) -> str:
    """The one value of ``what`` all inputs agree on (ignoring unknown ones), else refuse."""
    values = {k: v for k, v in found.items() if v}
    distinct = sorted({v.upper() for v in values.values()})
    if len(distinct) > 1:
        named = ", ".join(f"{k} says {v}" for k, v in values.items())
        raise TapeError(f"{what} differs between the inputs ({named}); import one "
                        f"{'instrument' if what == 'symbol' else 'market'} at a time")
    return next(iter(values.values()), "")


def quotes_from_depth(depth: DepthInput, tick: float | None, lot: float | None) -> Quotes:
    """L1 quotes from the best level of an L2 source (when the source has no quote stream)."""
    tk = tick or grid_step(depth.prices)
    lt = lot or grid_step(depth.sizes)
    book = depth.build(tk, lt)
    nan = np.full(book.rows, np.nan)
    return Quotes(book.ns, np.where(book.bid_qty[:, 0] > 0, book.bid_px[:, 0] * tk, nan),
                  book.bid_qty[:, 0] * lt,
                  np.where(book.ask_qty[:, 0] > 0, book.ask_px[:, 0] * tk, nan),
                  book.ask_qty[:, 0] * lt, book.local_ns)


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _common_span(spans: dict[str, tuple[int, int]]) -> tuple[int, int]:
    lo, hi = max(s[0] for s in spans.values()), min(s[1] for s in spans.values())
    shorter = min(s[1] - s[0] for s in spans.values())
    if hi - lo < _MIN_OVERLAP * shorter or hi < lo:
        named = "; ".join(f"{k} {_utc(a)} .. {_utc(b)}" for k, (a, b) in spans.items())
        raise TapeError(f"the inputs do not cover the same time ({named}); import files of "
                        "the same period")
    return lo, hi


def _keep(report: ImportReport, what: str, mask: np.ndarray, label: str) -> np.ndarray:
    report.dropped[label] = report.dropped.get(label, 0) + int((~mask).sum())
    return mask


def _sorted(ns: np.ndarray, what: str, report: ImportReport) -> np.ndarray:
    order = np.argsort(ns, kind="stable")
    report.reordered[what] = int((order != np.arange(ns.size)).sum())
    return order


def _one_market(t: Trades, q: Quotes, source: str) -> None:
    """Refuse trades that mostly print outside the quoted book (two markets)."""
    at = np.searchsorted(q.ns, t.ns, side="right") - 1
    ok = at >= 0
    if not ok.any():
        return
    i = at[ok]
    spread = q.ask[i] - q.bid[i]
    outside = (t.price[ok] < q.bid[i] - spread) | (t.price[ok] > q.ask[i] + spread)
    share = float(outside.mean())
    if share > _MAX_OUTSIDE:
        raise TapeError(f"{source}: {100 * share:.0f} % of the trades print outside the quoted "
                        "book: trades and quotes are not one market (another symbol, venue "
                        "or day?)")


def finish(report: ImportReport, out: Path, trades: Trades, quotes: Quotes,
           hint: InstrumentHint, source: str, depth: DepthInput | None = None,
           provenance: dict[str, Any] | None = None, replace: bool = False) -> ImportReport:
    """Clean, check and write the tape (see the module docstring); ``replace``: a tape
    already at ``out`` (else it is refused)."""
    t, q = trades, quotes
    keep_t = _keep(report, "trade", np.isin(t.side, (1, -1)) & (t.price > 0) & (t.qty > 0),
                   "trades without an aggressor side or with a zero price or size")
    empty = ~(np.isfinite(q.bid) & np.isfinite(q.ask) & (q.bid_qty > 0) & (q.ask_qty > 0)
              & (q.bid > 0) & (q.ask > 0))
    report.dropped["quotes with an empty side"] = int(empty.sum())
    crossed = ~empty & (q.bid >= q.ask)
    report.dropped["crossed or locked quotes"] = int(crossed.sum())
    keep_q = ~(empty | crossed)
    if not keep_t.any() or not keep_q.any():
        raise TapeError(f"{out}: nothing to replay after dropping unusable rows "
                        f"({int(keep_t.sum())} trades, {int(keep_q.sum())} quotes left)")
    ot, oq = _sorted(t.ns[keep_t], "trade", report), _sorted(q.ns[keep_q], "quote", report)
    t, q = t.take(np.flatnonzero(keep_t)[ot]), q.take(np.flatnonzero(keep_q)[oq])
    spans = {"trades": (int(t.ns[0]), int(t.ns[-1])), "quotes": (int(q.ns[0]), int(q.ns[-1]))}
    if depth is not None:
        spans["depth"] = (depth.first_ns, depth.last_ns)
    _common_span(spans)
    tin = t.ns >= q.ns[0]  # a replay starts at the first quote: earlier prints meet no book
    report.dropped["trades before the first quote"] = int((~tin).sum())
    t = t.take(np.flatnonzero(tin))
    _one_market(t, q, source)
    where = str(out)
    deep = {} if depth is None else {"depth price": depth.prices}
    check_values(where, {"price": t.price, "bid": q.bid, "ask": q.ask, **deep},
                 {"qty": t.qty, "bid_qty": q.bid_qty, "ask_qty": q.ask_qty,
                  **({} if depth is None else {"depth quantity": depth.sizes})})
    prices = [t.price, q.bid, q.ask] + ([depth.prices] if depth is not None else [])
    tick = hint.tick or grid_step(np.concatenate(prices))
    # the lot from what trades and the best quotes show: deep levels may hold quantities on
    # an older, finer step (Binance spot BTCUSDT shows a few 1e-6 BTC levels far out)
    lot = hint.lot or grid_step(np.concatenate((t.qty, q.bid_qty, q.ask_qty)))
    inst = Instrument(tick, lot, hint.kind, hint.contract_size, hint.symbol, hint.venue)
    book = depth.build(tick, lot) if depth is not None else None
    if book is not None:
        report.depth_rows, report.levels = book.rows, book.levels
    tape = RecordedTape(
        path=out, instrument=inst, source=source,
        trade_ns=t.ns.astype(np.int64), trade_side=t.side.astype(np.int8),
        trade_px=in_units(where, t.price, tick, "price", "tick").astype(np.int64),
        trade_qty=in_units(where, t.qty, lot, "qty", "lot"), quote_ns=q.ns.astype(np.int64),
        bid_px=in_units(where, q.bid, tick, "bid", "tick").astype(np.int64),
        bid_qty=in_units(where, q.bid_qty, lot, "bid_qty", "lot"),
        ask_px=in_units(where, q.ask, tick, "ask", "tick").astype(np.int64),
        ask_qty=in_units(where, q.ask_qty, lot, "ask_qty", "lot"), trade_local_ns=t.local,
        quote_local_ns=q.local, depth=book,
        provenance={**(provenance or {}), **({"notes": report.notes} if report.notes else {})})
    write_tape(out, tape, replace=replace)
    report.trades, report.quotes, report.instrument = int(t.ns.size), int(q.ns.size), inst
    return report
