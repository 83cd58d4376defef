"""A two-sided market-making strategy driven by the tunable parameters, vectorised.

How each parameter acts (constants in :mod:`soakkit.sim.regimes`):

* ``min_interval_ms`` – the bot's loop runs on a grid of this period; it can requote only
  on a tick, so a longer interval means staler quotes, fewer requests and older orders.
* the bot requotes when the mid crosses a line of a grid of ``requote_threshold_bps``
  since the previous tick; ``replace_rate_per_min`` caps those requotes per second
  (⌊R(s+1)/60⌋ − ⌊Rs/60⌋ in second s, so any minute allows exactly R); the excess is
  dropped and the stale quote stays up;
* ``tail_age_ms`` – an order that has not been replaced for this long is cancelled and
  re-placed at the next tick;
* quotes sit ``base_spread_bps + base_spread_bps_delta`` from the mid the bot saw, and go
  live one request latency later;
* a market order on our side trades with us with probability ``touch_fill_prob`` when
  our quote is exactly at the market's touch, rising or decaying by a factor
  e^``reach_decay_per_bps`` per bp inside or beyond it (capped at 1): a stale quote that the
  mid has run through is picked off with certainty;
* a fill takes min(order, quote size, cap): the quote size is ``impact_cap_ratio`` × the
  touch depth and the cap is ``max_delta_ratio`` × ``position_limit_notional``;
* quote sizes are skewed against inventory (``skew_strength``), which makes inventory a
  linear recurrence, solved in blocks without a per-fill loop;
* when |position| exceeds ``position_limit_notional`` the bot unloads with a taker order
  back to ``unload_target_ratio`` × the limit (paying the touch, slippage and the fee);
* request latency grows with the request load per second relative to
  ``concurrency_limit`` × ``gateway_rps_per_slot``.

Simplifications (documented in ``docs/SIMULATOR.md``): the bot's own taker orders do
not move the simulated mid; quotes are replenished after partial fills; each iteration
starts flat and its closing inventory is marked at the final mid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soakkit.config.params import Value
from soakkit.sim.market import MarketTape, regime_column
from soakkit.sim.regimes import MARKET, STRATEGY

__all__ = ["Fills", "StrategyResult", "run_strategy"]

_BLOCK_MIN, _BLOCK_MAX = 32, 4096  # fills per block of the inventory recurrence


@dataclass(frozen=True)
class Fills:
    """Our fills, maker and taker, in time order (arrays aligned per fill)."""

    t: np.ndarray  #: time, s
    side: np.ndarray  #: +1 we bought, -1 we sold
    qty: np.ndarray  #: base quantity (> 0)
    price: np.ndarray  #: execution price
    mid: np.ndarray  #: mid at the fill
    intended: np.ndarray  #: price the bot would have quoted or expected at that instant
    taker: np.ndarray  #: True for taker (unload) fills
    position: np.ndarray  #: position (base units) right after the fill

    @property
    def notional(self) -> np.ndarray:
        return np.asarray(self.qty * self.price)


@dataclass(frozen=True)
class StrategyResult:
    """What the strategy did in one iteration."""

    fills: Fills
    order_lifetimes_ms: np.ndarray  #: lifetime of every order that was cancelled
    order_filled: np.ndarray  #: whether each of those orders received a fill
    latencies_ms: np.ndarray  #: latency of every request batch (quote update or taker order)
    requotes: dict[str, int]  #: quote updates by cause: initial, move, refresh
    dropped_requotes: int  #: move requotes dropped by the replace budget
    unloads: int  #: taker unloads


def _param(params: Mapping[str, Value], name: str) -> float:
    return float(params[name])


def _requote_slots(tape: MarketTape, params: Mapping[str, Value]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Loop ticks, chosen requote ticks and their cause (0 initial, 1 move, 2 refresh)."""
    dt = _param(params, "min_interval_ms") / 1000.0
    ticks = np.arange(int(np.ceil(tape.duration_s / dt))) * dt
    log_mid = np.log(tape.mid_at(ticks) / MARKET.mid0) * 1e4
    grid = np.floor(log_mid / STRATEGY.requote_threshold_bps)
    move = np.zeros(ticks.size, dtype=bool)
    move[1:] = grid[1:] != grid[:-1]
    # replace budget: keep the first cap(s) move requotes of each second s
    second = ticks.astype(np.int64)
    rate = _param(params, "replace_rate_per_min")
    cap = np.floor(rate * (second + 1) / 60.0) - np.floor(rate * second / 60.0)
    count = np.cumsum(move)
    first = np.searchsorted(second, second, side="left")
    rank = count - (count[first] - move[first])
    kept = move & (rank <= cap)
    chosen = np.concatenate(([0], np.flatnonzero(kept)))
    # tail-age refresh: in every gap longer than tail_age, re-place each tail_age
    age_ticks = max(1, int(np.ceil(_param(params, "tail_age_ms") / _param(params,
                                                                           "min_interval_ms"))))
    gaps = np.append(chosen[1:], ticks.size) - chosen
    inserts = np.maximum((gaps - 1) // age_ticks, 0)
    offset = np.arange(int(inserts.sum())) - np.repeat(np.cumsum(inserts) - inserts, inserts)
    refresh = np.repeat(chosen, inserts) + age_ticks * (offset + 1)
    slots = np.concatenate((chosen, refresh))
    cause = np.concatenate((np.ones(chosen.size, dtype=np.int8),
                            np.full(refresh.size, 2, dtype=np.int8)))
    cause[0] = 0
    order = np.argsort(slots, kind="stable")
    return ticks, slots[order], cause[order], int(move.sum() - kept.sum())


def _latencies(times: np.ndarray, requests: np.ndarray, duration_s: float,
               params: Mapping[str, Value], rng: np.random.Generator) -> np.ndarray:
    """Latency (ms) of request batches sent at ``times``, growing with load per second."""
    seconds = int(np.ceil(duration_s)) + 1
    second_of = np.minimum(times.astype(np.int64), seconds - 1)
    load = np.bincount(second_of, weights=requests, minlength=seconds)[second_of]
    capacity = _param(params, "concurrency_limit") * STRATEGY.gateway_rps_per_slot
    factor = 1.0 + (load / capacity) ** STRATEGY.latency_load_exponent
    noise = np.exp(STRATEGY.latency_sigma * rng.standard_normal(times.size))
    return np.asarray(STRATEGY.latency_base_ms * factor * noise)


def _inventory(coef: np.ndarray, step: np.ndarray, mid: np.ndarray, limit: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve y_i = coef_i * y_{i-1} + step_i with unloads when |y_i * mid_i| > limit.

    Returns the position before any unload, the position after it, and the indices of
    the fills that triggered an unload. Blocks are solved in closed form
    (y = P * (y0 + cumsum(step / P)), P = cumprod(coef)); the Python loop runs once per
    block or unload, never once per fill (blocks shrink after an unload and grow again).
    """
    n = coef.size
    before = np.empty(n)
    after = np.empty(n)
    unload_at: list[int] = []
    target = STRATEGY.unload_target_ratio * limit
    y, i, block = 0.0, 0, _BLOCK_MIN
    log_coef = np.log(coef)
    while i < n:
        j = min(n, i + block)
        prod = np.exp(np.cumsum(log_coef[i:j]))
        seg = prod * (y + np.cumsum(step[i:j] / prod))
        over = np.abs(seg * mid[i:j]) > limit
        k = int(np.argmax(over)) if over.any() else j - i
        before[i:i + k] = seg[:k]
        after[i:i + k] = seg[:k]
        if k == j - i:
            y, i, block = float(seg[-1]), j, min(2 * block, _BLOCK_MAX)
            continue
        block = _BLOCK_MIN
        before[i + k] = seg[k]
        y = float(np.sign(seg[k]) * target / mid[i + k])
        after[i + k] = y
        unload_at.append(i + k)
        i += k + 1
    return before, after, np.asarray(unload_at, dtype=np.int64)


def run_strategy(tape: MarketTape, params: Mapping[str, Value],
                 rng: np.random.Generator) -> StrategyResult:
    """Run the strategy with ``params`` against ``tape``; ``rng`` draws latencies only."""
    ticks, slots, cause, dropped = _requote_slots(tape, params)
    sent = ticks[slots]
    batch = np.where(cause == 0, 2.0, 4.0)  # cancel + place per side (initial: place only)
    latency = _latencies(sent, batch, tape.duration_s, params, rng)
    live_from = np.maximum.accumulate(sent + latency / 1000.0)
    center = tape.mid_at(sent)
    half = (_param(params, "base_spread_bps") + _param(params, "base_spread_bps_delta")) / 1e4
    limit = _param(params, "position_limit_notional")

    # which market orders reach a live quote
    seg = np.searchsorted(live_from, tape.t, side="right") - 1
    ours = -tape.side.astype(np.float64)  # a market buy makes us sell
    price = center[np.maximum(seg, 0)] * (1.0 - ours * half)
    mid = tape.mid_before
    distance = ours * (mid - price) / mid * 1e4
    touch = regime_column("half_spread_bps")[tape.regime]
    depth = regime_column("depth_usd")[tape.regime]
    reach = STRATEGY.touch_fill_prob * np.exp(-STRATEGY.reach_decay_per_bps * (distance - touch))
    hit = np.flatnonzero((seg >= 0) & (tape.fill_u < reach))

    q0 = _param(params, "impact_cap_ratio") * depth[hit]
    cap = _param(params, "max_delta_ratio") * limit
    base = np.minimum(np.minimum(tape.size[hit], q0), cap)
    coef = 1.0 - base * STRATEGY.skew_strength / limit
    step = ours[hit] * base / mid[hit]
    pos_before, pos_after, unload_idx = _inventory(coef, step, mid[hit], limit)
    maker_qty = np.abs(pos_before - np.concatenate(([0.0], pos_after[:-1])))

    # taker unloads, executed at the touch plus size-dependent slippage
    u_hit = hit[unload_idx]
    u_side = -np.sign(pos_before[unload_idx])
    u_qty = np.abs(pos_before[unload_idx] - pos_after[unload_idx])
    u_mid = tape.mid_after[u_hit]
    u_touch = u_mid * (1.0 + u_side * touch[u_hit] / 1e4)
    u_slip = STRATEGY.taker_slippage_bps * u_qty * u_mid / depth[u_hit]
    u_price = u_touch * (1.0 + u_side * u_slip / 1e4)

    columns = {
        "t": np.concatenate((tape.t[hit], tape.t[u_hit])),
        "side": np.concatenate((ours[hit], u_side)),
        "qty": np.concatenate((maker_qty, u_qty)),
        "price": np.concatenate((price[hit], u_price)),
        "mid": np.concatenate((mid[hit], u_mid)),
        "intended": np.concatenate((mid[hit] * (1.0 - ours[hit] * half), u_touch)),
        "taker": np.concatenate((np.zeros(hit.size, dtype=bool), np.ones(u_hit.size, dtype=bool))),
        "position": np.concatenate((pos_before, pos_after[unload_idx])),
    }
    order = np.argsort(columns["t"], kind="stable")
    fills = Fills(**{name: values[order] for name, values in columns.items()})

    # order bookkeeping: every quote update cancels the two orders of the previous one
    lifetimes = np.diff(live_from) * 1000.0
    filled = np.zeros((slots.size, 2), dtype=bool)
    filled[seg[hit], (ours[hit] > 0).astype(np.int64)] = True
    ended = filled[:-1].reshape(-1)
    u_lat = _latencies(tape.t[u_hit], np.ones(u_hit.size), tape.duration_s, params, rng)
    return StrategyResult(
        fills=fills,
        order_lifetimes_ms=np.repeat(np.maximum(lifetimes, 0.0), 2),
        order_filled=ended,
        latencies_ms=np.concatenate((latency, u_lat)),
        requotes={"initial": int((cause == 0).sum()), "move": int((cause == 1).sum()),
                  "refresh": int((cause == 2).sum())},
        dropped_requotes=dropped,
        unloads=int(u_hit.size),
    )
