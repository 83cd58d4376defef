"""Strict reading of a tape's tables: one-line errors naming the file and the row.

The helpers every tape table shares (``trades``, ``quotes``, ``depth``): finding the one
file of a table, reading its columns as numbers (optional columns read when present),
refusing the first bad row with the CSV line or the parquet row, and the price and
quantity grids. A bad table raises :class:`~soakkit.core.errors.TapeError`; nothing is
repaired silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError

__all__ = [
    "INT_COLUMNS",
    "check_frame",
    "find_table",
    "first_bad",
    "grid_step",
    "load_table",
    "on_grid",
    "parquet_bytes",
    "positive",
    "row_location",
    "says",
    "to_lots",
    "with_value",
]

_SUFFIXES = (".parquet", ".csv", ".csv.gz")
#: columns read as exact integers; every other column is a float
INT_COLUMNS = ("ts_ns", "side", "local_ns")


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


def row_location(path: Path, row: int) -> str:
    """How to point at data row ``row`` (0-based): the CSV line, or the parquet row."""
    return f"{path}:{row + 2}" if path.suffix != ".parquet" else f"{path}: row {row + 1}"


def _read_frame(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
                ) -> pl.DataFrame:
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
    columns = columns + tuple(c for c in optional if c in have)
    types = {c: pl.Int64 if c in INT_COLUMNS else pl.Float64 for c in columns}
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
                raise TapeError(f"{row_location(path, row)}: {c} {raw[c][row]!r} is not a number"
                                ) from None
        raise TapeError(f"{path}: cannot read the columns {', '.join(columns)}") from None


def first_bad(path: Path, bad: np.ndarray, message: Callable[[int], str]) -> None:
    """Raise for the first row where ``bad`` holds, with ``message(row)``."""
    if bad.any():
        row = int(np.argmax(bad))
        raise TapeError(f"{row_location(path, row)}: {message(row)}")


def says(text: str) -> Callable[[int], str]:
    return lambda row: text


def with_value(name: str, values: np.ndarray, text: str) -> Callable[[int], str]:
    return lambda row: f"{name} {values[row]:g} {text}"


def load_table(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
               ) -> dict[str, np.ndarray]:
    """``columns`` (and those of ``optional`` the file has) as numbers, every cell present
    and finite, ``ts_ns`` non-decreasing."""
    return check_frame(path, _read_frame(path, columns, optional))


def check_frame(path: Path, frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every column of ``frame`` (read from ``path``) as numbers: no empty or non-finite
    cell, ``ts_ns`` non-decreasing."""
    columns = tuple(frame.columns)
    if frame.height == 0:
        raise TapeError(f"{path}: no rows (only a header)")
    cols = {c: frame[c].to_numpy() for c in columns}
    for c in columns:
        nulls = frame[c].is_null().to_numpy()
        if c not in INT_COLUMNS:
            nulls |= ~np.isfinite(np.where(nulls, 0.0, cols[c]))
        first_bad(path, nulls, says(f"{c} is empty or not finite"))
    ts = cols["ts_ns"]
    first_bad(path, np.concatenate(([False], ts[1:] < ts[:-1])),
              lambda row: f"ts_ns {ts[row]} is earlier than the row before ({ts[row - 1]}); "
                          "a tape must be sorted by time")
    return cols


def positive(path: Path, cols: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
    for c in names:
        values = cols[c]
        first_bad(path, values <= 0, with_value(c, values, "must be > 0"))


def grid_step(values: np.ndarray) -> float:
    """The coarsest step every value is a multiple of (from its decimals), e.g. 0.1."""
    for digits in range(10):
        scaled = np.abs(values) * 10.0**digits
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6):
            ints = np.round(scaled).astype(np.int64)
            step = int(np.gcd.reduce(ints[ints > 0])) if (ints > 0).any() else 1
            return step / 10.0**digits
    return 1e-9


def on_grid(path: Path, values: np.ndarray, step: float, name: str, what: str) -> np.ndarray:
    units = values / step
    first_bad(path, np.abs(units - np.round(units)) > 1e-6,
           lambda row: f"{name} {values[row]:g} is not a multiple of the {what} {step:g}")
    return units


def to_lots(values: np.ndarray, lot: float) -> np.ndarray:
    """Quantities in lots, snapped to whole lots where the decimals say they are."""
    units = values / lot
    near = np.round(units)
    return np.asarray(np.where(np.abs(units - near) < 1e-6, near, units))


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=9, statistics=False)
    return buf.getvalue()
