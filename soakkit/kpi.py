"""The one definition of every KPI soakkit reports (see ``docs/KPIS.md``).

Sign convention: the edge components are signed P&L contributions in basis points of
the total traded notional (maker + taker), positive = profit. For a fill of quantity
``q`` on side ``s`` (+1 we bought, -1 we sold) at price ``p`` with mid ``m`` at the fill,
mid ``m_h`` one markout horizon later and mid ``m_end`` at the end of the window::

    gross      = s·q·(m − p)           spread captured against the mid at the fill
    adverse    = s·q·(m_h − m)         mid move over the markout horizon after the fill
    inventory  = s·q·(m_end − m_h)     holding the position from the horizon to the end
    fees       = +rebate·q·p (maker), −fee·q·p (taker)

plus, for a position ``q0`` carried in from the previous iteration (opening mid ``m_0``),
``q0·(m_end − m_0)`` in ``inventory``: an iteration pays for the position it was left
(prices through the instrument's value function ``v``: ``v(p) = p`` for spot and linear
contracts; for inverse contracts ``v(p) = −contract_size / p``, every component is in the
coin, and fees are ``rate × notional / p`` coins; :mod:`soakkit.sim.instrument`). Every
money KPI is in USD: an inverse instrument's coin amounts are converted at the window's
final mid, and its notional is contracts × contract size;

so ``net = gross + fees + adverse + inventory`` holds exactly per fill and in total (net
is computed separately from cash flows and the closing mark, and tests check the
identity). Tail KPIs (``adverse_bps_p95``, ``slippage_bps_p95``) are *costs*: positive =
loss, the 95th percentile over fills.

Percentiles: one method everywhere, :data:`PERCENTILE_METHOD` (numpy's ``linear``,
Hyndman–Fan type 7: linear interpolation between the closest ranks), unweighted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from soakkit.config.params import Value

if TYPE_CHECKING:  # the definitions are read without numpy or the simulator (the catalog)
    import numpy as np

    from soakkit.sim.market import MarketTape
    from soakkit.sim.strategy import Fills, StrategyResult

__all__ = ["KPIS", "PERCENTILE_METHOD", "REFERENCE_FIELDS", "KpiSpec", "compute_kpis",
           "inventory_path", "percentile", "with_reference"]

PERCENTILE_METHOD: Literal["linear"] = "linear"


@dataclass(frozen=True)
class KpiSpec:
    """Name, unit, which way is better, and the exact definition of one KPI."""

    name: str
    unit: str
    better: str  # "higher" | "lower" | "n/a"
    definition: str


#: Every KPI in ITER_SUMMARY ``summary``, in report order.
KPIS: Mapping[str, KpiSpec] = {
    k.name: k for k in (
        KpiSpec("net_bps", "bps", "higher",
                "total P&L (cash flows + closing inventory marked at the final mid) / traded "
                "notional × 1e4; equals gross + fees + adverse + inventory"),
        KpiSpec("gross_bps", "bps", "higher", "Σ s·q·(mid at fill − price) / notional × 1e4"),
        KpiSpec("fees_bps", "bps", "higher",
                "(maker rebate on maker notional − taker fee on taker notional) / notional × 1e4"),
        KpiSpec("adverse_bps", "bps", "higher",
                "Σ s·q·(mid after markout_s − mid at fill) / notional × 1e4 (≤ 0 when picked off)"),
        KpiSpec("inventory_bps", "bps", "higher",
                "(Σ s·q·(final mid − mid after markout_s) + carried position × (final mid − "
                "opening mid)) / notional × 1e4"),
        KpiSpec("maker_taker_ratio", "ratio", "higher",
                "maker notional / (maker + taker notional); null without fills"),
        KpiSpec("risk_ratio", "ratio", "lower",
                "p95 over a 1 s grid of |position × mid| / risk_budget_notional"),
        KpiSpec("p95_latency_ms", "ms", "lower",
                "p95 of request latencies (quote updates and taker orders)"),
        KpiSpec("order_age_p95_ms", "ms", "lower",
                "p95 of the lifetime of cancelled orders (live until replaced)"),
        KpiSpec("cancel_ratio", "ratio", "lower",
                "orders cancelled without any fill / orders cancelled"),
        KpiSpec("adverse_bps_p95", "bps", "lower",
                "p95 over fills of the adverse cost −s·(mid after markout − mid)/mid × 1e4"),
        KpiSpec("slippage_bps_p95", "bps", "lower",
                "p95 over fills of the cost s·(price − intended)/mid × 1e4; intended = the "
                "quote the bot would post now (maker) or the touch (taker)"),
        KpiSpec("rejects", "requests", "lower",
                "requests the venue's rate limit rejected (quote updates and taker orders)"),
        KpiSpec("fill_count", "fills", "n/a", "maker + taker fills"),
        KpiSpec("volume_usd", "USD", "n/a", "maker + taker notional"),
        KpiSpec("pnl_usd", "USD", "higher", "total P&L in USD (net_bps × volume_usd / 1e4)"),
        KpiSpec("pnl_per_hour_usd", "USD/h", "higher",
                "pnl_usd per simulated hour (pnl_usd × 3600 / iteration length in s)"),
        KpiSpec("inventory_p95_usd", "USD", "lower",
                "p95 over a 1 s grid of |position × mid|: the inventory at risk"),
        KpiSpec("risk_adjusted_pnl", "ratio", "higher",
                "pnl_usd / inventory_p95_usd: P&L per USD of inventory at risk, per "
                "iteration; null when the inventory at risk is 0"),
        KpiSpec("max_drawdown_usd", "USD", "lower",
                "largest fall of the marked-to-mid P&L (cash + position × mid, on the 1 s "
                "grid and at the end) from its running peak within the iteration"),
        KpiSpec("adverse_cost_usd_p95", "USD", "lower",
                "p95 over fills of the adverse cost in USD −s·q·(mid after markout − mid): "
                "the adverse bps cost weighted by the fill's notional"),
        KpiSpec("slippage_cost_usd_p95", "USD", "lower",
                "p95 over fills of the slippage cost in USD s·q·(price − intended): the "
                "slippage bps cost weighted by the fill's notional"),
        KpiSpec("volume_vs_reference", "ratio", "higher",
                "volume_usd / volume_usd of the gate's reference profile (the built-in "
                "steady_safe) trading the same market window from flat; null when the "
                "reference does not trade"),
    )
}

#: What :func:`with_reference` keeps of the reference profile's run (``summary.reference``).
REFERENCE_FIELDS: tuple[str, ...] = ("pnl_usd", "volume_usd", "fill_count", "net_bps",
                                     "risk_adjusted_pnl", "inventory_p95_usd")


def percentile(values: np.ndarray, q: float = 95.0) -> float | None:
    """The ``q``-th percentile by :data:`PERCENTILE_METHOD`, or ``None`` for no values."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return None
    return float(np.percentile(arr, q, method=PERCENTILE_METHOD))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _max_drawdown(tape: MarketTape, f: Fills, fee_settle: np.ndarray, grid: np.ndarray,
                  grid_mid: np.ndarray, q0: float) -> float:
    """Largest peak-to-trough fall of cash + position × mid (1 s grid, then the end), in USD.

    The position is the carried one plus the running sum of the fills (the same one the
    closing mark of ``pnl_usd`` uses), marked from the opening mid, so the curve starts at
    0 and ends exactly at ``pnl_usd``. Values are in the instrument's settlement currency
    (:mod:`soakkit.sim.instrument`), converted to USD as ``pnl_usd`` is.
    """
    import numpy as np

    value = tape.instrument.value
    cash = np.cumsum(-f.side * f.qty * value(f.price) + fee_settle)
    held = q0 + np.cumsum(f.side * f.qty)
    idx = np.searchsorted(f.t, grid, side="right") - 1
    safe = np.maximum(idx, 0)
    opening = q0 * value(tape.mid_start)
    on_grid = (np.where(idx >= 0, cash[safe] + held[safe] * value(grid_mid),
                        q0 * value(grid_mid)) if f.t.size else q0 * value(grid_mid)) - opening
    end = (float(cash[-1] + held[-1] * value(tape.mid_end)) if f.t.size
           else q0 * value(tape.mid_end)) - opening
    equity = np.concatenate(([0.0], on_grid, [end]))
    drop = float((np.maximum.accumulate(equity) - equity).max())
    return float(tape.instrument.settle_to_usd(drop, tape.mid_end))


def inventory_path(tape: MarketTape, result: StrategyResult, step_s: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid (s), the mid and |position × mid| (USD) on it, every ``step_s`` seconds.

    The position is the carried one plus the fills up to each grid time: the samples
    ``risk_ratio`` and ``inventory_p95_usd`` take their 95th percentile of (``step_s``
    defaults to ``STRATEGY.risk_sample_s``).
    """
    import numpy as np

    from soakkit.sim.regimes import STRATEGY

    f = result.fills
    q0 = result.start.position_lots * tape.lot
    grid = np.arange(0.0, tape.duration_s, STRATEGY.risk_sample_s if step_s is None else step_s)
    idx = np.searchsorted(f.t, grid, side="right") - 1
    held = np.where(idx >= 0, f.position[np.maximum(idx, 0)] if f.t.size else q0, q0)
    grid_mid = tape.mid_at(grid)
    return grid, grid_mid, np.asarray(np.abs(tape.instrument.notional_usd(held, grid_mid)))


def with_reference(kpis: dict[str, Any], reference: Mapping[str, Any]) -> dict[str, Any]:
    """``kpis`` with ``volume_vs_reference`` and ``reference`` from the gate's reference run.

    ``reference`` are the KPIs of the gate's reference profile on the same market window
    (:func:`compute_kpis` of that run): a property of the market, the same for every run
    on it. The result carries ``volume_vs_reference`` (the gate's activity floor) and
    ``reference`` (:data:`REFERENCE_FIELDS` of that run).
    """
    volume = float(reference["volume_usd"])
    out = dict(kpis)
    out["volume_vs_reference"] = float(kpis["volume_usd"]) / volume if volume > 0 else None
    out["reference"] = {k: reference.get(k) for k in REFERENCE_FIELDS}
    return out


def compute_kpis(tape: MarketTape, result: StrategyResult,
                 params: Mapping[str, Value]) -> dict[str, Any]:
    """Every KPI of one iteration, from the market and what the strategy did.

    All of :data:`KPIS` but ``volume_vs_reference``, which needs the gate's reference run
    (:func:`with_reference` adds it).
    """
    import numpy as np

    from soakkit.sim.regimes import MARKET

    f = result.fills
    inst = tape.instrument
    value = inst.value  # settlement-currency value of one unit of position at a price

    def usd(amount: Any) -> Any:  # settlement currency → USD (inverse: the coin at the end)
        return inst.settle_to_usd(amount, tape.mid_end)

    notional = inst.notional_usd(f.qty, f.price)
    volume = float(notional.sum())
    m_h = tape.mid_at(f.t + MARKET.markout_s)
    m_h = np.where(f.t + MARKET.markout_s >= tape.duration_s, tape.mid_end, m_h)
    v_fill, v_mid, v_h = value(f.price), value(f.mid), value(m_h)
    gross = float(usd((f.side * f.qty * (v_mid - v_fill)).sum()))
    adverse = float(usd((f.side * f.qty * (v_h - v_mid)).sum()))
    inventory = float(usd((f.side * f.qty * (value(tape.mid_end) - v_h)).sum()))
    fee_rate = np.where(f.taker, -MARKET.taker_fee_bps, MARKET.maker_rebate_bps)
    fee_settle = fee_rate * notional / 1e4 / (f.price if inst.inverse else 1.0)
    fees = float(usd(fee_settle.sum()))
    q0 = result.start.position_lots * tape.lot  # carried in, marked from the opening mid
    carried = q0 * (value(tape.mid_end) - value(tape.mid_start))
    inventory += float(usd(carried))
    cash = float(-(f.side * f.qty * v_fill).sum()) + float(fee_settle.sum())
    closing = float((f.side * f.qty).sum()) * value(tape.mid_end)
    pnl = float(usd(cash + closing + carried))

    def bps(x: float) -> float:
        return x / volume * 1e4 if volume > 0 else 0.0

    maker_volume = float(notional[~f.taker].sum())
    taker_volume = float(notional[f.taker].sum())

    grid, grid_mid, exposure = inventory_path(tape, result)
    inventory_usd = percentile(exposure) or 0.0

    adverse_cost = -f.side * (v_h - v_mid) / np.abs(v_mid) * 1e4
    slippage_cost = f.side * (v_fill - value(f.intended)) / np.abs(v_mid) * 1e4
    cancelled_unfilled = float((~result.order_filled).sum())
    return {
        "net_bps": bps(pnl),
        "gross_bps": bps(gross),
        "fees_bps": bps(fees),
        "adverse_bps": bps(adverse),
        "inventory_bps": bps(inventory),
        "maker_taker_ratio": _ratio(maker_volume, maker_volume + taker_volume),
        "risk_ratio": inventory_usd / float(params["risk_budget_notional"]),
        "p95_latency_ms": percentile(result.latencies_ms),
        "order_age_p95_ms": percentile(result.order_lifetimes_ms),
        "cancel_ratio": _ratio(cancelled_unfilled, float(result.order_filled.size)),
        "adverse_bps_p95": percentile(adverse_cost),
        "slippage_bps_p95": percentile(slippage_cost),
        "rejects": int(result.rejects),
        "fill_count": int(f.t.size),
        "volume_usd": volume,
        "pnl_usd": pnl,
        "pnl_per_hour_usd": pnl * 3600.0 / tape.duration_s,
        "inventory_p95_usd": inventory_usd,
        "risk_adjusted_pnl": pnl / inventory_usd if inventory_usd > 0 else None,
        "max_drawdown_usd": _max_drawdown(tape, f, fee_settle, grid, grid_mid, q0),
        "adverse_cost_usd_p95": percentile(usd(-f.side * f.qty * (v_h - v_mid))),
        "slippage_cost_usd_p95": percentile(usd(f.side * f.qty * (v_fill - value(f.intended)))),
        "fills": {
            "maker_count": int((~f.taker).sum()),
            "taker_count": int(f.taker.sum()),
            "maker_volume": maker_volume,
            "taker_volume": taker_volume,
        },
        "activity": {
            "market_events": tape.events,
            "quote_updates": result.requotes,
            "dropped_requotes": result.dropped_requotes,
            "unloads": result.unloads,
            "orders_placed": result.orders_placed,
            "fill_probability": _ratio(float(result.orders_filled), float(result.orders_placed)),
            "post_only_expired": result.post_only_expired,
            "market_share": result.market_share,
            "queue_ahead_usd_p50": result.queue_ahead_usd_p50,
            "bursts": tape.bursts,
            "jumps": tape.jumps,
        },
    }

