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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.keyed import keyed_normal, keyed_uniform, purpose
from soakkit.sim.regimes import LATENCY, LatencyConstants

__all__ = ["COMPONENTS", "ConstantLatency", "EventKeys", "LatencyModel", "VenueLatency",
           "gateway_wait_ns"]

#: What identifies each draw's event: the run's stream key and int64 arrays (time in ns,
#: then whatever tells events of one time apart), one element per draw.
EventKeys = tuple[int, tuple[np.ndarray, ...]]

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

    def draw(self, component: str, activity: np.ndarray, rng: np.random.Generator,
             keys: EventKeys | None = None) -> np.ndarray:
        c = self.constants
        a = np.asarray(activity, dtype=np.float64)
        median = self._median_ms(component) * (1.0 + c.activity_gain * np.maximum(a - 1.0, 0.0))
        if c.keyed and keys is not None:
            stream, parts = keys
            tag = purpose(component)
            z = keyed_normal(stream, tag, *parts)
            u_heavy, u_size = (keyed_uniform(stream, tag, *parts, k) for k in (3, 4))
        else:
            z = rng.standard_normal(a.size)
            u_heavy, u_size = rng.random(a.size), rng.random(a.size)
        ms = median * np.exp(c.sigma * z)
        heavy = u_heavy < np.minimum(0.2, c.tail_prob * a)
        factor = np.minimum(u_size ** (-1.0 / c.tail_alpha), c.tail_cap)
        ms = np.where(heavy, ms * factor, ms)
        return np.asarray(np.round(ms * _MS), dtype=np.int64)

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
    with np.errstate(divide="ignore"):
        factor = np.where(rho < 1.0, rho / np.maximum(1.0 - rho, 1e-12), np.inf)
    wait_ms = round_trip_ms * np.minimum(factor, queue_cap)
    return np.asarray(np.round(wait_ms * _MS), dtype=np.int64)
