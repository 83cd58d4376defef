"""Quote prices and sizes: the one definition both engines and every built-in strategy use.

Every function takes numpy arrays (the vectorised legacy quoter prices every loop tick at
once) or plain numbers (an event-driven strategy prices one tick), and works in the
instrument's integer ticks and lots:

* :func:`legacy_prices` – the legacy quoter's prices: ``base_spread_bps +
  base_spread_bps_delta`` from the mid it saw, rounded outward to the tick; or, with
  ``quote_from_touch`` 1, ``touch_offset_ticks`` from the best price on each side (0 joins,
  −n improves by n ticks, n stands back n);
* :func:`inside_book` – what keeps a quote from crossing by accident: a bid at most one
  tick under the best ask it saw, an ask at least one tick over the best bid, and the two
  quotes never crossing or locking each other (a one-tick market is allowed);
* :func:`base_lots` – the unskewed quote size: ``quote_lots``, or ``impact_cap_ratio`` ×
  the best levels' mean depth, capped by ``max_delta_ratio`` × ``position_limit_notional``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from soakkit.config.params import PARAMS, Value
from soakkit.sim.instrument import Instrument

__all__ = ["base_lots", "inside_book", "legacy_prices", "param"]


def param(params: Mapping[str, Value], name: str) -> float:
    """``params[name]`` as a float; a parameter the mapping lacks takes its default."""
    value = params.get(name)
    return float(PARAMS[name].default if value is None else value)


def inside_book(bid: Any, ask: Any, best_bid: Any, best_ask: Any) -> tuple[Any, Any]:
    """Quotes kept inside the book seen: ``bid < best_ask``, ``ask > best_bid``, ``bid < ask``.

    Where the two quotes would meet (improving both sides of a narrow spread), the bid
    takes the lower middle tick of the spread and the ask the tick above it.
    """
    if isinstance(bid, int) and isinstance(ask, int):  # one quote: plain ints, same rule
        bid, ask = min(bid, int(best_ask) - 1), max(ask, int(best_bid) + 1)
        if bid >= ask:
            bid = int(best_bid) + (int(best_ask) - int(best_bid) - 1) // 2
            ask = bid + 1
        return bid, ask
    bid = np.minimum(bid, best_ask - 1)
    ask = np.maximum(ask, best_bid + 1)
    meet = bid >= ask
    if np.any(meet):
        middle = best_bid + (best_ask - best_bid - 1) // 2
        bid = np.where(meet, middle, bid)
        ask = np.where(meet, middle + 1, ask)
    return bid, ask


def legacy_prices(mid: Any, best_bid: Any, best_ask: Any, params: Mapping[str, Value],
                  tick: float) -> tuple[Any, Any]:
    """The legacy quoter's bid and ask (int ticks) from the mid and best prices it saw."""
    if param(params, "quote_from_touch") >= 1:
        offset = int(param(params, "touch_offset_ticks"))
        if isinstance(best_bid, int):
            return inside_book(best_bid - offset, best_ask + offset, best_bid, best_ask)
        bid = np.asarray(best_bid - offset).astype(np.int64)
        ask = np.asarray(best_ask + offset).astype(np.int64)
        return inside_book(bid, ask, best_bid, best_ask)
    half = (param(params, "base_spread_bps") + param(params, "base_spread_bps_delta")) / 1e4
    if isinstance(best_bid, int):  # one tick: plain floats, same operations
        return (min(math.floor(mid * (1.0 - half) / tick), best_ask - 1),
                max(math.ceil(mid * (1.0 + half) / tick), best_bid + 1))
    bid = np.minimum(np.floor(mid * (1.0 - half) / tick).astype(np.int64), best_ask - 1)
    ask = np.maximum(np.ceil(mid * (1.0 + half) / tick).astype(np.int64), best_bid + 1)
    return bid, ask


def base_lots(mid: Any, bid_qty: Any, ask_qty: Any, params: Mapping[str, Value],
              inst: Instrument) -> Any:
    """Unskewed quote size in lots (at least 1) from the mid and best depths (lots) seen;
    USD values through the instrument (an inverse contract's lot is worth a fixed USD)."""
    limit = param(params, "position_limit_notional")
    cap_usd = param(params, "max_delta_ratio") * limit
    fixed = param(params, "quote_lots")
    if fixed > 0:
        return np.maximum(np.minimum(fixed, np.floor(cap_usd / (inst.price_term(mid)
                                                                * inst.lot_scale))), 1.0)
    depth_usd = 0.5 * (bid_qty + ask_qty) * inst.lot_scale * inst.price_term(mid)
    base_usd = np.minimum(param(params, "impact_cap_ratio") * depth_usd, cap_usd)
    return np.maximum(np.floor(base_usd / (inst.price_term(mid) * inst.lot_scale)), 1.0)
