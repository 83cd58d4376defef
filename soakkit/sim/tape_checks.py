"""Checks every tape passes, whoever built it: span and values within
:mod:`soakkit.sim.tape_bounds`, whole ticks and lots (a table's rows are checked as they
are read, by :mod:`soakkit.sim.tables`). Each raises :class:`~soakkit.core.errors.TapeError`
naming where the tape was read from or was to be written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from soakkit.core.errors import TapeError
from soakkit.sim.tape_bounds import (
    DAY_NS,
    MAX_NS,
    MAX_PRICE,
    MAX_QTY,
    MAX_SPAN_DAYS,
    MAX_UNITS,
    MIN_NS,
    utc_text,
)

if TYPE_CHECKING:
    from soakkit.sim.tapefile import RecordedTape

__all__ = ["check_span", "check_tape", "check_values", "in_units"]


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
    if end - start > MAX_SPAN_DAYS * DAY_NS:
        raise TapeError(f"{where}: the tape spans {(end - start) / DAY_NS:.1f} days "
                        f"({utc_text(start)} to {utc_text(end)}); at most {MAX_SPAN_DAYS} days")


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
        if int(ns.min()) < MIN_NS or int(ns.max()) > MAX_NS:
            raise TapeError(f"{where}: {name} times outside {utc_text(MIN_NS)[:10]}.."
                            f"{utc_text(MAX_NS)[:10]}")
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
