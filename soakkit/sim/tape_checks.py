"""Checks every tape passes, whoever made it: times, span and values within
:mod:`soakkit.sim.tape_bounds`, whole ticks and lots. Each raises
:class:`~soakkit.core.errors.TapeError` naming the file and the row (the CSV line, header =
line 1) or, for a tape built in memory, where it was to be written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from soakkit.core.errors import TapeError
from soakkit.core.io import MAX_UTC, MIN_UTC
from soakkit.sim.tape_bounds import MAX_PRICE, MAX_QTY, MAX_SPAN_DAYS, MAX_UNITS

if TYPE_CHECKING:
    from soakkit.sim.tapefile import RecordedTape

__all__ = ["check_span", "check_tape", "check_values", "epoch_ns", "first_bad", "in_units",
           "row_where"]

_NS = 10**9
_DAY_NS = 86_400 * _NS
_MIN_NS = int((MIN_UTC - MIN_UTC).total_seconds()) * _NS
_MAX_NS = int((MAX_UTC - MIN_UTC).total_seconds()) * _NS


def row_where(path: Path, row: int, first_line: int = 2) -> str:
    """How to point at data row ``row`` (0-based): the CSV line (``first_line`` is row 0's:
    2 below a header), or the parquet row."""
    return f"{path}:{row + first_line}" if path.suffix != ".parquet" else f"{path}: row {row + 1}"


def first_bad(path: Path, bad: np.ndarray, message: Callable[[int], str],
           first_line: int = 2) -> None:
    """Raise for the first row where ``bad`` holds, with ``message(row)``."""
    if bad.any():
        row = int(np.argmax(bad))
        raise TapeError(f"{row_where(path, row, first_line)}: {message(row)}")


def _utc(ns: float) -> str:
    """An instant as ``2024-08-09T00:00:00Z`` (any int64 nanoseconds)."""
    return f"{MIN_UTC + timedelta(microseconds=int(ns) // 1000):%Y-%m-%dT%H:%M:%SZ}"


def epoch_ns(path: Path, values: np.ndarray, unit_ns: int | np.ndarray, name: str, *,
             first_line: int = 2, hint: str = "") -> np.ndarray:
    """Times counted in ``unit_ns`` (one unit, or one per row) as int64 ns since the epoch.

    Each must lie in 1970..2261 (checked before the multiplication, which could overflow)
    and within :data:`MAX_SPAN_DAYS` of its file's median time; else :class:`TapeError`
    names the file, the line (``first_line``: row 0's), the value and its date. ``hint``
    ends the far-row message (which units the source uses).
    """
    v = np.asarray(values, dtype=np.int64)
    unit = np.broadcast_to(np.asarray(unit_ns, dtype=np.int64), v.shape)
    first_bad(path, v < -(-_MIN_NS // unit),
           lambda row: f"{name} {v[row]} is before {MIN_UTC:%Y-%m-%d}", first_line)
    first_bad(path, v > _MAX_NS // unit,
           lambda row: f"{name} {v[row]} is after {MAX_UTC:%Y-%m-%dT%H:%M:%SZ}", first_line)
    ns = v * unit
    if ns.size == 0:
        return ns
    center = float(np.median(ns))
    far = np.abs(ns - center) > MAX_SPAN_DAYS * _DAY_NS
    first_bad(path, far, lambda row: (
        f"{name} {v[row]} ({_utc(ns[row])}) is {abs(ns[row] - center) / _DAY_NS:,.0f} days "
        f"from the file's other rows ({_utc(center)}); a tape spans at most "
        f"{MAX_SPAN_DAYS} days" + (f" ({hint})" if hint else "")), first_line)
    return ns


def check_values(where: str, prices: Mapping[str, np.ndarray],
                 sizes: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`TapeError` for the first price above :data:`MAX_PRICE` or quantity
    above :data:`MAX_QTY` (or not finite), naming ``where`` and the column."""
    for limit, columns in ((MAX_PRICE, prices), (MAX_QTY, sizes)):
        for name, values in columns.items():
            bad = ~(np.abs(values) <= limit)
            if bad.any():
                value = values[int(np.argmax(bad))]
                raise TapeError(f"{where}: {name} {value:g} is more than {limit:g}")


def in_units(where: str, values: np.ndarray, step: float, name: str, what: str) -> np.ndarray:
    """``values`` in whole ``what`` (ticks, lots) of ``step``, or :class:`TapeError` naming
    ``where`` and the first value that is not a whole number of them (or too many)."""
    units = values / step
    off = np.abs(units - np.round(units)) > 1e-6
    if off.any():
        raise TapeError(f"{where}: {name} {values[int(np.argmax(off))]:g} is not a multiple "
                        f"of the {what} {step:g}")
    if (np.abs(units) > MAX_UNITS).any():
        value = values[int(np.argmax(np.abs(units) > MAX_UNITS))]
        raise TapeError(f"{where}: {name} {value:g} is more than {MAX_UNITS:g} {what}s of "
                        f"{step:g}")
    return np.round(units)


def check_span(where: Path, starts: list[int], ends: list[int]) -> None:
    """The whole tape (every table) within :data:`MAX_SPAN_DAYS`."""
    start, end = min(starts), max(ends)
    if end - start > MAX_SPAN_DAYS * _DAY_NS:
        raise TapeError(f"{where}: the tape spans {(end - start) / _DAY_NS:.1f} days "
                        f"({_utc(start)} to {_utc(end)}); at most {MAX_SPAN_DAYS} days")


def check_tape(tape: RecordedTape, where: Path) -> None:
    """Raise :class:`TapeError` (naming ``where``) unless ``tape`` is within the bounds of a
    tape: what :func:`~soakkit.sim.tapefile.write_tape` checks before writing it, whoever
    built it."""
    for name, value in (("tick", tape.tick), ("lot", tape.lot)):
        if not (math.isfinite(value) and value > 0):
            raise TapeError(f"{where}: {name} {value!r} must be a number > 0")
    if tape.trade_ns.size == 0 or tape.quote_ns.size == 0:
        raise TapeError(f"{where}: a tape needs trades and quotes")
    for name, ns in (("trades", tape.trade_ns), ("quotes", tape.quote_ns)):
        if int(ns.min()) < _MIN_NS or int(ns.max()) > _MAX_NS:
            raise TapeError(f"{where}: {name} times outside {MIN_UTC:%Y-%m-%d}.."
                            f"{MAX_UTC:%Y-%m-%d}")
    check_span(where, [int(tape.trade_ns.min()), int(tape.quote_ns.min())],
          [int(tape.trade_ns.max()), int(tape.quote_ns.max())])
    check_values(str(where), {"price": tape.trade_px * tape.tick,
                              "bid_px": tape.bid_px * tape.tick,
                              "ask_px": tape.ask_px * tape.tick},
                 {"qty": tape.trade_qty * tape.lot, "bid_qty": tape.bid_qty * tape.lot,
                  "ask_qty": tape.ask_qty * tape.lot})
    for name, lots in (("qty", tape.trade_qty), ("bid_qty", tape.bid_qty),
                       ("ask_qty", tape.ask_qty)):
        off = np.abs(lots - np.round(lots)) > 1e-6
        if off.any():
            raise TapeError(f"{where}: {name} {lots[int(np.argmax(off))] * tape.lot:g} is not "
                            f"a multiple of the lot {tape.lot:g}")
