"""What the bot carries from one stretch of market to the next: its position and resting orders.

:func:`~soakkit.sim.strategy.run_strategy` takes a :class:`BookState` to start from and
returns the one it ends with (``StrategyResult.start`` / ``.end``), so an iteration pays for
the position the previous one left and keeps the queue place of the orders it left resting.
A state is plain data (exact integer lots and ticks) and round-trips through JSON, which is
how a soak run keeps it across a restart. Every strategy carries it the same way
(:func:`soakkit.strategy.engine.simulate`): the legacy quoter's vectorised form keeps a
carried order's queue place; the event-driven engine re-places it at the opening, behind
the displayed depth.

At a boundary the bot is assumed to know its position (every fill report has arrived); an
unload or a requote still in flight when a stretch ends is dropped, and the next stretch
starts by quoting again (a carried order whose price the bot still wants keeps its place).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FLAT", "BookState", "RestingOrder"]


@dataclass(frozen=True)
class RestingOrder:
    """One order resting in the book at a boundary."""

    side: int  #: +1 bid, -1 ask
    price: int  #: ticks
    lots: int  #: quantity still open (> 0)
    #: lots ahead of it in its level's queue (+inf: unknown; it joins behind the displayed
    #: depth when the next stretch opens)
    front: float = math.inf
    age_ms: float = 0.0  #: how long it has rested
    filled: bool = False  #: whether it has had a fill

    def to_json(self) -> dict[str, Any]:
        return {"side": self.side, "price": self.price, "lots": self.lots,
                "front": None if math.isinf(self.front) else self.front,
                "age_ms": self.age_ms, "filled": self.filled}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RestingOrder:
        front = doc.get("front")
        return cls(int(doc["side"]), int(doc["price"]), int(doc["lots"]),
                   math.inf if front is None else float(front), float(doc["age_ms"]),
                   bool(doc["filled"]))


@dataclass(frozen=True)
class BookState:
    """The bot's position and resting orders at a boundary (at most one order per side)."""

    position_lots: int = 0
    orders: tuple[RestingOrder, ...] = ()
    mid: float | None = None  #: the mid at the boundary (where a synthetic market resumes)

    @property
    def flat(self) -> bool:
        """No position and no resting order."""
        return self.position_lots == 0 and not self.orders

    def order(self, side: int) -> RestingOrder | None:
        """The carried order on ``side``, if any."""
        return next((o for o in self.orders if o.side == side), None)

    def to_json(self) -> dict[str, Any]:
        return {"position_lots": self.position_lots,
                "orders": [o.to_json() for o in self.orders], "mid": self.mid}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BookState:
        mid = doc.get("mid")
        return cls(int(doc.get("position_lots", 0)),
                   tuple(RestingOrder.from_json(o) for o in doc.get("orders", ())),
                   None if mid is None else float(mid))


#: No position, no orders: how a run starts.
FLAT = BookState()
