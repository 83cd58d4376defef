#!/usr/bin/env python3
"""An example market-making bot for ``soakkit soak --strategy exec:...``: plain Python, no soakkit.

It speaks soakkit's JSON-lines protocol (docs/STRATEGIES.md) on stdin/stdout, one answer
per message, and quotes both sides of the book ``bot_offset_ticks`` from the best prices
(0 joins them), sized from the displayed depth and skewed against its position. It moves
a quote when the touch moved, within a budget of ``replace_rate_per_min`` requotes (the
venue rejects what goes over its rate limit), and past the position limit it unloads with
a taker order. It reads only the best bid and ask, its venue reports and its position, so
its ``ready`` subscribes to no row stream (``"feed": []``): its step messages carry no
trades or book updates to decode. Between decisions it sleeps: its answers carry a
``wake`` (the touch it priced from, or the next second when its budget is spent, and the
orders and position whose answers matter), and soakkit calls it again when the touch
moves, the second turns or a venue answer could change what it does. ``--protocol-1``
runs it as first written (every row, woken by every answer: the same orders and fills,
about twice the messages). Run it under soakkit:

    soakkit soak --strategy 'exec:python3 examples/exec_bot.py' --iterations 2 --mode volatile
    soakkit soak --strategy 'exec:python3 examples/exec_bot.py' --set bot_offset_ticks=1

Anything it prints to stderr is kept aside; soakkit quotes the last line if the bot fails.
"""

from __future__ import annotations

import json
import math
import sys

#: The bot's own parameters, with bounds: soakkit layers, records and sweeps them like its own.
PARAMS = [
    {"name": "bot_offset_ticks", "kind": "int", "unit": "ticks", "default": 0, "lo": -2,
     "hi": 20, "max_step": 1, "tunable": True,
     "description": "Distance from the best price on each side: 0 joins it, -1 improves by a "
                    "tick, 1 stands a tick back."},
    {"name": "bot_skew", "kind": "float", "unit": "ratio", "default": 0.5, "lo": 0.0,
     "hi": 2.0, "max_step": 0.1, "tunable": True,
     "description": "Quote sizes tilt by this x position / limit against the position."},
]


class Bot:
    """What the bot knows: its parameters, instrument, orders and position."""

    def __init__(self, start: dict, protocol_1: bool = False) -> None:
        self.protocol_1 = protocol_1  # every row, woken by every answer (see main)
        self.params = start["params"]
        self.tick = start["instrument"]["tick"]
        self.lot = start["instrument"]["lot"]
        self.next_id = 1  # soakkit numbers orders 1, 2, 3... in the order they are sent
        self.sides: dict[int, int] = {}  # side of every order sent
        self.side_order = {1: None, -1: None}  # id and price of the order on each side
        self.taking = None  # id of a taker order in flight
        self.position = start["start"]["position_lots"]
        self.second = -1
        self.until = None  # the next second, while the budget is spent
        self.budget = 0
        self.started = {1: False, -1: False}

    def _sent(self, side: int) -> int:
        order_id = self.next_id
        self.next_id += 1
        self.sides[order_id] = side
        return order_id

    def hear(self, reports: list) -> None:
        for kind, order_id, _ns, lots, _price, left in reports:
            if kind == "fill":
                self.position += self.sides[order_id] * lots
                if left == 0:
                    self._forget(order_id)
            elif kind in ("expired", "rejected", "cancelled"):
                self._forget(order_id)

    def _forget(self, order_id: int) -> None:
        for side, held in self.side_order.items():
            if held and held[0] == order_id:
                self.side_order[side] = None
        if order_id == self.taking:
            self.taking = None

    def wake(self, msg: dict) -> dict:
        """When to be called next. With the budget spent, only an unload can happen
        before the next second: then, a fill that takes the position past the limit at
        any mid the best prices' band allows, its taker order ending, or the next second.
        Else when the touch it priced from moves, one of its quotes or its taker order
        ends, or a fill takes its position past the limit at this mid. The answers it
        sleeps through (an old quote's cancel, an acceptance, a partial fill) come with
        the next message: they would not have changed what it does. A side without a
        quote (one of 0 lots) is requoted at any answer, so then every answer wakes it."""
        bid_px, _, ask_px, _ = msg["book"]
        if self.budget <= 0:
            self.until = (msg["now"] // 1_000_000_000 + 1) * 1_000_000_000
            if self.protocol_1:
                return {"at": self.until}
            band = self.same_limit(bid_px, ask_px)
            most = self.most_held((bid_px + ask_px) / 2 * self.tick)
            return {"at": self.until, "bid": [bid_px - band, bid_px + band],
                    "ask": [ask_px - band, ask_px + band],
                    "orders": [] if self.taking is None else [self.taking],
                    "position": [-most, most]}
        self.until = None
        touch = {"bid": [bid_px, bid_px], "ask": [ask_px, ask_px]}
        if self.protocol_1 or None in self.side_order.values():
            return touch  # (a side without a quote is requoted at any answer)
        watched = [held[0] for held in self.side_order.values()]
        if self.taking is not None:
            watched.append(self.taking)
        most = self.most_held((bid_px + ask_px) / 2 * self.tick)
        return {**touch, "orders": watched, "position": [-most, most]}

    def same_limit(self, bid_px: int, ask_px: int) -> int:
        """How far (ticks) both best prices may move with :meth:`most_held` unchanged."""
        for spread in (16, 8, 4, 2, 1):
            low = (bid_px - spread + ask_px - spread) / 2 * self.tick
            high = (bid_px + spread + ask_px + spread) / 2 * self.tick
            if self.most_held(low) == self.most_held(high):
                return spread
        return 0

    def most_held(self, mid: float) -> int:
        """The largest position (lots) that does not make :meth:`step` unload at ``mid``."""
        limit = self.params["position_limit_notional"]
        most = int(limit / (self.lot * mid))
        while (most + 1) * self.lot * mid <= limit:
            most += 1
        while most > 0 and most * self.lot * mid > limit:
            most -= 1
        return most

    def step(self, msg: dict) -> list:
        reports = msg["reports"]
        if self.until is not None and msg["now"] < self.until \
                and len(reports) == msg.get("held", 0):
            # woken because the touch left its band, and every answer here came at an
            # earlier step ("held"): a bot woken by every answer would not be called now
            self.hear(reports)
            return []
        self.hear(reports)
        bid_px, bid_qty, ask_px, ask_qty = msg["book"]
        mid = (bid_px + ask_px) / 2 * self.tick
        p = self.params
        limit = p["position_limit_notional"]
        actions: list = []
        if self.taking is None and abs(self.position) * self.lot * mid > limit:
            target = int(math.copysign(0.5 * limit / (mid * self.lot), self.position))
            side = -1 if self.position > 0 else 1
            actions.append(["take", side, abs(self.position - target)])
            self.taking = self._sent(side)
        second = msg["now"] // 1_000_000_000
        if second != self.second:  # the requote budget of this second, as legacy's
            rate = p["replace_rate_per_min"]
            self.second = second
            self.budget = math.floor(rate * (second + 1) / 60) - math.floor(rate * second / 60)
        offset = p["bot_offset_ticks"]
        bid = min(bid_px - offset, ask_px - 1)
        ask = max(ask_px + offset, bid_px + 1)
        if bid >= ask:  # improving both sides of a narrow spread: meet in the middle
            bid = bid_px + (ask_px - bid_px - 1) // 2
            ask = bid + 1
        depth_usd = 0.5 * (bid_qty + ask_qty) * self.lot * mid
        base = max(1, math.floor(min(p["impact_cap_ratio"] * depth_usd,
                                     p["max_delta_ratio"] * limit) / (mid * self.lot)))
        tilt = p["bot_skew"] * self.position * self.lot * mid / limit
        for side, price in ((1, bid), (-1, ask)):
            lots = max(0, math.floor(base * (1 - side * tilt)))
            held = self.side_order[side]
            if held is not None and held[1] == price:
                continue  # same price: keep the order and its place in the queue
            if held is not None or self.started[side]:
                if self.budget <= 0:
                    continue  # over budget: the old quote stays until the next second
                self.budget -= 1
            self.started[side] = True
            actions.append(["quote", side, price, lots])
            order_id = self._sent(side)
            self.side_order[side] = (order_id, price) if lots > 0 else None
        return actions


def main() -> int:
    # --protocol-1: the bot as first written for protocol 1 (every row of the feed, woken
    # by every venue answer); the same orders and fills, more and longer messages
    protocol_1 = "--protocol-1" in sys.argv[1:]
    bot = None
    write = sys.stdout.write
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "step":
            actions = bot.step(msg)
            write(json.dumps({"actions": actions, "wake": bot.wake(msg)}) + "\n")
        elif kind == "start":
            bot = Bot(msg, protocol_1)
            # the book is enough: no rows of trades and book updates
            write('{"type": "ready"}\n' if protocol_1 else '{"type": "ready", "feed": []}\n')
        elif kind == "describe":
            write(json.dumps({"type": "describe", "name": "example-bot", "params": PARAMS}) + "\n")
        elif kind == "end":
            break
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
