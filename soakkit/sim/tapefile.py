"""Recorded tapes on disk: the tape format, strict reading with row-level errors, writing.

A tape is a folder (``docs/SIMULATOR.md``, "Replay")::

    <tape>/trades.parquet | trades.csv[.gz]   ts_ns, price, qty, side [, local_ns]
    <tape>/quotes.parquet | quotes.csv[.gz]   ts_ns, bid_px, bid_qty, ask_px, ask_qty [, local_ns]
    <tape>/depth.parquet                      optional, an L2 tape (sim/depthfile.py)
    <tape>/tape.json                          optional: the instrument and provenance

``ts_ns``: integer nanoseconds since the Unix epoch (UTC), the venue's time,
non-decreasing; ``local_ns`` (optional): when the row reached the recording machine, on
the venue's clock (``tape.json`` ``clock`` says how it was aligned), never before
``ts_ns``; ``side``: the aggressor, +1 a buyer lifted the ask, -1 a seller hit the bid; a
quote row is the best bid and ask after an update (both sides present, ``bid_px <
ask_px``). ``tape.json`` (:mod:`soakkit.sim.tapemeta`) records the instrument (kind,
tick, lot, contract size), symbol, venue and source; without it the tick and lot are
inferred from the decimals in the data and the instrument is linear. A bad tape raises
:class:`~soakkit.core.errors.TapeError` naming the file and the row (the CSV line, header
= line 1); nothing is repaired silently.

**Bounds** (``soakkit tape --help``, :mod:`soakkit.sim.tape_bounds`): times from 1970 to
2261, at most 7 days from the first row to the last (a row far from its file's others is
named: often a row in another time unit); prices at most 1e12, quantities at most 1e15,
each at most 1e15 ticks or lots, and trades and quotes a whole number of them. They are
checked before anything allocates per minute or divides, and :func:`write_tape` checks a
tape before writing it, whoever built it (:func:`~soakkit.sim.tape_checks.check_tape`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError
from soakkit.core.io import atomic_write_bytes, atomic_write_json
from soakkit.sim.depth import DepthBook
from soakkit.sim.depthfile import DEPTH_TABLE, depth_frame, read_depth
from soakkit.sim.feed import LoadFit, fit_load
from soakkit.sim.instrument import Instrument
from soakkit.sim.regimes import LATENCY, LatencyConstants
from soakkit.sim.tables import (
    find_table,
    first_bad,
    grid_step,
    load_table,
    on_grid,
    parquet_bytes,
    positive,
)
from soakkit.sim.tape_bounds import MAX_PRICE, MAX_QTY
from soakkit.sim.tape_checks import check_span, check_tape
from soakkit.sim.tapemeta import TAPE_META, meta_document, read_meta, resolve_instrument

__all__ = ["LOCAL", "QUOTE_COLUMNS", "TAPE_META", "TRADE_COLUMNS", "RecordedTape",
           "existing_tape_files", "find_table", "grid_step", "read_tape", "table_fields",
           "tape_frames", "venue_latency", "write_tape"]

TRADE_COLUMNS = ("ts_ns", "price", "qty", "side")
QUOTE_COLUMNS = ("ts_ns", "bid_px", "bid_qty", "ask_px", "ask_qty")
LOCAL = "local_ns"  #: optional column: receive time on the venue's clock


@dataclass(frozen=True)
class RecordedTape:
    """A whole recorded tape in memory: absolute ns, prices in ticks, sizes in lots."""

    path: Path
    instrument: Instrument
    source: str
    trade_ns: np.ndarray
    trade_side: np.ndarray
    trade_px: np.ndarray
    trade_qty: np.ndarray
    quote_ns: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray
    trade_local_ns: np.ndarray | None = None  #: receive times (venue clock), when recorded
    quote_local_ns: np.ndarray | None = None
    depth: DepthBook | None = None  #: top N levels after every depth update (an L2 tape)
    #: what tape.json records beyond the instrument: clock alignment, feed latency, notes
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tick(self) -> float:
        return self.instrument.tick

    @property
    def lot(self) -> float:
        return self.instrument.lot

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def venue(self) -> str:
        return self.instrument.venue

    @cached_property
    def message_ns(self) -> np.ndarray:
        """Every trade and quote time, sorted (what message rates count)."""
        return np.sort(np.concatenate((self.trade_ns, self.quote_ns)))

    @cached_property
    def load(self) -> LoadFit:
        """The instrument's usual message rate and its feed latency's load response
        (:func:`soakkit.sim.feed.fit_load`); the latency from every message with a venue
        time of its own (quote rows whose venue time the importer estimated left out)."""
        if self.trade_local_ns is None:
            return fit_load(self.message_ns, self.start_ns, self.end_ns)
        ns, local = [self.trade_ns], [self.trade_local_ns]
        if self.quote_local_ns is not None and not self.provenance.get("estimated_quote_times"):
            ns.append(self.quote_ns)
            local.append(self.quote_local_ns)
        timed = np.concatenate(ns)
        return fit_load(self.message_ns, self.start_ns, self.end_ns, timed,
                        np.concatenate(local) - timed)

    @cached_property
    def latency(self) -> LatencyConstants:
        """The venue's latency constants for this instrument (:func:`venue_latency`)."""
        return venue_latency(self.provenance, lambda: self.load)

    @property
    def start_ns(self) -> int:
        """The first quote: the replay starts where there is a book."""
        return int(self.quote_ns[0])

    @property
    def end_ns(self) -> int:
        last_trade = int(self.trade_ns[-1]) if self.trade_ns.size else 0
        return max(int(self.quote_ns[-1]), last_trade)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def venue_latency(provenance: Mapping[str, Any], load: Callable[[], LoadFit]
                  ) -> LatencyConstants:
    """A tape's latency constants: ``tape.json`` ``latency`` where it states them (a
    synthetic tape's own), else activity measured against the instrument's median message
    rate and the load response fitted where receive times say it (``load()``)."""
    stated = provenance.get("latency")
    if isinstance(stated, Mapping):
        values: dict[str, Any] = {k: float(v) for k, v in stated.items()}
        return replace(LATENCY, **values)
    fit = load()
    gain = LATENCY.activity_gain if fit.gain is None else fit.gain
    return replace(LATENCY, activity_ref_per_s=fit.ref_per_s, activity_gain=gain)


def _local(path: Path, cols: dict[str, np.ndarray]) -> np.ndarray | None:
    """The ``local_ns`` column, checked: a message cannot arrive before it happened."""
    local = cols.get(LOCAL)
    if local is None:
        return None
    ts = cols["ts_ns"]
    first_bad(path, local < ts, lambda row: f"local_ns {local[row]} is before ts_ns {ts[row]} "
                                            "(receive times are on the venue's clock)")
    return np.asarray(local, dtype=np.int64)


def _check_values(kind: str, path: Path, cols: dict[str, np.ndarray]) -> None:
    """A trades or quotes table's values: positive, bounded, sides ±1, books not crossed."""
    if kind == "trades":
        positive(path, cols, ("price",), MAX_PRICE)
        positive(path, cols, ("qty",), MAX_QTY)
        side = cols["side"]
        first_bad(path, (side != 1) & (side != -1),
                  lambda row: f"side {side[row]} must be 1 (buyer aggressor) or -1 (seller "
                              "aggressor)")
        return
    positive(path, cols, ("bid_px", "ask_px"), MAX_PRICE)
    positive(path, cols, ("bid_qty", "ask_qty"), MAX_QTY)
    bid, ask = cols["bid_px"], cols["ask_px"]
    first_bad(path, bid > ask, lambda row: f"crossed book: bid_px {bid[row]:g} > "
                                           f"ask_px {ask[row]:g}")
    first_bad(path, bid == ask, lambda row: f"locked book: bid_px = ask_px = {bid[row]:g}")


def _ticks(path: Path, cols: dict[str, np.ndarray], tick: float) -> dict[str, np.ndarray]:
    """A table's prices in whole ticks (int64)."""
    return {c: np.round(on_grid(path, cols[c], tick, c, "tick")).astype(np.int64)
            for c in _PRICES if c in cols}


def _lots(path: Path, cols: dict[str, np.ndarray], lot: float) -> dict[str, np.ndarray]:
    """A table's sizes in whole lots (trades and best quotes are whole lots; depth levels
    may hold a finer, older step)."""
    return {c: np.round(on_grid(path, cols[c], lot, c, "lot")) for c in _SIZES if c in cols}


_PRICES = ("price", "bid_px", "ask_px")
_SIZES = ("qty", "bid_qty", "ask_qty")


def _fields(kind: str, cols: dict[str, np.ndarray], ticks: dict[str, np.ndarray],
            lots: dict[str, np.ndarray], local: np.ndarray | None) -> dict[str, Any]:
    """A checked table's columns as :class:`RecordedTape` fields."""
    if kind == "trades":
        return {"trade_ns": cols["ts_ns"].astype(np.int64),
                "trade_side": cols["side"].astype(np.int8), "trade_px": ticks["price"],
                "trade_qty": lots["qty"], "trade_local_ns": local}
    return {"quote_ns": cols["ts_ns"].astype(np.int64), "bid_px": ticks["bid_px"],
            "bid_qty": lots["bid_qty"], "ask_px": ticks["ask_px"], "ask_qty": lots["ask_qty"],
            "quote_local_ns": local}


def table_fields(kind: str, path: Path, cols: dict[str, np.ndarray], instrument: Instrument,
                 check: bool = True) -> dict[str, Any]:
    """A ``trades`` or ``quotes`` table (or a block of one, read by :func:`load_table`)
    checked as :func:`read_tape` checks it (``check=False``: a block checked before, its
    values only converted), as :class:`RecordedTape` fields in ticks and lots."""
    if check:
        _check_values(kind, path, cols)
    ticks, lots = _ticks(path, cols, instrument.tick), _lots(path, cols, instrument.lot)
    return _fields(kind, cols, ticks, lots, _local(path, cols))


def read_tape(folder: Path) -> RecordedTape:
    """Read and check a tape folder; see the module docstring for the format."""
    folder = Path(folder)
    trades_path, quotes_path = find_table(folder, "trades"), find_table(folder, "quotes")
    meta = read_meta(folder)
    t = load_table(trades_path, TRADE_COLUMNS, (LOCAL,))
    q = load_table(quotes_path, QUOTE_COLUMNS, (LOCAL,))
    check_span(folder, [int(t["ts_ns"][0]), int(q["ts_ns"][0])],
               [int(t["ts_ns"][-1]), int(q["ts_ns"][-1])])
    _check_values("trades", trades_path, t)
    _check_values("quotes", quotes_path, q)
    needs_grid = not (meta.get("tick") and meta.get("lot"))
    prices = np.concatenate((t["price"], q["bid_px"], q["ask_px"])) if needs_grid else None
    sizes = np.concatenate((t["qty"], q["bid_qty"], q["ask_qty"])) if needs_grid else None
    inst = resolve_instrument(folder, meta, grid_step(prices) if prices is not None else 0.0,
                              grid_step(sizes) if sizes is not None else 0.0)
    t_ticks, q_ticks = _ticks(trades_path, t, inst.tick), _ticks(quotes_path, q, inst.tick)
    t_lots, q_lots = _lots(trades_path, t, inst.lot), _lots(quotes_path, q, inst.lot)
    depth = None
    if (folder / DEPTH_TABLE).is_file():
        depth = read_depth(folder / DEPTH_TABLE, inst, meta.get("levels"))
    trades = _fields("trades", t, t_ticks, t_lots, _local(trades_path, t))
    quotes = _fields("quotes", q, q_ticks, q_lots, _local(quotes_path, q))
    return RecordedTape(
        path=folder, instrument=inst, source=str(meta.get("source", "")), **trades, **quotes,
        depth=depth, provenance={k: v for k, v in meta.items() if k not in ("tick", "lot")})


def existing_tape_files(folder: Path) -> list[str]:
    """The names of the tape files already in ``folder`` (tables and ``tape.json``)."""
    names = [f"{table}{suffix}" for table in ("trades", "quotes")
             for suffix in (".parquet", ".csv", ".csv.gz")]
    return sorted(n for n in [*names, DEPTH_TABLE, TAPE_META] if (Path(folder) / n).exists())


def tape_frames(tape: RecordedTape) -> dict[str, pl.DataFrame]:
    """``tape``'s tables as :func:`write_tape` writes them, by file name (``trades.parquet``,
    ``quotes.parquet`` and, for an L2 tape, ``depth.parquet``)."""
    digits = max(0, -math.floor(math.log10(tape.tick)) + 2)
    lot_digits = max(0, -math.floor(math.log10(tape.lot)) + 2)
    trades = pl.DataFrame({
        "ts_ns": tape.trade_ns, "price": np.round(tape.trade_px * tape.tick, digits),
        "qty": np.round(tape.trade_qty * tape.lot, lot_digits),
        "side": tape.trade_side.astype(np.int8)})
    quotes = pl.DataFrame({
        "ts_ns": tape.quote_ns, "bid_px": np.round(tape.bid_px * tape.tick, digits),
        "bid_qty": np.round(tape.bid_qty * tape.lot, lot_digits),
        "ask_px": np.round(tape.ask_px * tape.tick, digits),
        "ask_qty": np.round(tape.ask_qty * tape.lot, lot_digits)})
    if tape.trade_local_ns is not None:
        trades = trades.with_columns(pl.Series(LOCAL, tape.trade_local_ns))
    if tape.quote_local_ns is not None:
        quotes = quotes.with_columns(pl.Series(LOCAL, tape.quote_local_ns))
    frames = {"trades.parquet": trades, "quotes.parquet": quotes}
    if tape.depth is not None:
        frames[DEPTH_TABLE] = depth_frame(tape.depth, tape.instrument)
    return frames


def write_tape(folder: Path, tape: RecordedTape, *, mtime: float | None = None,
               replace: bool = False) -> Path:
    """Write ``tape`` as ``trades.parquet``, ``quotes.parquet``, ``depth.parquet`` (an L2
    tape) and ``tape.json``.

    The tape is checked first (:func:`~soakkit.sim.tape_checks.check_tape`). A folder that
    already holds a tape is refused unless ``replace``; then the new tables are written
    first and the old tape's other files (a ``trades.csv``, an L1 tape's missing
    ``depth.parquet``) removed, so one consistent tape is left.
    """
    folder = Path(folder)
    check_tape(tape, folder)
    existing = existing_tape_files(folder)
    if existing and not replace:
        raise TapeError(f"{folder}: already holds a tape ({', '.join(existing)}); --force "
                        "replaces it")
    folder.mkdir(parents=True, exist_ok=True)
    provenance = dict(tape.provenance)
    for name, frame in tape_frames(tape).items():
        atomic_write_bytes(folder / name, parquet_bytes(frame), mtime=mtime)
    if tape.depth is not None:
        provenance["levels"] = tape.depth.levels
    for stale in existing:
        if stale.endswith((".csv", ".csv.gz")) or (stale == DEPTH_TABLE and tape.depth is None):
            (folder / stale).unlink(missing_ok=True)
    atomic_write_json(folder / TAPE_META, meta_document(tape.instrument, tape.source,
                                                        provenance), mtime=mtime)
    return folder
