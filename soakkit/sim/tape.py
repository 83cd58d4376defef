"""A market tape: trades and top-of-book quotes (L1), with L2 depth when recorded with it.

The strategy, the queue and the latency models see only this: the same code runs on the
synthetic market (:func:`soakkit.sim.market.simulate_market`) and on a recorded tape
(:mod:`soakkit.sim.replay`). Prices are integer ticks and quantities float lots of the
tape's grid (``tick``, ``lot``); times are integer nanoseconds since the window's start.
The first quote row is at time 0: the book as the window opens. A recorded tape may add
the top ``N`` levels of the book (:class:`~soakkit.sim.depth.DepthBook`) and the time each
quote row reached the recording machine (``quote_local_ns``: the bot then sees the book
with the feed latency the venue really had).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from soakkit.sim.depth import DepthBook
from soakkit.sim.instrument import Instrument
from soakkit.sim.regimes import LATENCY, REGIME_NAMES, LatencyConstants
from soakkit.sim.stats import merge_sorted

__all__ = ["NS", "MarketTape"]

NS = 1_000_000_000  #: nanoseconds per second


@dataclass(frozen=True)
class MarketTape:
    """The market of one iteration (arrays aligned per trade and per quote row)."""

    duration_s: float
    tick: float  #: price of one tick
    lot: float  #: quantity of one lot, base units
    regime_by_minute: np.ndarray  #: regime index of each minute (generated, or labelled)
    trade_ns: np.ndarray  #: int64, sorted
    trade_side: np.ndarray  #: int8, +1 buyer was the aggressor (lifts asks), -1 seller
    trade_px: np.ndarray  #: int64 ticks
    trade_qty: np.ndarray  #: float64 lots (> 0)
    quote_ns: np.ndarray  #: int64, sorted, quote_ns[0] == 0
    bid_px: np.ndarray  #: int64 ticks
    bid_qty: np.ndarray  #: float64 lots
    ask_px: np.ndarray  #: int64 ticks (> bid_px)
    ask_qty: np.ndarray  #: float64 lots
    bursts: int  #: informed bursts (synthetic; 0 for a recorded tape)
    jumps: int  #: price jumps (generated, or detected in a recorded tape)
    source: str = "synthetic"  #: "synthetic" or the recorded tape's path
    origin_ns: int = 0  #: absolute time of the window's start (recorded tapes)
    gaps: tuple[tuple[float, float], ...] = field(default=())  #: (start_s, length_s)
    kind: str = "linear"  #: spot, linear or inverse (:mod:`soakkit.sim.instrument`)
    contract_size: float = 1.0  #: base units (linear) or USD (inverse) per contract
    #: the venue's latency constants; ``activity_ref_per_s`` is this market's own usual
    #: message rate (a recorded tape's median, or a calibrated profile's)
    latency: LatencyConstants = LATENCY
    quote_local_ns: np.ndarray | None = None  #: when each quote row was received (recorded)
    depth: DepthBook | None = None  #: the top N levels after every depth update (L2 tapes)

    @property
    def instrument(self) -> Instrument:
        return Instrument(self.tick, self.lot, self.kind, self.contract_size)

    @property
    def messages(self) -> int:
        """Trades and quote updates (the opening book row excluded): what message rates count."""
        return int(self.trade_ns.size + self.quote_ns.size - 1)

    @property
    def events(self) -> int:
        """Market events: trades, quote updates and depth updates (opening rows excluded)."""
        depth = max(self.depth.rows - 1, 0) if self.depth is not None else 0
        return self.messages + depth

    @property
    def t(self) -> np.ndarray:
        """Trade times in seconds since the window's start."""
        return np.asarray(self.trade_ns / NS)

    @cached_property
    def mid_px(self) -> np.ndarray:
        """Mid price of every quote row."""
        return np.asarray((self.bid_px + self.ask_px) * (0.5 * self.tick))

    def quote_index(self, ns: np.ndarray) -> np.ndarray:
        """Index of the quote row in force at each time (the last one at or before it)."""
        return np.asarray(np.searchsorted(self.quote_ns, ns, side="right") - 1)

    @cached_property
    def _received(self) -> tuple[np.ndarray, np.ndarray]:
        """Quote rows by receive time, and the newest row received by each of them."""
        assert self.quote_local_ns is not None
        local = np.asarray(self.quote_local_ns, dtype=np.int64).copy()
        local[0] = 0  # the opening book is known as the window opens
        order = np.argsort(local, kind="stable")
        return local[order], np.maximum.accumulate(order)

    def seen_index(self, ns: np.ndarray, feed_ns: np.ndarray) -> np.ndarray:
        """The quote row a bot looking at time ``ns`` has: the newest one it received.

        A recorded tape with receive times says when each row arrived (its own feed
        latency); otherwise each look is ``feed_ns`` late (a drawn feed latency).
        """
        if self.quote_local_ns is None:
            return np.asarray(np.maximum(self.quote_index(np.maximum(ns - feed_ns, 0)), 0))
        local, newest = self._received
        at = np.searchsorted(local, ns, side="right") - 1
        return np.asarray(newest[np.maximum(at, 0)])

    def mid_at(self, times: np.ndarray) -> np.ndarray:
        """Mid price at arbitrary times (seconds): the book's mid at or before each time."""
        ns = np.asarray(np.round(np.asarray(times, dtype=np.float64) * NS), dtype=np.int64)
        return np.asarray(self.mid_px[np.maximum(self.quote_index(ns), 0)])

    @property
    def mid_end(self) -> float:
        """The mid at the end of the window."""
        return float(self.mid_px[-1])

    @property
    def mid_start(self) -> float:
        """The mid as the window opens."""
        return float(self.mid_px[0])

    def window(self, start_ns: int, end_ns: int) -> MarketTape:
        """The stretch ``[start_ns, end_ns)`` as a tape of its own (times from its start).

        Its first quote row is the book in force at ``start_ns``; it keeps the regimes of
        the minutes it touches, and no burst or jump count (those belong to the whole tape).
        """
        q0 = int(np.searchsorted(self.quote_ns, start_ns, side="right")) - 1
        q1 = int(np.searchsorted(self.quote_ns, end_ns, side="left"))
        t0, t1 = np.searchsorted(self.trade_ns, [start_ns, end_ns], side="left")
        quote_ns = self.quote_ns[max(q0, 0):q1] - start_ns
        quote_ns[0] = 0
        rows = slice(max(q0, 0), q1)
        first, last = start_ns // (60 * NS), -(-end_ns // (60 * NS))
        return MarketTape(
            duration_s=(end_ns - start_ns) / NS, tick=self.tick, lot=self.lot,
            regime_by_minute=self.regime_by_minute[first:last],
            trade_ns=self.trade_ns[t0:t1] - start_ns, trade_side=self.trade_side[t0:t1],
            trade_px=self.trade_px[t0:t1], trade_qty=self.trade_qty[t0:t1],
            quote_ns=quote_ns, bid_px=self.bid_px[rows], bid_qty=self.bid_qty[rows],
            ask_px=self.ask_px[rows], ask_qty=self.ask_qty[rows], bursts=0, jumps=0,
            source=self.source, origin_ns=self.origin_ns + start_ns,
            gaps=tuple((at - start_ns / NS, length) for at, length in self.gaps
                       if start_ns / NS <= at < end_ns / NS),
            kind=self.kind, contract_size=self.contract_size, latency=self.latency,
            quote_local_ns=None if self.quote_local_ns is None else np.maximum(
                self.quote_local_ns[rows] - start_ns, quote_ns),
            depth=None if self.depth is None else self.depth.window(start_ns, end_ns))

    def regime_mix(self) -> dict[str, float]:
        """Share of minutes spent in each regime."""
        counts = np.bincount(self.regime_by_minute, minlength=len(REGIME_NAMES))
        total = max(1, int(counts.sum()))
        return {name: round(float(c) / total, 6) for name, c in zip(REGIME_NAMES, counts,
                                                                      strict=True)}

    @cached_property
    def _message_ns(self) -> np.ndarray:
        """Times of every market message (trades and quote updates), sorted."""
        return merge_sorted(self.trade_ns, self.quote_ns[1:])[0]

    @cached_property
    def message_times(self) -> list[int]:
        """:attr:`_message_ns` as a list (the event-driven engine looks times up one by one)."""
        return list(self._message_ns.tolist())

    def message_rate_at(self, ns: int, window_ns: int = NS) -> float:
        """:meth:`message_rate` at one time."""
        times = self.message_times
        count = bisect_right(times, ns) - bisect_right(times, ns - window_ns)
        return float(count * (NS / window_ns))

    def message_rate(self, ns: np.ndarray, window_ns: int = NS) -> np.ndarray:
        """Market messages (trades + quote updates) per second in the window before each time."""
        both = self._message_ns
        count = np.searchsorted(both, ns, side="right") - np.searchsorted(both, ns - window_ns,
                                                                          side="right")
        return np.asarray(count * (NS / window_ns), dtype=np.float64)

    def activity(self, ns: np.ndarray) -> np.ndarray:
        """The message rate before each time over this market's usual rate (the latency
        models' load: 1 = an ordinary second for this instrument)."""
        return np.asarray(self.message_rate(ns) / self.latency.activity_ref_per_s)

    def activity_at(self, ns: int) -> float:
        """:meth:`activity` at one time."""
        return self.message_rate_at(ns) / self.latency.activity_ref_per_s
