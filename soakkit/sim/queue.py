"""Queue-position models: how much of a price level is ahead of our resting order.

Our order joins its price level behind the displayed depth (``front`` = the quantity
ahead of it, in lots). Every model treats trades alike: a trade at our price takes
``front`` down by its full quantity, and what goes beyond ``front`` fills us. They differ
in what a *decrease* of the displayed depth at our level (a cancellation, since trades
are accounted for separately) does to ``front``. The formulas are hftbacktest's
(``models/queue.rs``), re-implemented for arrays of orders at once:

* :class:`RiskAverseQueue` – cancellations happen behind us; ``front`` only shrinks when
  the level shrinks below it: ``front = min(front, depth)``.
* :class:`ProbQueue` – a cancellation of ``chg`` lots was behind us with probability
  ``p = prob(front, back)`` (``back`` = depth − front), so ``front`` shrinks by the part
  ahead: ``front = min(front − (1 − p)·chg + min(back − p·chg, 0), depth)``, where
  ``chg`` is the depth decrease not explained by trades since the previous update.
  Unlike hftbacktest, ``front`` stops at 0: cancellations can bring us to the front of
  the queue, never fill us (hftbacktest lets it go negative, and the next trade at our
  price then fills us by that much more).

Each model has two forms of one rule: :meth:`QueueModel.on_depth` for arrays of orders
(the vectorised engine, :mod:`soakkit.sim.matching`) and :meth:`QueueModel.front_after`
for one order at a time (the event-driven engine, :mod:`soakkit.sim.live`), which calls
numpy on one number a few thousand times a second less than it would cost;
``tests/test_live_matching.py`` checks that both give the same fronts.

``prob`` (with ``f(x) = x**n``, or ``ln(1 + x)`` for the ``log`` kinds):
``power`` f(back) / (f(back) + f(front)); ``power2`` f(back) / f(back + front);
``power3`` 1 − f(front / (front + back)); ``log`` and ``log2`` like ``power`` and
``power2`` with the logarithm. The log kinds are evaluated in lots (hftbacktest uses
the venue's quantity unit), so they depend on the lot size; the power kinds do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["QUEUE_KINDS", "ProbQueue", "QueueModel", "RiskAverseQueue", "queue_model"]

QUEUE_KINDS = ("power", "power2", "power3", "log", "log2")


class QueueModel:
    """Base class: how a depth change at our level moves the quantity ahead of us."""

    name = "queue"

    def on_depth(self, front: np.ndarray, prev: np.ndarray, new: np.ndarray,
                 traded: np.ndarray) -> np.ndarray:
        """``front`` after the level went from ``prev`` to ``new`` lots, ``traded`` lots of
        which were trades at our price since the previous depth update (``prev`` is NaN
        when the level was not visible before; ``front`` may be +inf: unknown)."""
        raise NotImplementedError

    def front_after(self, front: float, prev: float, new: float, traded: float) -> float:
        """:meth:`on_depth` for one order (floats); a subclass may give a faster form."""
        return float(self.on_depth(np.array([front]), np.array([prev]), np.array([new]),
                                   np.array([traded]))[0])


@dataclass(frozen=True)
class RiskAverseQueue(QueueModel):
    """Only trades advance us; the level shrinking below ``front`` caps it."""

    name = "risk_averse"

    def on_depth(self, front: np.ndarray, prev: np.ndarray, new: np.ndarray,
                 traded: np.ndarray) -> np.ndarray:
        return np.asarray(np.minimum(front, new))

    def front_after(self, front: float, prev: float, new: float, traded: float) -> float:
        if type(self).on_depth is not RiskAverseQueue.on_depth:  # a subclass's own rule
            return super().front_after(front, prev, new, traded)
        return min(front, new)


@dataclass(frozen=True)
class ProbQueue(QueueModel):
    """Cancellations advance us with the probability that they were ahead of us."""

    kind: str = "power"
    n: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in QUEUE_KINDS:
            raise ValueError(f"unknown queue model kind {self.kind!r}; expected one of "
                             f"{', '.join(QUEUE_KINDS)}")

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.kind if self.kind.startswith("log") else f"{self.kind}:{self.n:g}"

    def _f(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.log1p(x) if self.kind.startswith("log") else x ** self.n)

    def prob(self, front: np.ndarray, back: np.ndarray) -> np.ndarray:
        """Probability that a cancellation at our level was behind us."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind in ("power", "log"):
                fb = self._f(back)
                p = fb / (fb + self._f(front))
            elif self.kind in ("power2", "log2"):
                p = self._f(back) / self._f(back + front)
            else:
                p = 1.0 - self._f(front / (front + back))
        return np.asarray(np.where(np.isfinite(p), p, 1.0))

    def prob_one(self, front: float, back: float) -> float:
        """:meth:`prob` of one order (floats): the same formulas, NaN and inf giving 1."""
        f = math.log1p if self.kind.startswith("log") else (lambda x: x ** self.n)
        try:
            if self.kind in ("power", "log"):
                fb = f(back)
                p = fb / (fb + f(front))
            elif self.kind in ("power2", "log2"):
                p = f(back) / f(back + front)
            else:
                p = 1.0 - f(front / (front + back))
        except (ZeroDivisionError, OverflowError, ValueError):
            return 1.0
        return p if math.isfinite(p) else 1.0

    def front_after(self, front: float, prev: float, new: float, traded: float) -> float:
        if type(self).on_depth is not ProbQueue.on_depth:  # a subclass's own rule
            return super().front_after(front, prev, new, traded)
        if front <= 0:
            return front
        chg = prev - new - traded
        if chg > 0 and math.isfinite(front) and math.isfinite(prev):
            back = max(prev - front, 0.0)
            p = self.prob_one(front, back)
            moved = min(front - (1.0 - p) * chg + min(back - p * chg, 0.0), new)
            return max(moved, 0.0)
        return min(front, new)

    def on_depth(self, front: np.ndarray, prev: np.ndarray, new: np.ndarray,
                 traded: np.ndarray) -> np.ndarray:
        chg = prev - new - traded
        ahead = (chg > 0) & (front > 0) & np.isfinite(front) & np.isfinite(prev)
        out = np.minimum(front, new)
        if ahead.any():
            f, c = front[ahead], chg[ahead]
            back = np.maximum(prev[ahead] - f, 0.0)
            p = self.prob(f, back)
            moved = np.minimum(f - (1.0 - p) * c + np.minimum(back - p * c, 0.0), new[ahead])
            out[ahead] = np.maximum(moved, 0.0)  # to the front at most, never past it
        return np.asarray(np.where(front <= 0, front, out))


def queue_model(name: str) -> QueueModel:
    """A queue model by name: ``risk_averse``, ``power:<n>``, ``power2:<n>``,
    ``power3:<n>``, ``log`` or ``log2``."""
    if name == "risk_averse":
        return RiskAverseQueue()
    if name in ("log", "log2"):
        return ProbQueue(name)
    kind, _, n = name.partition(":")
    try:
        if kind not in ("power", "power2", "power3"):
            raise ValueError(kind)
        return ProbQueue(kind, float(n))
    except ValueError:
        raise ValueError(f"unknown queue model {name!r}; expected risk_averse, power:<n>, "
                         "power2:<n>, power3:<n>, log or log2") from None
