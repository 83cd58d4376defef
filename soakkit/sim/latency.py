"""Latency models: market-data feed, order entry, cancel and response (ack) delays.

A latency model draws each component for arrays of requests at once, given the market's
*activity* at each request (messages per second over ``activity_ref_per_s``, measured on
the tape itself, so bursts and jumps in a synthetic market and busy stretches of a
recorded one both slow the venue down). Two models:

* :class:`VenueLatency` (the default, constants in :data:`soakkit.sim.regimes.LATENCY`):
  lognormal around each component's median, the median scaled by
  ``1 + activity_gain × max(0, activity − 1)``, and with probability
  ``min(0.2, tail_prob × activity)`` a heavy delay: the draw is multiplied by a Pareto
  factor ``U ** (−1 / tail_alpha)`` capped at ``tail_cap``;
* :class:`ConstantLatency` – fixed delays (what hftbacktest's ``constant_order_latency``
  and a constant feed offset model; used to compare the two simulators).

Draws come from the run's generator in array order, or, when the latency constants say
``keyed`` (order-book markets), from the event each is for (:mod:`soakkit.sim.keyed`: a
loop tick's time; a request's decision time and side; a fill's time and its order), so
adding events after a time changes no draw before it and paired runs share draws.

:func:`gateway_wait_ns` adds the bot's own gateway: at most ``concurrency_limit``
requests in flight, waits growing with the request load and bounded.

The vectorised engine draws every delay of an iteration at once (:meth:`LatencyModel.draw`);
the event-driven engine (:mod:`soakkit.strategy.engine`) needs them one at a time, as
requests and fills happen: :meth:`LatencyModel.sampler` and :class:`Gateway` are the same
rules in that form (one formula each, :meth:`VenueLatency.delay_ms` and
:func:`gateway_factor`, serves both).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from soakkit.sim.keyed import keyed_normal, keyed_uniform, purpose
from soakkit.sim.regimes import LATENCY, LatencyConstants

__all__ = ["COMPONENTS", "ConstantLatency", "EventKeys", "Gateway", "LatencyModel", "Sampler",
           "VenueLatency", "gateway_factor", "gateway_wait_ns"]

#: What identifies each draw's event: the run's stream key and int64 arrays (time in ns,
#: then whatever tells events of one time apart), one element per draw.
EventKeys = tuple[int, tuple[np.ndarray, ...]]


class _Scalar:
    """numpy's element-wise functions for plain floats (what the one-at-a-time paths pass
    as ``xp``: the same formula, without numpy's per-call cost)."""

    exp = staticmethod(math.exp)
    maximum = staticmethod(max)
    minimum = staticmethod(min)

    @staticmethod
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b

#: One delay (ns) of a component at a market activity: ``sampler(component, activity)``.
Sampler = Callable[[str, float], int]

COMPONENTS = ("feed", "entry", "cancel", "ack")
_MS = 1_000_000  # ns per ms


class LatencyModel:
    """Base class: draws ``feed``, ``entry``, ``cancel`` and ``ack`` delays in ns."""

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        """One delay (int64 ns) per element of ``activity`` for ``component``; with ``keys``
        (and a model that keys its draws) each draw is a function of its event only."""
        raise NotImplementedError

    @property
    def keyed(self) -> bool:
        """Whether :meth:`draw` uses ``keys`` (else it draws from ``rng`` in order)."""
        return False

    def round_trip_ms(self) -> float:
        """Median entry + ack delay at normal activity (the gateway's service time)."""
        raise NotImplementedError

    def sampler(self, rng: np.random.Generator) -> Sampler:
        """Delays one at a time from ``rng`` (default: :meth:`draw` of one element)."""
        def one(component: str, activity: float) -> int:
            return int(self.draw(component, np.array([activity]), rng)[0])
        return one


@dataclass(frozen=True)
class VenueLatency(LatencyModel):
    """Lognormal delays whose median and tail grow with market activity."""

    constants: LatencyConstants = LATENCY

    def _median_ms(self, component: str) -> float:
        if component not in COMPONENTS:
            raise ValueError(f"unknown latency component {component!r}")
        return float(getattr(self.constants, f"{component}_ms"))

    @property
    def keyed(self) -> bool:
        return self.constants.keyed

    def delay_ms(self, component: str, a: Any, z: Any, u_heavy: Any, u_size: Any,
                 xp: Any = np) -> Any:
        """The delay (ms) at activity ``a`` from a standard normal ``z`` and two uniforms
        (arrays with ``xp`` numpy, floats with its scalar stand-in): lognormal around the
        activity-scaled median, times a capped Pareto factor when ``u_heavy`` falls under
        the heavy-delay probability."""
        c = self.constants
        median = self._median_ms(component) * (1.0 + c.activity_gain * xp.maximum(a - 1.0, 0.0))
        ms = median * xp.exp(c.sigma * z)
        heavy = u_heavy < xp.minimum(0.2, c.tail_prob * a)
        factor = xp.minimum(u_size ** (-1.0 / c.tail_alpha), c.tail_cap)
        return xp.where(heavy, ms * factor, ms)

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        a = np.asarray(activity, dtype=np.float64)
        if self.constants.keyed and keys is not None:
            stream, parts = keys
            tag = purpose(component)
            z = keyed_normal(stream, tag, *parts)
            u_heavy, u_size = (keyed_uniform(stream, tag, *parts, k) for k in (3, 4))
        else:
            z = rng.standard_normal(a.size)
            u_heavy = rng.random(a.size)
            u_size = rng.random(a.size)
        ms = self.delay_ms(component, a, z, u_heavy, u_size)
        return np.asarray(np.round(ms * _MS), dtype=np.int64)

    def sampler(self, rng: np.random.Generator, block: int = 4096) -> Sampler:
        """Delays one at a time; the random variates are drawn ``block`` at a time."""
        buffers: dict[str, list[list[float]]] = {}

        def one(component: str, activity: float) -> int:
            left = buffers.get(component)
            if not left or not left[0]:
                left = [rng.standard_normal(block).tolist()[::-1],
                        rng.random(block).tolist()[::-1], rng.random(block).tolist()[::-1]]
                buffers[component] = left
            ms: float = self.delay_ms(component, activity, left[0].pop(), left[1].pop(),
                                      left[2].pop(), _Scalar)
            return round(ms * _MS)
        return one

    def round_trip_ms(self) -> float:
        return self._median_ms("entry") + self._median_ms("ack")


@dataclass(frozen=True)
class ConstantLatency(LatencyModel):
    """Fixed delays, in ns (no randomness is drawn)."""

    feed_ns: int = 0
    entry_ns: int = 0
    cancel_ns: int = 0
    ack_ns: int = 0

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        if component not in COMPONENTS:
            raise ValueError(f"unknown latency component {component!r}")
        return np.full(np.asarray(activity).size, getattr(self, f"{component}_ns"),
                       dtype=np.int64)

    def round_trip_ms(self) -> float:
        return (self.entry_ns + self.ack_ns) / _MS

    def sampler(self, rng: np.random.Generator) -> Sampler:
        fixed = {c: int(getattr(self, f"{c}_ns")) for c in COMPONENTS}
        return lambda component, activity: fixed[component]


def gateway_factor(rho: Any, queue_cap: float = LATENCY.queue_cap, xp: Any = np) -> Any:
    """The gateway's wait in round trips at utilisation ``rho`` (arrays with ``xp`` numpy,
    floats with its scalar stand-in): ``min(rho / (1 - rho), queue_cap)``, the cap from
    ``rho >= 1`` on."""
    factor = xp.where(rho < 1.0, rho / xp.maximum(1.0 - rho, 1e-12), math.inf)
    return xp.minimum(factor, queue_cap)


def gateway_wait_ns(send_ns: np.ndarray, weights: np.ndarray, concurrency: float,
                    round_trip_ms: float, queue_cap: float = LATENCY.queue_cap,
                    window_ns: int = 1_000_000_000) -> np.ndarray:
    """Wait of each request in the bot's gateway before it leaves (int64 ns).

    Utilisation ``rho`` = requests in the trailing second × round trip / concurrency;
    the wait is ``round_trip × min(rho / (1 − rho), queue_cap)``: an M/M/1-like queue
    that cannot grow without bound (the bot coalesces requests it cannot send).
    """
    if send_ns.size == 0 or round_trip_ms <= 0:
        return np.zeros(send_ns.size, dtype=np.int64)
    load = np.cumsum(weights)
    before = np.searchsorted(send_ns, send_ns - window_ns, side="right")
    in_window = load - np.concatenate(([0.0], load))[before]
    rho = in_window * (round_trip_ms / 1000.0) / (window_ns / 1e9) / max(concurrency, 1e-9)
    wait_ms = round_trip_ms * gateway_factor(rho, queue_cap)
    return np.asarray(np.round(wait_ms * _MS), dtype=np.int64)


class Gateway:
    """:func:`gateway_wait_ns` one request at a time, in decision order.

    Keeps the requests of the trailing window; each request's wait counts itself and the
    earlier requests decided in ``(t - window, t]``.
    """

    def __init__(self, concurrency: float, round_trip_ms: float,
                 queue_cap: float = LATENCY.queue_cap, window_ns: int = 1_000_000_000) -> None:
        self._concurrency = max(concurrency, 1e-9)
        self._rt = round_trip_ms
        self._cap = queue_cap
        self._window = window_ns
        self._recent: deque[tuple[int, float]] = deque()
        self._load = 0.0

    def wait_ns(self, decide_ns: int, weight: float) -> int:
        """The wait of a request of ``weight`` decided at ``decide_ns`` (not before the last)."""
        recent = self._recent
        while recent and recent[0][0] <= decide_ns - self._window:
            self._load -= recent.popleft()[1]
        recent.append((decide_ns, weight))
        self._load += weight
        if self._rt <= 0:
            return 0
        rho = (self._load * (self._rt / 1000.0) / (self._window / 1e9) / self._concurrency)
        factor: float = gateway_factor(rho, self._cap, _Scalar)
        return round(self._rt * factor * _MS)
