"""Strict reading of a tape's tables: one-line errors naming the file and the row.

The helpers every tape table shares (``trades``, ``quotes``, ``depth``): finding the one
file of a table, reading its columns as numbers (optional columns read when present),
refusing the first bad row with the CSV line or the parquet row, times within the bounds
of a tape (:func:`epoch_ns`, :mod:`soakkit.sim.tape_bounds`), and the price and quantity
grids. A bad table raises :class:`~soakkit.core.errors.TapeError`; nothing is repaired
silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import READ_ERRORS, TapeError, unreadable_reason
from soakkit.sim.tape_bounds import DAY_NS, MAX_NS, MAX_SPAN_DAYS, MAX_UNITS, MIN_NS, utc_text

__all__ = [
    "INT_COLUMNS",
    "check_frame",
    "epoch_ns",
    "find_table",
    "first_bad",
    "grid_step",
    "load_table",
    "no_rows",
    "on_grid",
    "parquet_bytes",
    "positive",
    "row_location",
    "rows_from",
    "says",
    "to_lots",
    "with_value",
]

_SUFFIXES = (".parquet", ".csv", ".csv.gz")
#: columns read as exact integers; every other column is a float
INT_COLUMNS = ("ts_ns", "side", "local_ns")
#: the file row of the first row being checked (a streamed tape checks a block at a time)
_ROW0: ContextVar[int] = ContextVar("row0", default=0)


@contextmanager
def rows_from(row0: int) -> Iterator[None]:
    """Within the block, the rows checked are the file's rows from ``row0`` (0-based): the
    errors raised name the file's row, not the block's."""
    token = _ROW0.set(row0)
    try:
        yield
    finally:
        _ROW0.reset(token)


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


def row_location(path: Path, row: int, first_line: int = 2) -> str:
    """How to point at data row ``row`` (0-based): the CSV line (``first_line`` is row 0's:
    2 below a header), or the parquet row (of the block :func:`rows_from` is checking)."""
    row += _ROW0.get()
    return f"{path}:{row + first_line}" if path.suffix != ".parquet" else f"{path}: row {row + 1}"


def _read_frame(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = (),
                rows: tuple[int, int] | None = None) -> pl.DataFrame:
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
    columns = columns + tuple(c for c in optional if c in have)
    types = {c: pl.Int64 if c in INT_COLUMNS else pl.Float64 for c in columns}
    try:
        if path.suffix == ".parquet" and rows is not None:
            raw = pl.scan_parquet(path).select(columns).slice(rows[0], rows[1]).collect()
        elif path.suffix == ".parquet":
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
            raise TapeError(f"{row_location(path, row)}: {c} {raw[c][row]!r} is not a number")
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
                    return f"{path}:{number}: {fields} fields, the header has {width}"
    except READ_ERRORS:
        pass
    return f"{path}: {unreadable_reason(exc, 'CSV file')}"


def first_bad(path: Path, bad: np.ndarray, message: Callable[[int], str],
              first_line: int = 2) -> None:
    """Raise for the first row where ``bad`` holds, with ``message(row)``."""
    if bad.any():
        row = int(np.argmax(bad))
        raise TapeError(f"{row_location(path, row, first_line)}: {message(row)}")


def epoch_ns(path: Path, values: np.ndarray, unit_ns: int | np.ndarray, name: str, *,
             first_line: int = 2, hint: str = "", center: float | None = None
             ) -> np.ndarray:
    """Times counted in ``unit_ns`` (one unit, or one per row) as int64 ns since the epoch.

    Each must lie in 1970..2261 (checked before the multiplication, which could overflow)
    and within :data:`~soakkit.sim.tape_bounds.MAX_SPAN_DAYS` of its file's median time
    (``center``: a block's file's, else these values');
    else :class:`TapeError` names the file, the line (``first_line``: row 0's), the value
    and its date (a far row is often one in another unit: ``hint`` says the source's).
    """
    v = np.asarray(values, dtype=np.int64)
    unit = np.broadcast_to(np.asarray(unit_ns, dtype=np.int64), v.shape)
    first_bad(path, v < -(-MIN_NS // unit),
              lambda row: f"{name} {v[row]} is before {utc_text(MIN_NS)[:10]}", first_line)
    first_bad(path, v > MAX_NS // unit,
              lambda row: f"{name} {v[row]} is after {utc_text(MAX_NS)}", first_line)
    ns = v * unit
    if ns.size == 0:
        return ns
    center = float(np.median(ns)) if center is None else center
    far = np.abs(ns - center) > MAX_SPAN_DAYS * DAY_NS
    first_bad(path, far, lambda row: (
        f"{name} {v[row]} ({utc_text(ns[row])}) is {abs(ns[row] - center) / DAY_NS:,.0f} "
        f"days from the file's other rows ({utc_text(center)}); a tape spans at most "
        f"{MAX_SPAN_DAYS} days" + (f" ({hint})" if hint else "")), first_line)
    return ns


def says(text: str) -> Callable[[int], str]:
    return lambda row: text


def with_value(name: str, values: np.ndarray, text: str) -> Callable[[int], str]:
    return lambda row: f"{name} {values[row]:g} {text}"


def load_table(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = (),
               rows: tuple[int, int] | None = None, before: int | None = None,
               center: float | None = None, check: bool = True) -> dict[str, np.ndarray]:
    """``columns`` (and those of ``optional`` the file has) as numbers, every cell present
    and finite, ``ts_ns`` non-decreasing.

    ``rows`` (a parquet file): only ``(first, count)`` rows, a block of a streamed tape,
    checked within :func:`rows_from` ``(first)``; ``before`` is the time of the row before
    it and ``center`` the file's median time (:func:`check_frame`); ``check=False``: a
    block read again after it was checked, its cells only.
    """
    frame = _read_frame(path, columns, optional, rows)
    if not check:
        return {c: frame[c].to_numpy() for c in frame.columns}
    return check_frame(path, frame, before, center)


def no_rows(path: Path) -> TapeError:
    """The error of a table with a header and no rows."""
    return TapeError(f"{path}: no rows (only a header)")


def check_frame(path: Path, frame: pl.DataFrame, before: int | None = None,
                center: float | None = None) -> dict[str, np.ndarray]:
    """Every column of ``frame`` (read from ``path``) as numbers: no empty or non-finite
    cell, ``ts_ns`` non-decreasing (from ``before``, the time of the row before a block),
    times within a tape's span of ``center`` (default: the frame's median time)."""
    columns = tuple(frame.columns)
    if frame.height == 0:
        raise no_rows(path)
    cols = {c: frame[c].to_numpy() for c in columns}
    for c in columns:
        nulls = frame[c].is_null().to_numpy()
        if c not in INT_COLUMNS:
            nulls |= ~np.isfinite(np.where(nulls, 0.0, cols[c]))
        first_bad(path, nulls, says(f"{c} is empty or not finite"))
    ts = cols["ts_ns"]
    prior = np.concatenate(([ts[0] if before is None else before], ts[:-1]))
    first_bad(path, ts < prior,
              lambda row: f"ts_ns {ts[row]} is earlier than the row before ({prior[row]}); "
                          "a tape must be sorted by time")
    for c in ("ts_ns", "local_ns"):
        if c in cols:
            epoch_ns(path, cols[c], 1, c, center=center)
    return cols


def positive(path: Path, cols: dict[str, np.ndarray], names: tuple[str, ...],
             limit: float | None = None) -> None:
    """Every value of ``names`` more than 0 and (``limit``) at most ``limit``."""
    for c in names:
        values = cols[c]
        first_bad(path, values <= 0, with_value(c, values, "must be > 0"))
        if limit is not None:
            first_bad(path, values > limit, with_value(c, values, f"is more than {limit:g}"))


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
    """``values`` in ``what`` (ticks, lots) of ``step``: each a whole number of them, and at
    most :data:`~soakkit.sim.tape_bounds.MAX_UNITS` (exact in a float and an int64)."""
    units = values / step
    first_bad(path, np.abs(units - np.round(units)) > 1e-6,
              lambda row: f"{name} {values[row]:g} is not a multiple of the {what} {step:g}")
    first_bad(path, np.abs(units) > MAX_UNITS,
              lambda row: f"{name} {values[row]:g} is more than {MAX_UNITS:g} {what}s of "
                          f"{step:g}")
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
