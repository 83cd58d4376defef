"""Recorded tapes on disk: the tape format, strict reading with row-level errors, writing.

A tape is a folder (``docs/SIMULATOR.md``, "Replay")::

    <tape>/trades.parquet | trades.csv[.gz]   ts_ns, price, qty, side
    <tape>/quotes.parquet | quotes.csv[.gz]   ts_ns, bid_px, bid_qty, ask_px, ask_qty
    <tape>/tape.json                          optional: tick, lot, symbol, source

``ts_ns``: integer nanoseconds since the Unix epoch (UTC), non-decreasing; ``side``: the
aggressor, +1 a buyer lifted the ask, -1 a seller hit the bid; a quote row is the best
bid and ask after an update (both sides present, ``bid_px < ask_px``). Without
``tape.json`` the price tick and quantity lot are inferred from the decimals in the data.
A bad tape raises :class:`~soakkit.core.errors.TapeError` naming the file and the row (the
CSV line, header = line 1); nothing is repaired silently.

**Bounds** (``soakkit tape --help``): times from 1970-01-01 to 2261-12-31
(:data:`~soakkit.core.io.MIN_UTC`..:data:`~soakkit.core.io.MAX_UTC`), at most
:data:`MAX_SPAN_DAYS` from the first row to the last (a row far from its file's others is
named: often a row in another time unit); prices at most :data:`MAX_PRICE`, quantities at
most :data:`MAX_QTY`, each at most :data:`MAX_UNITS` ticks or lots and a whole number of
them. They are checked before anything allocates per minute or divides, and
:func:`write_tape` checks a tape before writing it, whoever built it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.core.errors import READ_ERRORS, TapeError, unreadable_reason
from soakkit.core.io import atomic_write_bytes, atomic_write_json
from soakkit.core.json_strict import is_finite_number, load_json_file
from soakkit.sim.tape_bounds import MAX_PRICE, MAX_QTY, MAX_UNITS
from soakkit.sim.tape_checks import (
    check_span,
    check_tape,
    epoch_ns,
    first_bad,
    row_where,
)

__all__ = ["QUOTE_COLUMNS", "TAPE_META", "TRADE_COLUMNS", "RecordedTape", "existing_tape_files",
           "find_table", "grid_step", "read_tape", "write_tape"]

TRADE_COLUMNS = ("ts_ns", "price", "qty", "side")
QUOTE_COLUMNS = ("ts_ns", "bid_px", "bid_qty", "ask_px", "ask_qty")
TAPE_META = "tape.json"
_SUFFIXES = (".parquet", ".csv", ".csv.gz")
_INT = ("ts_ns", "side")


@dataclass(frozen=True)
class RecordedTape:
    """A whole recorded tape in memory: absolute ns, prices in ticks, sizes in lots."""

    path: Path
    tick: float
    lot: float
    symbol: str
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


def find_table(folder: Path, name: str) -> Path:
    """``<folder>/<name>.parquet``, ``.csv`` or ``.csv.gz`` (exactly one of them)."""
    if not folder.is_dir():
        raise TapeError(f"{folder}: not a tape folder (expected {name}.parquet or {name}.csv "
                        "inside; see docs/SIMULATOR.md)")
    found = [folder / f"{name}{s}" for s in _SUFFIXES if (folder / f"{name}{s}").is_file()]
    if not found:
        raise TapeError(f"{folder}: no {name}.parquet, {name}.csv or {name}.csv.gz")
    if len(found) > 1:
        raise TapeError(f"{folder}: both {found[0].name} and {found[1].name}; keep one")
    return found[0]


def _read_frame(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        if path.suffix == ".parquet":
            have = list(pl.read_parquet_schema(path))
        else:
            have = pl.read_csv(path, n_rows=0).columns
    except (OSError, pl.exceptions.PolarsError) as exc:
        if isinstance(exc, pl.exceptions.NoDataError):
            raise TapeError(f"{path}: empty file (no header, no rows)") from None
        kind = "parquet file" if path.suffix == ".parquet" else "CSV file"
        raise TapeError(f"{path}: {unreadable_reason(exc, kind)}") from None
    missing = [c for c in columns if c not in have]
    if missing:
        raise TapeError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(has: {', '.join(have) or 'none'}; expected {', '.join(columns)})")
    types = {c: pl.Int64 if c in _INT else pl.Float64 for c in columns}
    try:
        if path.suffix == ".parquet":
            raw = pl.read_parquet(path, columns=list(columns))
        else:
            return pl.read_csv(path, columns=list(columns), schema_overrides=types)
    except (OSError, pl.exceptions.PolarsError) as exc:
        if path.suffix == ".parquet":
            raise TapeError(f"{path}: {unreadable_reason(exc, 'parquet file')}") from None
        try:
            raw = pl.read_csv(path, columns=list(columns), infer_schema=False)
        except (OSError, pl.exceptions.PolarsError) as again:
            raise TapeError(_csv_problem(path, again)) from None
    for c, t in types.items():
        cast = raw[c].cast(t, strict=False)
        bad = raw[c].is_not_null() & cast.is_null()
        if bad.any():
            row = int(bad.arg_max() or 0)
            raise TapeError(f"{row_where(path, row)}: {c} {raw[c][row]!r} is not a number")
        raw = raw.with_columns(cast.alias(c))
    return raw


def _csv_problem(path: Path, exc: BaseException) -> str:
    """Why polars cannot read a CSV, in soakkit's words: the first line whose number of
    fields is not the header's (a ragged row), else what :func:`unreadable_reason` says."""
    import gzip

    try:
        with (gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz")
              else path.open(encoding="utf-8")) as fh:
            width = None
            for number, line in enumerate(fh, 1):
                fields = line.rstrip("\r\n").count(",") + 1
                width = fields if width is None else width
                if fields != width and line.strip():
                    return (f"{path}:{number}: {fields} fields, the header has {width}")
    except READ_ERRORS:
        pass
    return f"{path}: {unreadable_reason(exc, 'CSV file')}"


def _says(text: str) -> Callable[[int], str]:
    return lambda row: text


def _with_value(name: str, values: np.ndarray, text: str) -> Callable[[int], str]:
    return lambda row: f"{name} {values[row]:g} {text}"


def _load(path: Path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    frame = _read_frame(path, columns)
    if frame.height == 0:
        raise TapeError(f"{path}: no rows (only a header)")
    cols = {c: frame[c].to_numpy() for c in columns}
    for c in columns:
        nulls = frame[c].is_null().to_numpy()
        if c not in _INT:
            nulls |= ~np.isfinite(np.where(nulls, 0.0, cols[c]))
        first_bad(path, nulls, _says(f"{c} is empty or not finite"))
    ts = cols["ts_ns"]
    first_bad(path, np.concatenate(([False], ts[1:] < ts[:-1])),
           lambda row: f"ts_ns {ts[row]} is earlier than the row before ({ts[row - 1]}); "
                       "a tape must be sorted by time")
    epoch_ns(path, ts, 1, "ts_ns")
    return cols


def _positive(path: Path, cols: dict[str, np.ndarray], names: tuple[str, ...],
              limit: float) -> None:
    for c in names:
        values = cols[c]
        first_bad(path, values <= 0, _with_value(c, values, "must be > 0"))
        first_bad(path, values > limit, _with_value(c, values, f"is more than {limit:g}"))


def grid_step(values: np.ndarray) -> float:
    """The coarsest step every value is a multiple of (from its decimals), e.g. 0.1."""
    for digits in range(10):
        scaled = np.abs(values) * 10.0**digits
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6):
            ints = np.round(scaled).astype(np.int64)
            step = int(np.gcd.reduce(ints[ints > 0])) if (ints > 0).any() else 1
            return step / 10.0**digits
    return 1e-9


def _on_grid(path: Path, values: np.ndarray, step: float, name: str, what: str) -> np.ndarray:
    """``values`` in whole ``what`` of ``step``; a value off the grid names its row."""
    units = values / step
    first_bad(path, np.abs(units - np.round(units)) > 1e-6,
           lambda row: f"{name} {values[row]:g} is not a multiple of the {what} {step:g}")
    first_bad(path, np.abs(units) > MAX_UNITS,
           lambda row: f"{name} {values[row]:g} is more than {MAX_UNITS:g} {what}s of {step:g}")
    return np.round(units)


def _step(meta: Mapping[str, Any], name: str, inferred: Callable[[], float],
          folder: Path) -> float:
    """``tick`` or ``lot`` from ``tape.json`` (a number > 0), else inferred from the data."""
    if name not in meta or meta[name] is None:
        return inferred()
    value = meta[name]
    if not is_finite_number(value) or value <= 0:
        raise TapeError(f"{folder / TAPE_META}: {name} must be a number > 0")
    return float(value)


def read_tape(folder: Path) -> RecordedTape:
    """Read and check a tape folder; see the module docstring for the format."""
    folder = Path(folder)
    trades_path, quotes_path = find_table(folder, "trades"), find_table(folder, "quotes")
    meta: dict[str, Any] = {}
    if (folder / TAPE_META).is_file():
        meta = load_json_file(folder / TAPE_META)
    t = _load(trades_path, TRADE_COLUMNS)
    q = _load(quotes_path, QUOTE_COLUMNS)
    check_span(folder, [int(t["ts_ns"][0]), int(q["ts_ns"][0])],
          [int(t["ts_ns"][-1]), int(q["ts_ns"][-1])])
    _positive(trades_path, t, ("price",), MAX_PRICE)
    _positive(trades_path, t, ("qty",), MAX_QTY)
    side = t["side"]
    first_bad(trades_path, (side != 1) & (side != -1),
           lambda row: f"side {side[row]} must be 1 (buyer aggressor) or -1 (seller aggressor)")
    _positive(quotes_path, q, ("bid_px", "ask_px"), MAX_PRICE)
    _positive(quotes_path, q, ("bid_qty", "ask_qty"), MAX_QTY)
    bid, ask = q["bid_px"], q["ask_px"]
    first_bad(quotes_path, bid > ask, lambda row: f"crossed book: bid_px {bid[row]:g} > ask_px "
                                               f"{ask[row]:g}")
    first_bad(quotes_path, bid == ask, lambda row: f"locked book: bid_px = ask_px = {bid[row]:g}")
    tick = _step(meta, "tick", lambda: grid_step(np.concatenate((t["price"], bid, ask))),
                 folder)
    lot = _step(meta, "lot", lambda: grid_step(np.concatenate((t["qty"], q["bid_qty"],
                                                               q["ask_qty"]))), folder)
    px = {c: _on_grid(p, v[c], tick, c, "tick") for p, v, c in (
        (trades_path, t, "price"), (quotes_path, q, "bid_px"), (quotes_path, q, "ask_px"))}
    lots = {c: _on_grid(p, v[c], lot, c, "lot") for p, v, c in (
        (trades_path, t, "qty"), (quotes_path, q, "bid_qty"), (quotes_path, q, "ask_qty"))}
    return RecordedTape(
        path=folder, tick=tick, lot=lot, symbol=str(meta.get("symbol", "")),
        source=str(meta.get("source", "")),
        trade_ns=t["ts_ns"].astype(np.int64), trade_side=t["side"].astype(np.int8),
        trade_px=px["price"].astype(np.int64), trade_qty=lots["qty"],
        quote_ns=q["ts_ns"].astype(np.int64), bid_px=px["bid_px"].astype(np.int64),
        bid_qty=lots["bid_qty"], ask_px=px["ask_px"].astype(np.int64),
        ask_qty=lots["ask_qty"])


def existing_tape_files(folder: Path) -> list[str]:
    """The names of the tape files already in ``folder`` (tables and ``tape.json``)."""
    names = [f"{table}{suffix}" for table in ("trades", "quotes") for suffix in _SUFFIXES]
    return sorted(n for n in [*names, TAPE_META] if (Path(folder) / n).exists())


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=9, statistics=False)
    return buf.getvalue()


def write_tape(folder: Path, tape: RecordedTape, *, mtime: float | None = None,
               replace: bool = False) -> Path:
    """Write ``tape`` as ``trades.parquet``, ``quotes.parquet`` and ``tape.json``.

    The tape is checked first (:func:`check_tape`). A folder that already holds a tape is
    refused unless ``replace``; then the new tables are written first and the old tape's
    other files (``trades.csv``, say) removed, so one consistent tape is left.
    """
    folder = Path(folder)
    check_tape(tape, folder)
    existing = existing_tape_files(folder)
    if existing and not replace:
        raise TapeError(f"{folder}: already holds a tape ({', '.join(existing)}); --force "
                        "replaces it")
    folder.mkdir(parents=True, exist_ok=True)
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
    atomic_write_bytes(folder / "trades.parquet", _parquet_bytes(trades), mtime=mtime)
    atomic_write_bytes(folder / "quotes.parquet", _parquet_bytes(quotes), mtime=mtime)
    for stale in existing:
        if stale.endswith((".csv", ".csv.gz")):
            (folder / stale).unlink(missing_ok=True)
    atomic_write_json(folder / TAPE_META, {"tick": tape.tick, "lot": tape.lot,
                                           "symbol": tape.symbol, "source": tape.source},
                      mtime=mtime)
    return folder
