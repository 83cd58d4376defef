"""Quote management the built-in strategies share: the requote budget, refreshes, unloads.

The legacy quoter's rules, written for one step at a time (its vectorised form in
:mod:`soakkit.sim.strategy` applies the same rules to a whole window at once):

* :class:`ReplaceBudget` – at most ``⌊R(s+1)/60⌋ − ⌊Rs/60⌋`` price-driven requotes in second
  ``s`` (``replace_rate_per_min`` = R); the excess is dropped and the stale quote stays;
* :func:`unload` – past ``position_limit_notional`` the bot sends a taker order back to
  ``unload_target_ratio`` × the limit, one at a time;
* :func:`known_position` – the position the bot acts on: the fills it has heard of plus the
  unload it has in flight;
* :class:`SideQuoter` – for the model strategies: keeps one quote per side, requotes a side
  when its wanted price moved by the requote threshold (within the budget), refreshes it
  after ``tail_age_ms``, and replaces a filled one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from soakkit.config.params import Value
from soakkit.sim.instrument import Instrument
from soakkit.sim.quotes import param
from soakkit.sim.regimes import STRATEGY
from soakkit.sim.tape import NS
from soakkit.strategy.api import Action, OrderView, Quote, Step, Take

__all__ = ["ReplaceBudget", "SideQuoter", "known_position", "lot_usd", "unload"]


class ReplaceBudget:
    """``replace_rate_per_min`` as a per-second budget of price-driven requotes."""

    def __init__(self, rate_per_min: float) -> None:
        self.rate = rate_per_min
        self.second = -1
        self.used = 0
        self.dropped = 0

    def allow(self, now_ns: int) -> bool:
        """Count one wanted requote at ``now_ns``; whether the budget keeps it."""
        second = now_ns // NS
        if second != self.second:
            self.second, self.used = second, 0
        self.used += 1
        cap = math.floor(self.rate * (second + 1) / 60.0) - math.floor(self.rate * second / 60.0)
        if self.used <= cap:
            return True
        self.dropped += 1
        return False


def known_position(step: Step) -> int:
    """Lots the bot acts on: fills it has heard of, plus its taker orders in flight."""
    return step.position_lots + sum(o.side * o.left for o in step.orders.values() if o.taker)


def lot_usd(step: Step, inst: Instrument) -> float:
    """USD value of one lot at the mid seen (an inverse contract's is fixed)."""
    return inst.lot_scale * (1.0 if inst.inverse else step.book.mid * inst.tick)


def unload(step: Step, params: Mapping[str, Value], inst: Instrument) -> Take | None:
    """A taker order back to ``unload_target_ratio`` × the limit when the known position
    (valued at the mid seen) is past ``position_limit_notional``; one at a time."""
    if any(o.taker for o in step.orders.values()):
        return None
    known = step.position_lots
    usd = lot_usd(step, inst)
    limit = param(params, "position_limit_notional")
    if abs(known) * usd <= limit:
        return None
    target = int(math.copysign(STRATEGY.unload_target_ratio * limit / usd, known))
    size = abs(known - target)
    return Take(-1 if known > 0 else 1, size) if size > 0 else None


class SideQuoter:
    """One quote per side for a strategy that prices continuously (AS, GLFT)."""

    def __init__(self, params: Mapping[str, Value], tick: float) -> None:
        self.budget = ReplaceBudget(param(params, "replace_rate_per_min"))
        self.tail_ns = round(param(params, "tail_age_ms") * 1_000_000)
        self.tick = tick
        self.placed_ns = {1: -1, -1: -1}
        self.counts = {"initial": 0, "move": 0, "refresh": 0}

    def _live(self, step: Step, side: int) -> OrderView | None:
        mine = [o for o in step.orders.values() if o.side == side and not o.taker
                and o.status != "cancelling"]
        return max(mine, key=lambda o: o.id) if mine else None

    def actions(self, step: Step, wanted: Mapping[int, tuple[int, int]]) -> list[Action]:
        """Quotes for the sides whose order should change: ``wanted[side] = (price, lots)``.

        A side requoted while the other keeps its resting order never crosses or locks
        that order: its price stops a tick short of it.
        """
        threshold = max(1.0, STRATEGY.requote_threshold_bps * 1e-4 * step.book.mid)
        live = {side: self._live(step, side) for side in (1, -1)}
        sent: dict[int, tuple[int, int]] = {}
        causes: set[str] = set()
        for side in (1, -1):
            price, lots = wanted[side]
            held = live[side]
            if self.placed_ns[side] < 0:
                cause = "initial"
            elif held is None:
                if lots <= 0:
                    continue
                cause = "move"  # filled, or gone: a new order
            elif abs(price - held.price) >= threshold or (lots == 0) != (held.left == 0):
                cause = "move"
            elif step.now_ns - self.placed_ns[side] >= self.tail_ns:
                cause = "refresh"
            else:
                continue
            if cause == "move" and not self.budget.allow(step.now_ns):
                continue
            causes.add(cause)
            self.placed_ns[side] = step.now_ns
            sent[side] = (int(price), max(int(lots), 0))
        for side, (price, lots) in list(sent.items()):
            other = live[-side]
            if -side not in sent and other is not None and other.left > 0:
                kept = min(price, other.price - 1) if side > 0 else max(price, other.price + 1)
                sent[side] = (kept, lots)
        if causes:  # one quote decision per step, counted by its first cause
            self.counts[next(c for c in ("initial", "move", "refresh") if c in causes)] += 1
        return [Quote(side, *sent[side]) for side in (1, -1) if side in sent]
