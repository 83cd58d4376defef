"""The stylized facts of a market tape: what a synthetic market must reproduce to pass for real.

Twelve numbers, each computed the same way on a recorded window and on a generated one
(:func:`stylized_facts`), so the fidelity report (``soakkit fidelity``) can set them side
by side:

* ``prints_per_s`` – trade prints per second (a taker order that meets several resting
  orders prints once per maker order, all at one time);
* ``orders_per_s`` – taker orders per second: the prints at one time on one side are one;
* ``print_median_usd``, ``order_median_usd``, ``order_p99_usd`` – notional sizes (USD, at
  the print's price; an inverse contract is worth its contract size);
* ``spread_median_ticks``, ``spread_mean_ticks`` – the quoted spread in ticks, sampled on a
  0.1-s grid (time-weighted: a wide spread that lasts counts for its duration; the mean
  carries the tail);
* ``ret_std_bps``, ``ret_kurtosis`` – standard deviation and excess kurtosis of 1-s mid
  log returns (bps);
* ``buy_share`` – share of taker orders that bought;
* ``trade_sign_ac1``, ``order_sign_ac1`` – lag-1 autocorrelation of the aggressor sign of
  consecutive prints, and of consecutive taker orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from soakkit.sim.tape import NS, MarketTape

__all__ = ["FACTS", "FACT_LABELS", "Fact", "order_groups", "stylized_facts"]


@dataclass(frozen=True)
class Fact:
    """One stylized fact: its key, what it is, and its unit."""

    key: str
    label: str
    unit: str


#: The twelve facts, in the order every table lists them.
FACTS: tuple[Fact, ...] = (
    Fact("prints_per_s", "prints per second", "1/s"),
    Fact("orders_per_s", "taker orders per second", "1/s"),
    Fact("print_median_usd", "print size, median", "USD"),
    Fact("order_median_usd", "order size, median", "USD"),
    Fact("order_p99_usd", "order size, p99", "USD"),
    Fact("spread_median_ticks", "spread, median", "ticks"),
    Fact("spread_mean_ticks", "spread, mean", "ticks"),
    Fact("ret_std_bps", "1-s return, std", "bps"),
    Fact("ret_kurtosis", "1-s return, excess kurtosis", ""),
    Fact("buy_share", "buy share of orders", ""),
    Fact("trade_sign_ac1", "trade-sign autocorrelation, lag 1", ""),
    Fact("order_sign_ac1", "order-sign autocorrelation, lag 1", ""),
)
FACT_LABELS: Mapping[str, str] = {f.key: f.label for f in FACTS}

_SPREAD_STEP_NS = NS // 10
_RETURN_STEP_NS = NS


def order_groups(trade_ns: np.ndarray, trade_side: np.ndarray) -> np.ndarray:
    """Index of the taker order each print belongs to (same time and side: one order)."""
    change = np.ones(trade_ns.size, dtype=bool)
    change[1:] = (trade_ns[1:] != trade_ns[:-1]) | (trade_side[1:] != trade_side[:-1])
    return np.asarray(np.cumsum(change) - 1, dtype=np.int64)


def _ac1(signs: np.ndarray) -> float:
    if signs.size < 3:
        return float("nan")
    x = signs.astype(np.float64) - signs.mean()
    denom = float((x * x).sum())
    return float((x[1:] * x[:-1]).sum() / denom) if denom > 0 else float("nan")


def _kurtosis(r: np.ndarray) -> float:
    if r.size < 4:
        return float("nan")
    x = r - r.mean()
    var = float((x * x).mean())
    return float((x**4).mean() / var**2 - 3.0) if var > 0 else float("nan")


def stylized_facts(tape: MarketTape, start_ns: int = 0, end_ns: int | None = None
                   ) -> dict[str, float]:
    """The twelve :data:`FACTS` of ``tape`` over ``[start_ns, end_ns)`` (window times)."""
    end = round(tape.duration_s * NS) if end_ns is None else int(end_ns)
    seconds = max((end - start_ns) / NS, 1e-9)
    t0, t1 = np.searchsorted(tape.trade_ns, [start_ns, end], side="left")
    ns, side = tape.trade_ns[t0:t1], tape.trade_side[t0:t1]
    px, qty = tape.trade_px[t0:t1], tape.trade_qty[t0:t1]
    usd = tape.instrument.notional_usd(qty * tape.lot, px * tape.tick)
    group = order_groups(ns, side)
    orders = int(group[-1]) + 1 if group.size else 0
    order_usd = np.bincount(group, weights=usd, minlength=orders)
    first = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    order_side = side[first]

    grid = np.arange(start_ns, end, _SPREAD_STEP_NS, dtype=np.int64)
    at = np.maximum(tape.quote_index(grid), 0)
    spread = (tape.ask_px[at] - tape.bid_px[at]).astype(np.float64)
    step = np.arange(start_ns, end + 1, _RETURN_STEP_NS, dtype=np.int64)
    mid = tape.mid_px[np.maximum(tape.quote_index(step), 0)]
    ret = np.diff(np.log(mid)) * 1e4

    def pct(values: np.ndarray, q: float) -> float:
        return float(np.percentile(values, q)) if values.size else float("nan")

    return {
        "prints_per_s": ns.size / seconds,
        "orders_per_s": orders / seconds,
        "print_median_usd": pct(usd, 50),
        "order_median_usd": pct(order_usd, 50),
        "order_p99_usd": pct(order_usd, 99),
        "spread_median_ticks": pct(spread, 50),
        "spread_mean_ticks": float(spread.mean()) if spread.size else float("nan"),
        "ret_std_bps": float(ret.std()) if ret.size > 1 else float("nan"),
        "ret_kurtosis": _kurtosis(ret),
        "buy_share": float((order_side > 0).mean()) if order_side.size else float("nan"),
        "trade_sign_ac1": _ac1(side),
        "order_sign_ac1": _ac1(order_side),
    }
