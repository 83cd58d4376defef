"""``legacy``: the legacy bot's quoter, the first implementation of the strategy interface.

Its prices follow from the market it saw alone (a 1-bp grid of the mid, the replace
budget, the tail age, or the touch), so it has two forms of the same decisions:

* :meth:`LegacyQuoter.vectorised` – every decision of a window at once, the engine of
  :mod:`soakkit.sim.strategy` (≥ 1 M market events/s); soak, sweep and replay use it, from
  a flat start or a carried :class:`~soakkit.sim.carry.BookState` (a carried order keeps
  its queue place);
* :meth:`LegacyQuoter.on_step` – the same rules one loop tick at a time on the
  event-driven engine (a subclass that changes a rule). ``tests/test_legacy_equivalence.py``
  runs both on the same markets with fixed latencies and checks that they send the same
  orders and get the same fills.

Two places where the forms differ by construction: the vectorised walk sizes a taker
unload from the fill that crossed the limit, valued at the mid the *next* sized order saw
(which can be up to a second later, and the window's last mid at its end), and retries a
rejected unload at the next rate-limit window; the event-driven form sizes it from every
fill heard by the tick, at the mid seen then, and sends it through the gateway like any
request. Keeping the first keeps every recorded result; the second has no look-ahead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from soakkit.config.params import Value
from soakkit.sim.carry import FLAT, BookState
from soakkit.sim.quotes import base_lots, legacy_prices, param
from soakkit.sim.regimes import STRATEGY
from soakkit.sim.strategy import StrategyResult, run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.venue import Venue
from soakkit.strategy.api import Action, Book, Quote, Step, Strategy, StrategyContext
from soakkit.strategy.quoting import ReplaceBudget, known_position, unload

__all__ = ["LegacyQuoter"]


class LegacyQuoter(Strategy):
    """The legacy quoter (see the module doc and ``docs/SIMULATOR.md``, "Strategy")."""

    name = "legacy"

    def vectorised(self, market: MarketTape, params: Mapping[str, Value],
                   rng: np.random.Generator, venue: Venue, start: BookState = FLAT
                   ) -> StrategyResult | None:
        if type(self).on_step is not LegacyQuoter.on_step:
            return None  # a subclass changed the rules: run them on the event loop
        return run_strategy(market, params, rng, venue, start=start)

    def start(self, ctx: StrategyContext) -> None:
        super().start(ctx)
        p = ctx.params
        self.tick = ctx.instrument.tick
        self.touch = param(p, "quote_from_touch") >= 1
        self.budget = ReplaceBudget(param(p, "replace_rate_per_min"))
        self.age_ticks = max(1, int(np.ceil(param(p, "tail_age_ms") * 1_000_000 / ctx.loop_ns)))
        self.limit = param(p, "position_limit_notional")
        self.k = -1
        self.last_slot = 0
        self.grid: float | None = None
        self.wanted: tuple[int, int] | None = None  #: prices wanted at the previous tick
        self.sent: dict[int, int] = {}  #: price of each side's last decision
        self.mid_start = 0.0
        self.counts = {"initial": 0, "move": 0, "refresh": 0, "dropped": 0}

    def _prices(self, book: Book) -> tuple[int, int]:
        bid, ask = legacy_prices(book.mid * self.tick, book.bid_px, book.ask_px,
                                 self.ctx.params, self.tick)
        return int(bid), int(ask)

    def _cause(self, step: Step, prices: tuple[int, int]) -> str | None:
        """Why this tick is a decision: initial, move, refresh, or none."""
        self.k += 1
        mid = step.book.mid * self.tick
        if self.k == 0:
            self.mid_start = mid
        if self.touch:
            moved = self.wanted is not None and prices != self.wanted
        else:
            grid = math.floor(math.log(mid / self.mid_start) * 1e4
                              / STRATEGY.requote_threshold_bps)
            moved = self.grid is not None and grid != self.grid
            self.grid = grid
        self.wanted = prices
        if self.k == 0:
            return "initial"
        if moved:
            if self.budget.allow(step.now_ns):
                return "move"
            self.counts["dropped"] += 1
        if self.k - self.last_slot == self.age_ticks:
            return "refresh"
        return None

    def on_step(self, step: Step) -> Sequence[Action]:
        prices = self._prices(step.book)
        cause = self._cause(step, prices)
        actions: list[Action] = []
        inst = self.ctx.instrument
        take = unload(step, self.ctx.params, inst)
        if cause is not None:
            self.counts[cause] += 1
            self.last_slot = self.k
            book = step.book
            mid = book.mid * self.tick
            base = float(base_lots(mid, book.bid_qty, book.ask_qty, self.ctx.params, inst))
            known = known_position(step) + (take.side * take.lots if take else 0)
            term = 1.0 if inst.inverse else mid  # as the inventory walk values a position
            for side, price in ((1, prices[0]), (-1, prices[1])):
                if cause == "move" and self.sent.get(side) == price:
                    continue  # the same price keeps its order and queue place
                carried = self.ctx.start.order(side) if cause == "initial" else None
                if carried is not None and carried.price == price:
                    self.sent[side] = price  # a carried order at the price: it stays
                    continue
                self.sent[side] = price
                factor = (1.0 - side * STRATEGY.skew_strength * known * inst.lot_scale * term
                          / self.limit)
                lots = math.floor(base * (2.0 if factor > 2.0 else max(factor, 0.0)) + 1e-9)
                actions.append(Quote(side, price, lots))
        if take is not None:
            actions.append(take)
        return actions

    def counters(self) -> Mapping[str, int]:
        return dict(self.counts)

    def fair_price(self, side: int, book: Book) -> float | None:
        if self.touch:
            bid, ask = self._prices(book)
            return float(bid if side > 0 else ask)
        p = self.ctx.params
        half = (param(p, "base_spread_bps") + param(p, "base_spread_bps_delta")) / 1e4
        return book.mid * (1.0 - side * half)
