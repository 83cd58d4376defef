"""The bounds of a recorded tape: its time window and span, and its largest values.

Light on purpose (no numpy): ``soakkit tape --help`` states them, and
:mod:`soakkit.sim.tapefile` enforces them on every tape it reads or writes.
"""

from __future__ import annotations

from soakkit.core.io import MAX_UTC, MIN_UTC

__all__ = ["BOUNDS_HELP", "MAX_PRICE", "MAX_QTY", "MAX_SPAN_DAYS", "MAX_UNITS"]

#: The longest tape, first row to last: labelling it takes about 30 kB per minute (0.3 GB).
MAX_SPAN_DAYS = 7
#: The largest price and quantity a tape may hold (1e300 would only overflow later).
MAX_PRICE, MAX_QTY = 1e12, 1e15
#: The most ticks in a price and lots in a quantity: exact in a float and an int64.
MAX_UNITS = 1e15
#: The ``bounds:`` sentence of ``soakkit tape --help``.
BOUNDS_HELP = (f"tapes: rows from {MIN_UTC:%Y-%m-%d} to {MAX_UTC:%Y-%m-%d}, at most "
               f"{MAX_SPAN_DAYS} days from the first to the last; prices at most "
               f"{MAX_PRICE:g}, quantities at most {MAX_QTY:g}, each a whole number of ticks "
               f"or lots (at most {MAX_UNITS:g})")
