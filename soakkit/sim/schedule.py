"""Trading one tape in consecutive stretches, each with its own parameters, state carried.

A live bot can switch its parameters at any time; it cannot trade the same minute twice.
:func:`trade_schedule` is that: the tape is cut into :class:`Segment` s that cover it end to
end, each traded by :func:`~soakkit.sim.strategy.run_strategy` with its own values, starting
from the position and resting orders the previous one left
(:class:`~soakkit.sim.carry.BookState`). Every instant of the market is traded exactly once.
The parts are merged into one :class:`~soakkit.sim.strategy.StrategyResult` over the whole
tape (times from its start), which is what the iteration's KPIs are computed from.

One merged figure is an approximation: ``queue_ahead_usd_p50`` of several segments is the
median of the segments' medians (a diagnostic, not a KPI the gate or the tuner reads).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from soakkit.config.params import Value
from soakkit.sim.carry import FLAT, BookState
from soakkit.sim.stats import median
from soakkit.sim.strategy import Fills, OrderLog, StrategyResult, run_strategy
from soakkit.sim.tape import NS, MarketTape

__all__ = ["Runner", "Segment", "Traded", "merge_results", "trade_schedule"]

#: How a stretch is traded: ``(tape, params, rng, start) -> result`` (the legacy quoter's
#: :func:`~soakkit.sim.strategy.run_strategy` by default; any engine that takes a start
#: state and returns the end state in ``result.end``).
Runner = Callable[[MarketTape, Mapping[str, Value], np.random.Generator, BookState],
                  StrategyResult]


def _legacy(tape: MarketTape, params: Mapping[str, Value], rng: np.random.Generator,
            start: BookState) -> StrategyResult:
    return run_strategy(tape, params, rng, start=start)


@dataclass(frozen=True)
class Segment:
    """A stretch ``[start_ns, end_ns)`` of the tape traded with ``params``."""

    start_ns: int
    end_ns: int
    params: Mapping[str, Value]
    arm: str = "current"  #: which configuration this is (``current``, ``stable``, ``candidate``)


@dataclass(frozen=True)
class Traded:
    """What the bot did over a whole tape traded in segments."""

    result: StrategyResult  #: merged over the whole tape
    parts: tuple[StrategyResult, ...]  #: one per segment, times from the segment's start
    segments: tuple[Segment, ...]
    tapes: tuple[MarketTape, ...]  #: the stretch of tape each segment traded


def trade_schedule(tape: MarketTape, segments: Sequence[Segment], rng: np.random.Generator,
                   start: BookState = FLAT, run: Runner | None = None) -> Traded:
    """Trade ``tape`` segment by segment from ``start``, each from where the last ended.

    The segments must cover ``[0, duration)`` of the tape in order, without gaps or overlap;
    ``run`` trades one stretch (the legacy quoter when ``None``).
    """
    run = run or _legacy
    end_ns = round(tape.duration_s * NS)
    edges = [(s.start_ns, s.end_ns) for s in segments]
    if not segments or edges[0][0] != 0 or edges[-1][1] != end_ns or any(
            a[1] != b[0] or a[0] >= a[1] for a, b in zip(edges, [*edges[1:], (end_ns, 0)],
                                                          strict=True)):
        raise ValueError(f"segments {edges} do not cover [0, {end_ns}) ns end to end")
    state = start
    parts: list[StrategyResult] = []
    tapes: list[MarketTape] = []
    for seg in segments:
        piece = tape if len(segments) == 1 else tape.window(seg.start_ns, seg.end_ns)
        part = run(piece, seg.params, rng, state)
        parts.append(part)
        tapes.append(piece)
        state = part.end
    merged = parts[0] if len(parts) == 1 else merge_results(
        tape, parts, [s.start_ns for s in segments])
    return Traded(merged, tuple(parts), tuple(segments), tuple(tapes))


def _cat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.asarray(np.concatenate(arrays))


def merge_results(tape: MarketTape, parts: Sequence[StrategyResult],
                  offsets_ns: Sequence[int]) -> StrategyResult:
    """One result over ``tape`` from consecutive parts starting at ``offsets_ns``."""
    orders_before = np.cumsum([0] + [p.order_filled.size if p.orders is None
                                     else p.orders.side.size for p in parts[:-1]])
    f = [p.fills for p in parts]
    fills = Fills(
        t=_cat([x.t + off / NS for x, off in zip(f, offsets_ns, strict=True)]),
        side=_cat([x.side for x in f]), qty=_cat([x.qty for x in f]),
        price=_cat([x.price for x in f]), mid=_cat([x.mid for x in f]),
        intended=_cat([x.intended for x in f]), taker=_cat([x.taker for x in f]),
        position=_cat([x.position for x in f]), lots=_cat([x.lots for x in f]),
        ticks=_cat([x.ticks for x in f]), position_lots=_cat([x.position_lots for x in f]),
        order=_cat([np.where(x.order >= 0, x.order + base, -1)
                    for x, base in zip(f, orders_before, strict=True)]),
        ns=_cat([x.ns + off for x, off in zip(f, offsets_ns, strict=True)]))
    logs = [p.orders for p in parts]
    orders = None
    if all(log is not None for log in logs):
        o = [log for log in logs if log is not None]
        orders = OrderLog(
            decide_ns=_cat([x.decide_ns + off for x, off in zip(o, offsets_ns, strict=True)]),
            side=_cat([x.side for x in o]), price=_cat([x.price for x in o]),
            arrive_ns=_cat([x.arrive_ns + off for x, off in zip(o, offsets_ns, strict=True)]),
            end_ns=_cat([x.end_ns + off for x, off in zip(o, offsets_ns, strict=True)]),
            accepted=_cat([x.accepted for x in o]), expired=_cat([x.expired for x in o]),
            front0=_cat([x.front0 for x in o]), size=_cat([x.size for x in o]),
            filled=_cat([x.filled for x in o]))
    requotes: dict[str, int] = {}
    for p in parts:
        for cause, count in p.requotes.items():
            requotes[cause] = requotes.get(cause, 0) + count
    traded = float(tape.trade_qty.sum())
    maker_lots = float(fills.lots[~fills.taker].sum())
    queue = [p.queue_ahead_usd_p50 for p in parts if p.queue_ahead_usd_p50 is not None]
    return StrategyResult(
        fills=fills,
        order_lifetimes_ms=_cat([p.order_lifetimes_ms for p in parts]),
        order_filled=_cat([p.order_filled for p in parts]),
        latencies_ms=_cat([p.latencies_ms for p in parts]),
        requotes=requotes,
        dropped_requotes=sum(p.dropped_requotes for p in parts),
        unloads=sum(p.unloads for p in parts),
        rejects=sum(p.rejects for p in parts),
        post_only_expired=sum(p.post_only_expired for p in parts),
        orders_placed=sum(p.orders_placed for p in parts),
        orders_filled=sum(p.orders_filled for p in parts),
        market_share=maker_lots / traded if traded > 0 else 0.0,
        queue_ahead_usd_p50=median(queue) if queue else None,
        orders=orders, start=parts[0].start, end=parts[-1].end)
