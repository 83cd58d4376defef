"""A long tape replayed a block of rows at a time: memory bounded by the block, not the tape.

:func:`open_tape` reads a tape whose tables all fit in one block (``block_rows`` rows) whole,
as :func:`~soakkit.sim.tapefile.read_tape` does. A longer one (parquet tables, ``tape.json``
giving the tick and lot: what ``soakkit tape import`` and ``tape sample`` write) becomes a
:class:`TapeStream`: its tables are checked block by block up front, with the same checks
and one-line errors naming the file's row, then :meth:`TapeStream.piece` reads the rows a
replay window needs, keeping at most two decoded blocks per table. Windows read in time
order decode each block once.

What a streamed check does not do as a whole read does: a tape with several problems may
name another one first (each block runs every check before the next block is read), and a
time is measured against the median of its table's ``ts_ns`` (a whole read measures
``local_ns`` against its own median; receive times lie within the feed latency of
``ts_ns``, far inside the 7-day bound).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError, unreadable_reason
from soakkit.sim.depth import DepthBook
from soakkit.sim.depthfile import DEPTH_TABLE, read_depth
from soakkit.sim.feed import (
    NS,
    LoadFit,
    fit_rates,
    load_seconds,
    second_counts,
    second_latencies,
)
from soakkit.sim.instrument import Instrument
from soakkit.sim.regimes import LatencyConstants
from soakkit.sim.tables import find_table, load_table, no_rows, rows_from
from soakkit.sim.tape_checks import check_span
from soakkit.sim.tapefile import (
    LOCAL,
    QUOTE_COLUMNS,
    TRADE_COLUMNS,
    RecordedTape,
    read_tape,
    table_fields,
    venue_latency,
)
from soakkit.sim.tapemeta import read_meta, resolve_instrument

__all__ = ["BLOCK_ROWS", "TapeStream", "open_tape"]

BLOCK_ROWS = 1 << 18  #: rows per block: polars' default parquet row group
_HELD = 2  #: decoded blocks kept per table (a window spanning a block boundary needs two)
Fields = dict[str, Any]


def _parquet_rows(path: Path) -> int:
    try:
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TapeError(f"{path}: {unreadable_reason(exc, 'parquet file')}") from None


def _median_ts(path: Path, rows: int) -> float | None:
    """The median ``ts_ns`` of a sorted table, from its middle row(s); None when unreadable
    (the check of its block then says why)."""
    first, count = (rows - 1) // 2, 2 - rows % 2
    try:
        middle = pl.scan_parquet(path).select(pl.col("ts_ns").cast(pl.Int64, strict=False)
                                              ).slice(first, count).collect()["ts_ns"]
    except (OSError, pl.exceptions.PolarsError):
        return None
    return None if middle.null_count() else float(np.median(middle.to_numpy()))


class _Table:
    """One table of a streamed tape: its blocks, decoded (and checked) on demand."""

    def __init__(self, path: Path, rows: int, block_rows: int,
                 decode: Callable[[int, int, int | None, float | None, bool], Fields],
                 time_key: str) -> None:
        if rows == 0:  # the whole-tape reader's check: a table needs a row
            raise no_rows(path)
        self.path, self.rows, self.block_rows = path, rows, block_rows
        self.blocks = -(-rows // block_rows)
        self._decode, self._time = decode, time_key
        self._held: OrderedDict[int, Fields] = OrderedDict()
        self.first_ns: list[int] = []  #: each block's first and last time (after the check)
        self.last_ns: list[int] = []
        self.decoded = 0  #: blocks decoded so far

    def check(self) -> None:
        """Decode every block once, in order (each checked against the one before)."""
        center = _median_ts(self.path, self.rows) if self.blocks > 1 else None
        before: int | None = None
        self.first_ns, self.last_ns = [], []
        for k in range(self.blocks):
            first = k * self.block_rows
            fields = self._decode(first, min(self.block_rows, self.rows - first), before,
                                  center, True)
            ns = fields[self._time]
            self.first_ns.append(int(ns[0]))
            self.last_ns.append(int(ns[-1]))
            before = int(ns[-1])
            self._hold(k, fields)

    def _hold(self, k: int, fields: Fields, keep: int = _HELD) -> None:
        self.decoded += 1
        self._held[k] = fields
        while len(self._held) > keep:
            self._held.popitem(last=False)

    @property
    def held_rows(self) -> int:
        return sum(int(f[self._time].size) for f in self._held.values())

    def block(self, k: int, keep: int = _HELD) -> Fields:
        """Block ``k``, decoded unless held; ``keep``: how many blocks to hold at most."""
        if k in self._held:
            self._held.move_to_end(k)
            return self._held[k]
        first = k * self.block_rows
        before = self.last_ns[k - 1] if k else None
        # checked when the tape was opened: read again, the cells are only converted
        fields = self._decode(first, min(self.block_rows, self.rows - first), before, None,
                              False)
        self._hold(k, fields, keep)
        return fields

    def search(self, ns: int, side: Literal["left", "right"]) -> int:
        """``np.searchsorted`` of the whole table's times (``side`` "left" or "right")."""
        last = np.asarray(self.last_ns)
        k = int(np.searchsorted(last, ns, side=side))
        if k >= self.blocks:
            return self.rows
        times = self.block(k)[self._time]
        return k * self.block_rows + int(np.searchsorted(times, ns, side=side))

    def between(self, a: int, b: int) -> Fields:
        """Rows ``a`` to ``b`` (exclusive) of every column (the blocks they span held, at
        least two: a window longer than a block costs its own rows, no more)."""
        b = max(a, b)
        if a == b:
            k = min(a // self.block_rows, self.blocks - 1)
            return {c: None if v is None else v[:0] for c, v in self.block(k).items()}
        parts: list[Fields] = []
        span = range(a // self.block_rows, (b - 1) // self.block_rows + 1)
        for k in span:
            first = k * self.block_rows
            rows = slice(max(a - first, 0), min(b - first, self.block_rows))
            block = self.block(k, max(_HELD, len(span)))
            parts.append({c: None if v is None else v[rows] for c, v in block.items()})
        if len(parts) == 1:
            return parts[0]
        return {c: None if parts[0][c] is None else np.concatenate([p[c] for p in parts])
                for c in parts[0]}


class TapeStream:
    """A long tape read a block at a time (see module doc); :meth:`piece` is the rows of a
    stretch of it as a :class:`~soakkit.sim.tapefile.RecordedTape` (what replay cuts)."""

    def __init__(self, folder: Path, meta: dict[str, Any], instrument: Instrument,
                 block_rows: int) -> None:
        self.path, self.instrument, self._meta = folder, instrument, meta
        self.source = str(meta.get("source", ""))
        self.provenance = {k: v for k, v in meta.items() if k not in ("tick", "lot")}
        self.trades = self._table("trades", TRADE_COLUMNS, block_rows)
        self.quotes = self._table("quotes", QUOTE_COLUMNS, block_rows)
        self.depth: _Table | None = None
        if (folder / DEPTH_TABLE).is_file():
            path = folder / DEPTH_TABLE
            self.depth = _Table(path, _parquet_rows(path), block_rows,
                                self._depth_decoder(path), "ns")
        for table in self.tables:
            table.check()
        check_span(folder, [self.trades.first_ns[0], self.quotes.first_ns[0]],
                   [self.trades.last_ns[-1], self.quotes.last_ns[-1]])
        self.latency: LatencyConstants = venue_latency(self.provenance, self._load)

    def _table(self, name: str, columns: tuple[str, ...], block_rows: int) -> _Table:
        path = find_table(self.path, name)
        inst = self.instrument

        def decode(first: int, count: int, before: int | None, center: float | None,
                   check: bool) -> Fields:
            with rows_from(first):
                cols = load_table(path, columns, (LOCAL,), (first, count), before, center,
                                  check)
                return table_fields(name, path, cols, inst, check)

        return _Table(path, _parquet_rows(path), block_rows, decode,
                      "trade_ns" if name == "trades" else "quote_ns")

    def _depth_decoder(self, path: Path
                       ) -> Callable[[int, int, int | None, float | None, bool], Fields]:
        declared = self._meta.get("levels")

        def decode(first: int, count: int, before: int | None, center: float | None,
                   check: bool) -> Fields:  # depth rows are checked as they convert
            with rows_from(first):
                book = read_depth(path, self.instrument, declared, (first, count), before,
                                  center, check)
            return {"ns": book.ns, "bid_px": book.bid_px, "bid_qty": book.bid_qty,
                    "ask_px": book.ask_px, "ask_qty": book.ask_qty, "local_ns": book.local_ns}

        return decode

    @property
    def tables(self) -> list[_Table]:
        return [t for t in (self.trades, self.quotes, self.depth) if t is not None]

    @property
    def rows(self) -> int:
        """Rows of every table (trades, quotes, depth)."""
        return sum(t.rows for t in self.tables)

    @property
    def held_rows(self) -> int:
        """Decoded rows held now: what the tape costs in memory beyond a window."""
        return sum(t.held_rows for t in self.tables)

    @property
    def start_ns(self) -> int:
        """The first quote: the replay starts where there is a book."""
        return self.quotes.first_ns[0]

    @property
    def end_ns(self) -> int:
        return max(self.quotes.last_ns[-1], self.trades.last_ns[-1])

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def tick(self) -> float:
        return self.instrument.tick

    def _load(self) -> LoadFit:
        """:attr:`RecordedTape.load`, a stretch of whole seconds at a time."""
        start, seconds = self.start_ns, load_seconds(self.start_ns, self.end_ns)
        counts = np.zeros(seconds, dtype=np.int64)
        timed = self.trades.block(0)["trade_local_ns"] is not None
        with_quotes = (timed and self.quotes.block(0)["quote_local_ns"] is not None
                       and not self.provenance.get("estimated_quote_times"))
        per_s = max(1, (self.trades.rows + self.quotes.rows) // seconds)
        step = max(1, self.trades.block_rows // (2 * per_s))  # seconds per stretch
        keys, numbers, medians = [], [], []
        # trades before the first quote count for nothing, as in fit_load
        for a in range(0, seconds, step):
            lo, hi = start + a * NS, start + min(a + step, seconds) * NS
            t = self.trades.between(self.trades.search(lo, "left"),
                                    self.trades.search(hi, "left"))
            q = self.quotes.between(self.quotes.search(lo, "left"),
                                    self.quotes.search(hi, "left"))
            counts += second_counts(t["trade_ns"], start, seconds)
            counts += second_counts(q["quote_ns"], start, seconds)
            if timed:
                ns, local = [t["trade_ns"]], [t["trade_local_ns"]]
                if with_quotes:
                    ns.append(q["quote_ns"])
                    local.append(q["quote_local_ns"])
                got = second_latencies(np.concatenate(ns), np.concatenate(local)
                                       - np.concatenate(ns), start, seconds)
                keys.append(got[0])
                numbers.append(got[1])
                medians.append(got[2])
        if not timed:
            return fit_rates(counts, None)
        return fit_rates(counts, (np.concatenate(keys), np.concatenate(numbers),
                                  np.concatenate(medians)))

    def piece(self, start: int, end: int) -> RecordedTape:
        """The rows replaying ``[start, end)`` needs: the quote (and depth) row in force at
        ``start``, then every row before ``end``, with the whole tape's latency constants."""
        q0 = max(self.quotes.search(start, "right") - 1, 0)
        q1 = max(self.quotes.search(end, "left"), q0 + 1)
        quotes = self.quotes.between(q0, q1)
        trades = self.trades.between(self.trades.search(start, "left"),
                                     self.trades.search(end, "left"))
        depth = None
        if self.depth is not None:
            r0 = max(self.depth.search(start, "right") - 1, 0)
            d = self.depth.between(r0, self.depth.search(end, "left"))
            depth = DepthBook(d["ns"], d["bid_px"], d["bid_qty"], d["ask_px"], d["ask_qty"],
                              d["local_ns"])
        latency = {"activity_ref_per_s": self.latency.activity_ref_per_s,
                   "activity_gain": self.latency.activity_gain}
        return RecordedTape(path=self.path, instrument=self.instrument, source=self.source,
                            **trades, **quotes, depth=depth, provenance={"latency": latency})


def _streamable(folder: Path, meta: dict[str, Any], block_rows: int) -> bool:
    """Parquet tables, the tick and lot stated, and a table longer than a block."""
    if not (meta.get("tick") and meta.get("lot")):
        return False
    paths = [find_table(folder, "trades"), find_table(folder, "quotes")]
    if (folder / DEPTH_TABLE).is_file():
        paths.append(folder / DEPTH_TABLE)
    if any(p.suffix != ".parquet" for p in paths):
        return False
    return any(_parquet_rows(p) > block_rows for p in paths)


def open_tape(folder: Path, block_rows: int | None = None) -> RecordedTape | TapeStream:
    """A tape folder, checked: read whole (:func:`~soakkit.sim.tapefile.read_tape`) when it
    fits in a block (``block_rows``, default :data:`BLOCK_ROWS`) or cannot be streamed,
    else a :class:`TapeStream`."""
    block_rows = block_rows or BLOCK_ROWS
    folder = Path(folder)
    for name in ("trades", "quotes"):
        find_table(folder, name)  # a folder without them: the error read_tape gives
    meta = read_meta(folder)
    if not _streamable(folder, meta, block_rows):
        return read_tape(folder)
    return TapeStream(folder, meta, resolve_instrument(folder, meta, 0.0, 0.0), block_rows)
