"""The bounds of a recorded tape: its time window and span, and its largest values.

Light on purpose (no numpy): ``soakkit tape --help`` states them, and
:mod:`soakkit.sim.tapefile` enforces them on every tape it reads or writes.
"""

from __future__ import annotations

from datetime import timedelta

from soakkit.core.io import MAX_UTC, MIN_UTC

__all__ = ["BOUNDS_HELP", "DAY_NS", "MAX_NS", "MAX_PRICE", "MAX_QTY", "MAX_SPAN_DAYS",
           "MAX_UNITS", "MIN_NS", "utc_text"]

#: The longest tape, first row to last: labelling it takes about 30 kB per minute (0.3 GB).
MAX_SPAN_DAYS = 7
#: The largest price and quantity a tape may hold (1e300 would only overflow later).
MAX_PRICE, MAX_QTY = 1e12, 1e15
#: The most ticks in a price and lots in a quantity: exact in a float and an int64.
MAX_UNITS = 1e15
#: Nanoseconds since the epoch of the first and last instant a tape may hold, and of a day.
MIN_NS, MAX_NS = 0, int((MAX_UTC - MIN_UTC).total_seconds()) * 10**9
DAY_NS = int(timedelta(days=1).total_seconds()) * 10**9
#: The ``bounds:`` sentence of ``soakkit tape --help``.
BOUNDS_HELP = (f"tapes: rows from {MIN_UTC:%Y-%m-%d} to {MAX_UTC:%Y-%m-%d}, at most "
               f"{MAX_SPAN_DAYS} days from the first to the last; prices at most "
               f"{MAX_PRICE:g}, quantities at most {MAX_QTY:g}, each a whole number of ticks "
               f"or lots (at most {MAX_UNITS:g})")


def utc_text(ns: float) -> str:
    """An instant as ``2024-08-09T00:00:00Z`` (any int64 nanoseconds since the epoch)."""
    return f"{MIN_UTC + timedelta(microseconds=int(ns) // 1000):%Y-%m-%dT%H:%M:%SZ}"
