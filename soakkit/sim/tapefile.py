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
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError
from soakkit.core.io import atomic_write_bytes, atomic_write_json
from soakkit.core.json_strict import load_json_file

__all__ = ["QUOTE_COLUMNS", "TAPE_META", "TRADE_COLUMNS", "RecordedTape", "find_table",
           "grid_step", "read_tape", "write_tape"]

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


def _where(path: Path, row: int) -> str:
    """How to point at data row ``row`` (0-based): the CSV line, or the parquet row."""
    return f"{path}:{row + 2}" if path.suffix != ".parquet" else f"{path}: row {row + 1}"


def _read_frame(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        if path.suffix == ".parquet":
            have = list(pl.read_parquet_schema(path))
        else:
            have = pl.read_csv(path, n_rows=0).columns
    except (OSError, pl.exceptions.PolarsError) as exc:
        if isinstance(exc, pl.exceptions.NoDataError):
            raise TapeError(f"{path}: empty file (no header, no rows)") from None
        raise TapeError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    missing = [c for c in columns if c not in have]
    if missing:
        raise TapeError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(has: {', '.join(have) or 'none'}; expected {', '.join(columns)})")
    types = {c: pl.Int64 if c in _INT else pl.Float64 for c in columns}
    try:
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path, columns=list(columns))
            return frame.with_columns([pl.col(c).cast(t) for c, t in types.items()])
        return pl.read_csv(path, columns=list(columns), schema_overrides=types)
    except (OSError, pl.exceptions.PolarsError):
        raw = pl.read_csv(path, columns=list(columns), infer_schema=False)
        for c, t in types.items():
            bad = raw[c].is_not_null() & raw[c].cast(t, strict=False).is_null()
            if bad.any():
                row = int(bad.arg_max() or 0)
                raise TapeError(f"{_where(path, row)}: {c} {raw[c][row]!r} is not a number"
                                ) from None
        raise TapeError(f"{path}: cannot read the columns {', '.join(columns)}") from None


def _first(path: Path, bad: np.ndarray, message: Callable[[int], str]) -> None:
    """Raise for the first row where ``bad`` holds, with ``message(row)``."""
    if bad.any():
        row = int(np.argmax(bad))
        raise TapeError(f"{_where(path, row)}: {message(row)}")


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
        _first(path, nulls, _says(f"{c} is empty or not finite"))
    ts = cols["ts_ns"]
    _first(path, np.concatenate(([False], ts[1:] < ts[:-1])),
           lambda row: f"ts_ns {ts[row]} is earlier than the row before ({ts[row - 1]}); "
                       "a tape must be sorted by time")
    return cols


def _positive(path: Path, cols: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
    for c in names:
        values = cols[c]
        _first(path, values <= 0, _with_value(c, values, "must be > 0"))


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
    units = values / step
    _first(path, np.abs(units - np.round(units)) > 1e-6,
           lambda row: f"{name} {values[row]:g} is not a multiple of the {what} {step:g}")
    return units


def _lots(values: np.ndarray, lot: float) -> np.ndarray:
    """Quantities in lots, snapped to whole lots where the decimals say they are."""
    units = values / lot
    near = np.round(units)
    return np.asarray(np.where(np.abs(units - near) < 1e-6, near, units))


def read_tape(folder: Path) -> RecordedTape:
    """Read and check a tape folder; see the module docstring for the format."""
    folder = Path(folder)
    trades_path, quotes_path = find_table(folder, "trades"), find_table(folder, "quotes")
    meta: dict[str, Any] = {}
    if (folder / TAPE_META).is_file():
        meta = load_json_file(folder / TAPE_META)
    t = _load(trades_path, TRADE_COLUMNS)
    q = _load(quotes_path, QUOTE_COLUMNS)
    _positive(trades_path, t, ("price", "qty"))
    side = t["side"]
    _first(trades_path, (side != 1) & (side != -1),
           lambda row: f"side {side[row]} must be 1 (buyer aggressor) or -1 (seller aggressor)")
    _positive(quotes_path, q, ("bid_px", "bid_qty", "ask_px", "ask_qty"))
    bid, ask = q["bid_px"], q["ask_px"]
    _first(quotes_path, bid > ask, lambda row: f"crossed book: bid_px {bid[row]:g} > ask_px "
                                               f"{ask[row]:g}")
    _first(quotes_path, bid == ask, lambda row: f"locked book: bid_px = ask_px = {bid[row]:g}")
    prices = np.concatenate((t["price"], q["bid_px"], q["ask_px"]))
    sizes = np.concatenate((t["qty"], q["bid_qty"], q["ask_qty"]))
    tick = float(meta.get("tick") or grid_step(prices))
    lot = float(meta.get("lot") or grid_step(sizes))
    for name, value in (("tick", tick), ("lot", lot)):
        if not (math.isfinite(value) and value > 0):
            raise TapeError(f"{folder / TAPE_META}: {name} must be a number > 0")
    px = {c: _on_grid(p, v[c], tick, c, "tick") for p, v, c in (
        (trades_path, t, "price"), (quotes_path, q, "bid_px"), (quotes_path, q, "ask_px"))}
    return RecordedTape(
        path=folder, tick=tick, lot=lot, symbol=str(meta.get("symbol", "")),
        source=str(meta.get("source", "")),
        trade_ns=t["ts_ns"].astype(np.int64), trade_side=t["side"].astype(np.int8),
        trade_px=np.round(px["price"]).astype(np.int64), trade_qty=_lots(t["qty"], lot),
        quote_ns=q["ts_ns"].astype(np.int64), bid_px=np.round(px["bid_px"]).astype(np.int64),
        bid_qty=_lots(q["bid_qty"], lot), ask_px=np.round(px["ask_px"]).astype(np.int64),
        ask_qty=_lots(q["ask_qty"], lot))


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=9, statistics=False)
    return buf.getvalue()


def write_tape(folder: Path, tape: RecordedTape, *, mtime: float | None = None) -> Path:
    """Write ``tape`` as ``trades.parquet``, ``quotes.parquet`` and ``tape.json``."""
    folder = Path(folder)
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
    atomic_write_json(folder / TAPE_META, {"tick": tape.tick, "lot": tape.lot,
                                           "symbol": tape.symbol, "source": tape.source},
                      mtime=mtime)
    return folder
