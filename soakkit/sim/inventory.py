"""The one sequential part of the engine: order sizes, fills and taker unloads in time order.

Order *prices* and where orders *could* fill do not depend on the bot's position, so they
are computed for all orders at once (:mod:`soakkit.sim.matching`). Sizes do: a quote's
size is skewed against the position the bot *knows* when it decides (fills it has been
told about, one ack latency after they happened), and when the known position passes
the limit the bot unloads with a taker order. This module walks, in time order, only
the orders that have at least one fill opportunity, plus the fill reports (acks) — a
few thousand steps an hour, in plain Python, with exact integer lots:
every fill changes the position by exactly side × lots, partial fills included.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from soakkit.sim.regimes import MARKET
from soakkit.sim.tape import MarketTape

__all__ = ["Executions", "InventoryInputs", "run_inventory", "skewed_size", "walk_book"]



def skewed_size(base: np.ndarray, side: np.ndarray, known_usd: np.ndarray, limit: float,
                skew: float) -> np.ndarray:
    """Quote size in lots: ``base`` scaled by ``1 − side·skew·known/limit`` within [0, 2]."""
    factor = np.clip(1.0 - side * skew * known_usd / limit, 0.0, 2.0)
    return np.asarray(np.floor(base * factor + 1e-9), dtype=np.int64)


@dataclass(frozen=True)
class InventoryInputs:
    """What the walk needs, all aligned per order (sorted by decision time)."""

    decide_ns: np.ndarray  #: int64: when the bot sized the order
    side: np.ndarray  #: +1 bid, -1 ask
    price: np.ndarray  #: int64 ticks
    base: np.ndarray  #: unskewed size, lots
    mid: np.ndarray  #: mid the bot saw (USD per base unit)
    ptr: np.ndarray  #: CSR of the order's opportunities
    opp_ns: np.ndarray
    opp_avail: np.ndarray  #: cumulative whole lots available (+inf: all)
    opp_ack_ns: np.ndarray  #: delay until the bot hears of a fill at that opportunity
    tick_ns: int  #: the bot's loop period: unloads leave on its next tick
    unload_entry_ns: np.ndarray  #: pre-drawn entry delays for unloads (cycled)
    unload_ack_ns: np.ndarray  #: pre-drawn ack delays for unloads (cycled)
    window_ns: int  #: rate-limit window
    window_free: np.ndarray  #: requests still allowed in each window after the quotes


@dataclass(frozen=True)
class Executions:
    """Fills in the order they happened, and what the unloads did."""

    ns: np.ndarray
    side: np.ndarray
    lots: np.ndarray  #: int64 > 0
    price: np.ndarray  #: int64 ticks
    taker: np.ndarray
    order: np.ndarray  #: index of the maker order, -1 for a taker unload
    touch: np.ndarray  #: int64 ticks: the best price a taker fill paid against (maker: 0)
    ack_ns: np.ndarray  #: when the bot heard of each fill
    unloads: int
    unload_rejects: int
    unload_latency_ms: np.ndarray


def walk_book(tape: MarketTape, at_ns: int, side: int, lots: int
              ) -> list[tuple[int, int, int]]:
    """Taker fills (price, lots, touch) of ``lots`` on ``side`` against the book at ``at_ns``.

    The best level shows its displayed depth; every deeper level is assumed to hold as
    much (at least one lot), up to ``MARKET.max_taker_levels``, where the rest fills.
    """
    q = max(int(np.searchsorted(tape.quote_ns, at_ns, side="right")) - 1, 0)
    touch = int(tape.ask_px[q]) if side > 0 else int(tape.bid_px[q])
    depth = max(1, int(tape.ask_qty[q] if side > 0 else tape.bid_qty[q]))
    out = []
    level = 0
    while lots > 0:
        take = lots if level == MARKET.max_taker_levels else min(lots, depth)
        out.append((touch + side * level, take, touch))
        lots -= take
        level += 1
    return out


def run_inventory(tape: MarketTape, x: InventoryInputs, limit_usd: float, skew: float,
                  target_ratio: float) -> Executions:
    """Size every order that can fill, fill it, and unload when the known position is over."""
    maker_i: list[int] = []  # opportunity index of each maker fill
    maker_take: list[int] = []
    taker: list[tuple[int, int, int, int, int]] = []  # ns, side, lots, price, touch
    taker_ack: list[int] = []
    acks: list[tuple[int, int]] = []  # heap of (ack_ns, signed lots) of maker fills
    known = 0  # lots the bot has heard of
    pending = 0  # signed lots of the unload in flight
    pending_ack = 0  # when the bot hears that it executed
    unloads = unload_rejects = 0
    unload_lat: list[float] = []
    free = x.window_free.tolist()
    entry_pool, ack_pool = x.unload_entry_ns.tolist(), x.unload_ack_ns.tolist()
    lot = tape.instrument.lot_scale  # a position's USD value: lots × lot_scale × price term
    inverse = tape.instrument.inverse  # inverse: a contract is worth contract_size USD
    end_ns = round(tape.duration_s * 1e9)
    never = end_ns * 4 + 1

    def hear(until: int, mid: float) -> None:
        nonlocal known, pending, pending_ack, unloads, unload_rejects
        mid = 1.0 if inverse else mid
        while True:
            next_fill = acks[0][0] if acks else never
            if pending and pending_ack <= until and pending_ack <= next_fill:
                at, known, pending = pending_ack, known + pending, 0
            elif next_fill <= until:
                at, lots = heapq.heappop(acks)
                known += lots
            else:
                return
            if pending or abs(known) * lot * mid <= limit_usd:
                continue
            target = int(math.copysign(target_ratio * limit_usd / (mid * lot), known))
            size = abs(known - target)
            send = -(-at // x.tick_ns) * x.tick_ns  # the bot's next loop tick
            window = send // x.window_ns
            while window < len(free) and free[window] <= 0:
                unload_rejects += 1  # rejected by the rate limit: retry next window
                window += 1
                send = window * x.window_ns
            if window < len(free):
                free[window] -= 1
            k = unloads % len(entry_pool)
            exec_ns = send + entry_pool[k]
            unloads += 1
            side = -1 if known > 0 else 1
            pending, pending_ack = side * size, exec_ns + ack_pool[k]
            unload_lat.append((entry_pool[k] + ack_pool[k]) / 1e6)
            if exec_ns > end_ns:
                pending_ack = never  # the window closes first; the unload never executes
                continue
            for price, take, touch in walk_book(tape, exec_ns, side, size):
                taker.append((exec_ns, side, take, price, touch))
                taker_ack.append(pending_ack)

    decide, sides, base, mids = (x.decide_ns.tolist(), x.side.tolist(), x.base.tolist(),
                                 x.mid.tolist())
    ptr = x.ptr.tolist()
    opp_avail = x.opp_avail.tolist()
    opp_ack = (x.opp_ns + x.opp_ack_ns).tolist()
    floor = math.floor
    push = heapq.heappush
    for o in np.flatnonzero(x.ptr[1:] > x.ptr[:-1]).tolist():
        t = decide[o]
        if (acks and acks[0][0] <= t) or (pending and pending_ack <= t):
            hear(t, mids[o])
        side = sides[o]
        factor = 1.0 - side * skew * (known + pending) * lot * (1.0 if inverse else mids[o]
                                                               ) / limit_usd
        size = floor(base[o] * (2.0 if factor > 2.0 else max(factor, 0.0)) + 1e-9)
        done = 0
        for i in range(ptr[o], ptr[o + 1]):
            if done >= size:
                break
            avail = opp_avail[i]
            take = size - done if avail >= size else int(avail) - done
            if take > 0:
                done += take
                maker_i.append(i)
                maker_take.append(take)
                push(acks, (opp_ack[i], side * take))
    hear(end_ns, tape.mid_end)

    mi = np.asarray(maker_i, dtype=np.int64)
    owner = np.searchsorted(x.ptr, mi, side="right") - 1
    tk = np.asarray(taker, dtype=np.int64).reshape(-1, 5)
    ns = np.concatenate((x.opp_ns[mi], tk[:, 0]))
    kind = np.concatenate((np.zeros(mi.size, np.int64), np.ones(len(taker), np.int64)))
    order = np.lexsort((kind, ns))  # at one instant, maker fills first
    return Executions(
        ns=ns[order],
        side=np.concatenate((x.side[owner], tk[:, 1]))[order].astype(np.int64),
        lots=np.concatenate((np.asarray(maker_take, dtype=np.int64), tk[:, 2]))[order],
        price=np.concatenate((x.price[owner], tk[:, 3]))[order],
        taker=kind[order].astype(bool),
        order=np.concatenate((owner, np.full(len(taker), -1, np.int64)))[order],
        touch=np.concatenate((np.zeros(mi.size, np.int64), tk[:, 4]))[order],
        ack_ns=np.concatenate((x.opp_ns[mi] + x.opp_ack_ns[mi],
                               np.asarray(taker_ack, dtype=np.int64)))[order],
        unloads=unloads, unload_rejects=unload_rejects,
        unload_latency_ms=np.asarray(unload_lat, dtype=np.float64))
