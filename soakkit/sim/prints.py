"""Taker orders into prints: one print per resting maker order a taker order meets.

A real venue prints a trade per (taker, maker) pair: a taker order that meets five resting
orders prints five times at one timestamp, the first often the rest of an order the
previous taker left half-filled. Each side's resting quantity is modelled as a conveyor of
maker orders whose sizes come from the regime's maker size law (:mod:`soakkit.sim.sizes`);
the side's taker orders take from it one after another. On the axis of cumulative lots
taken from a side, the prints are the pieces cut by three sets of boundaries — where one
taker order ends, where one maker order ends, and where a sweeping order moves to its next
price level — so the whole tape's prints come out of one sort, without a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Prints", "split_prints"]


@dataclass(frozen=True)
class Prints:
    """Trade prints in time order (a taker order's prints share its time)."""

    order: np.ndarray  #: int64 index of the taker order
    price: np.ndarray  #: int64 ticks
    lots: np.ndarray  #: int64 (> 0)


def split_prints(side: np.ndarray, level_owner: np.ndarray, level_px: np.ndarray,
                 level_lots: np.ndarray, maker_lots: Callable[[int], np.ndarray]) -> Prints:
    """Cut every taker order's levels into prints against each side's maker conveyor.

    ``side`` is per order; ``level_owner``, ``level_px``, ``level_lots`` list each order's
    price levels (orders in time order, levels in walking order); ``maker_lots(k)`` draws
    the sizes (lots ≥ 1) of the next ``k`` maker orders of a conveyor.
    """
    out_order, out_px, out_lots = [], [], []
    for s in (1, -1):
        mine = side[level_owner] == s
        owner, px, lots = level_owner[mine], level_px[mine], level_lots[mine]
        if lots.size == 0:
            continue
        ends = np.cumsum(lots)  # level boundaries on the side's axis
        total = int(ends[-1])
        makers = _conveyor(maker_lots, total)
        cuts = np.unique(np.concatenate((ends, makers[makers < total])))
        starts = np.concatenate(([0], cuts[:-1]))
        piece = cuts - starts
        level = np.searchsorted(ends, starts, side="right")
        out_order.append(owner[level])
        out_px.append(px[level])
        out_lots.append(piece)
    order = np.concatenate(out_order) if out_order else np.zeros(0, np.int64)
    rank = np.argsort(order, kind="stable")  # orders in time order, a sweep's levels in turn
    return Prints(order[rank],
                  (np.concatenate(out_px) if out_px else np.zeros(0, np.int64))[rank],
                  (np.concatenate(out_lots) if out_lots else np.zeros(0, np.int64))[rank])


def _conveyor(maker_lots: Callable[[int], np.ndarray], total: int) -> np.ndarray:
    """Where the conveyor's maker orders end, until they cover ``total`` lots."""
    ends = np.cumsum(np.maximum(maker_lots(64), 1))
    while ends[-1] < total:
        more = max(64, int((total - ends[-1]) / max(ends[-1] / ends.size, 1.0) * 1.2))
        ends = np.concatenate((ends, ends[-1] + np.cumsum(np.maximum(maker_lots(more), 1))))
    return np.asarray(ends)
