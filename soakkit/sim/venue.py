"""The simulated venue: queue model, latency model, rate limit and fill model together.

:func:`default_venue` builds it from the one regimes table; a test or the hftbacktest
comparison (``bench/bench_hftbacktest.py``) passes another :class:`Venue` to
:func:`soakkit.sim.strategy.run_strategy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.latency import LatencyModel, VenueLatency
from soakkit.sim.queue import QueueModel, queue_model
from soakkit.sim.regimes import LATENCY, RATE_LIMIT, STRATEGY, LatencyConstants

__all__ = ["FILL_MODELS", "RateLimit", "RateLimitCounter", "Venue", "default_venue"]

#: ``partial``: a fill takes what the market leaves beyond the queue ahead (any size), and a
#: trade through the order's price adds its quantity (we were ahead of all it took);
#: ``partial_through_all``: the same, but a trade through the price fills everything left
#: (hftbacktest's PartialFillExchange); ``whole``: once anything is left, the whole order
#: fills (hftbacktest's NoPartialFillExchange).
FILL_MODELS = ("partial", "partial_through_all", "whole")


@dataclass(frozen=True)
class RateLimit:
    """A fixed-window request limit that rejects what goes over it.

    Windows start at the iteration's start. Every request counts, rejected ones too; a
    request (or batch) is accepted when the window's running count including it is at
    most ``requests``.
    """

    requests: int = RATE_LIMIT.requests
    window_s: float = RATE_LIMIT.window_s

    def accept(self, send_ns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Which requests (sent at ``send_ns``, sorted; ``weights`` each) are accepted."""
        if send_ns.size == 0:
            return np.zeros(0, dtype=bool)
        window = (send_ns // round(self.window_s * 1e9)).astype(np.int64)
        total = np.cumsum(weights)
        first = np.searchsorted(window, window, side="left")
        running = total - np.concatenate(([0], total))[first]
        return np.asarray(running <= self.requests)

    def counter(self) -> RateLimitCounter:
        """The same rule one request at a time (the event-driven engine)."""
        return RateLimitCounter(self)


class RateLimitCounter:
    """:meth:`RateLimit.accept` one request at a time, in the order they are sent."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.window_ns = round(limit.window_s * 1e9)
        self._counts: dict[int, float] = {}

    def admit(self, send_ns: int, weight: float) -> bool:
        """Count the request in its window (rejected ones count too); whether it is accepted."""
        window = send_ns // self.window_ns
        count = self._counts.get(window, 0.0) + weight
        self._counts[window] = count
        return count <= self.limit.requests

    def free(self, send_ns: int) -> float:
        """Requests still allowed in the window of ``send_ns``."""
        return self.limit.requests - self._counts.get(send_ns // self.window_ns, 0.0)


@dataclass(frozen=True)
class Venue:
    """Everything about the venue the strategy runs against."""

    queue: QueueModel
    latency: LatencyModel
    rate_limit: RateLimit | None
    fill_model: str = STRATEGY.fill_model

    def __post_init__(self) -> None:
        if self.fill_model not in FILL_MODELS:
            raise ValueError(f"unknown fill model {self.fill_model!r}; expected one of "
                             f"{', '.join(FILL_MODELS)}")

    @property
    def fills_whole(self) -> bool:
        """The first chance to fill fills the whole order."""
        return self.fill_model == "whole"

    @property
    def through_fills_all(self) -> bool:
        """A trade through the order's price fills everything left."""
        return self.fill_model != "partial"


def default_venue(latency: LatencyConstants = LATENCY) -> Venue:
    """The venue of the regimes table: its queue model, rate limit and fill model, with
    ``latency``'s constants (a market's own: :attr:`soakkit.sim.tape.MarketTape.latency`)."""
    return Venue(queue_model(STRATEGY.queue_model), VenueLatency(latency), RateLimit(),
                 STRATEGY.fill_model)
