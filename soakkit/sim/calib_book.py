"""Calibration of the synthetic book (:mod:`soakkit.sim.lob`) from a tape's best quotes.

Every measure comes from the quote rows of the minutes given (a regime's minutes of the
calibration window), in USD at the window's opening mid, as the generator sizes them:

* the usual spread: the median spread on a 10-ms grid (``half_spread_bps`` is half of it);
* levels that **go** (the best bid falls, the best ask rises) and levels that **improve**
  (the reverse): their rates; the share that went with a trade at their price within 5 ms
  (``sweep_share``); the spacing of levels near the best (``gap_bps``: the mean jump when
  a level went *without* a trade, which reveals exactly the next level; jumps are
  exponential on real captures) and the mean jump when one went with a trade (a sweep may
  walk several levels); the depth an improving level shows and the depth of the level
  behind the best (shown when the best went without a trade: a sweep's leftovers would
  understate it), each a split lognormal (:func:`~soakkit.sim.sizes.fit_size_law`); the
  median depth the best shows;
* the other makers' adds and cancels: changes of the best quantity at an unchanged price,
  on rows that are not at a trade's time (those are the trades' own updates): rate per
  side, the cancels' share, the adds' size and the share of the level each cancel took
  (as ``−log(1 − share)``), each a split lognormal;
* how a widened spread closes: ``follow_share`` = episodes closed by the other side moving
  up to the move, over those closed by the same side coming back; ``improve_rate_per_s``
  by the method of moments: the time-weighted excess spread over the usual one equals
  (levels gone per second × mean gap) / improvement rate, so the mean spread is the tape's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.sizes import SizeLaw, fit_size_law
from soakkit.sim.tape import NS, MarketTape

__all__ = ["BookFit", "best_depth_usd", "fit_book"]

_GRID_NS = NS // 100
_Z25 = 0.6744897501960817


def best_depth_usd(tape: MarketTape, usd_per_lot: float, rows: np.ndarray | None = None
                   ) -> float:
    """Median depth shown at the best (both sides' mean), time-weighted on a 10-ms grid,
    over the selected quote rows (all by default)."""
    grid = np.arange(0, round(tape.duration_s * NS), _GRID_NS, dtype=np.int64)
    at = np.maximum(tape.quote_index(grid), 0)
    if rows is not None:
        at = at[rows[at]]
    if at.size == 0:
        return float("nan")
    return float(np.median(0.5 * (tape.bid_qty + tape.ask_qty)[at])) * usd_per_lot


def _median_sigma(values: np.ndarray, default: tuple[float, float]) -> tuple[float, float]:
    """Median and lognormal sigma (from the interquartile range) of positive ``values``."""
    x = values[values > 0]
    if x.size < 3:
        return (float(np.median(x)) if x.size else default[0]), default[1]
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    return float(q50), float(np.log(q75 / q25) / (2 * _Z25)) if q25 > 0 else default[1]


@dataclass(frozen=True)
class BookFit:
    """What the book's best levels did over the minutes measured."""

    half_spread_bps: float
    gap_bps: float  #: mean jump when a level goes without a trade: the spacing of levels
    sweep_jump_bps: float  #: mean jump when a level goes with a trade at its price
    depth: SizeLaw  #: improving levels
    deep: SizeLaw  #: levels behind the best (shown when the best one goes)
    book_rate_per_s: float
    cancel_share: float
    add: SizeLaw  #: an add's size (USD)
    cancel_keep: SizeLaw  #: -log(1 - share a cancel takes)
    follow_share: float
    improve_rate_per_s: float
    best_depth_usd: float  #: median depth shown at the best (10-ms grid, both sides)
    losses_per_s: float  #: levels gone per second and side (what fades make up to)
    sweep_share: float  #: share of levels gone with a trade at their price within 5 ms


def fit_book(tape: MarketTape, rows: np.ndarray, seconds: float, mid0: float,
             usd_per_lot: float) -> BookFit:
    """Fit the book's constants on quote rows ``rows`` (a bool mask over rows; the change
    from row ``i − 1`` to row ``i`` counts where row ``i`` is selected), over ``seconds``."""
    tick_bps = tape.tick / mid0 * 1e4
    sel = rows.copy()
    sel[0] = False
    i = np.flatnonzero(sel)
    at_trade = np.isin(tape.quote_ns[i], tape.trade_ns)
    spread = (tape.ask_px - tape.bid_px).astype(np.float64)
    grid = np.arange(0, round(tape.duration_s * NS), _GRID_NS, dtype=np.int64)
    g_row = np.maximum(tape.quote_index(grid), 0)
    g_in = rows[g_row] | rows[np.minimum(g_row + 1, rows.size - 1)]
    usual = float(np.median(spread[g_row[g_in]])) if g_in.any() else float(np.median(spread))
    excess = float(np.maximum(spread[g_row[g_in]] - usual, 0.0).mean()) if g_in.any() else 0.0

    gone, improved, gaps, adds, cancels, traded = [], [], [], [], [], []
    for px, qty, away in ((tape.bid_px, tape.bid_qty, -1), (tape.ask_px, tape.ask_qty, 1)):
        d = px[i] - px[i - 1]
        lost, gained, same = i[d * away > 0], i[d * away < 0], i[d == 0]
        gaps.append(np.abs(px[lost] - px[lost - 1]) * tick_bps)
        gone.append(qty[lost] * usd_per_lot)
        improved.append(qty[gained] * usd_per_lot)
        traded.append(_traded_out(tape, lost, px, away))
        dq = (qty[same] - qty[same - 1]) * usd_per_lot
        quiet = ~at_trade[d == 0]
        adds.append(dq[quiet & (dq > 0)])
        cut = quiet & (dq < 0)
        cancels.append(-np.log1p(dq[cut] / (qty[same - 1][cut] * usd_per_lot)))
    gap = np.concatenate(gaps)
    n_lost = gap.size
    out = np.concatenate(traded)
    revealed, fresh = np.concatenate(gone), np.concatenate(improved)
    whole = revealed[~out] if (~out).sum() >= 20 else revealed  # not cut down by a sweep
    deep = _law(whole, SizeLaw(usd_per_lot, 0.5, 0.5))
    spacing = gap[~out] if (~out).sum() >= 20 else gap
    swept = gap[out] if out.any() else gap
    shallow = _law(fresh, deep)
    add, cancel = np.concatenate(adds), np.concatenate(cancels)
    cancel = cancel[np.isfinite(cancel)]
    losses = n_lost / max(seconds, 1e-9)
    mean_gap_ticks = float(gap.mean()) / tick_bps if n_lost else 1.0
    improve = losses * mean_gap_ticks / excess if excess > 0 else 1_000.0
    return BookFit(
        half_spread_bps=usual * tick_bps / 2.0,
        gap_bps=float(spacing.mean()) if spacing.size else tick_bps,
        sweep_jump_bps=float(swept.mean()) if swept.size else tick_bps,
        depth=shallow, deep=deep,
        book_rate_per_s=(add.size + cancel.size) / max(seconds, 1e-9) / 2.0,
        cancel_share=cancel.size / max(add.size + cancel.size, 1),
        add=_law(add, deep), cancel_keep=_law(cancel, SizeLaw(0.1, 1.0, 1.0)),
        follow_share=_follow_share(tape, sel, usual),
        improve_rate_per_s=float(np.clip(improve, 0.05, 1_000.0)),
        best_depth_usd=best_depth_usd(tape, usd_per_lot, rows),
        losses_per_s=losses / 2.0, sweep_share=float(out.mean()) if out.size else 0.0)


def _traded_out(tape: MarketTape, lost: np.ndarray, px: np.ndarray, away: int) -> np.ndarray:
    """Which of the levels lost at rows ``lost`` printed at their price within 5 ms."""
    side = 1 if away > 0 else -1  # an ask goes up when buyers take it
    mine = tape.trade_side == side
    t_ns, t_px = tape.trade_ns[mine], tape.trade_px[mine]
    end = tape.quote_ns[lost]
    lo = np.searchsorted(t_ns, end - 5_000_000, side="left")
    hi = np.searchsorted(t_ns, end, side="right")
    level = px[lost - 1]
    hits = np.zeros(lost.size, dtype=bool)
    for k, (a, b, p) in enumerate(zip(lo.tolist(), hi.tolist(), level.tolist(), strict=True)):
        hits[k] = b > a and bool((t_px[a:b] == p).any())
    return hits


def _follow_share(tape: MarketTape, sel: np.ndarray, usual: float) -> float:
    """Share of widened-spread episodes closed by the other side following the move."""
    spread = tape.ask_px - tape.bid_px
    wide = spread > usual
    begin = np.flatnonzero(wide[1:] & ~wide[:-1] & sel[1:]) + 1
    close = np.flatnonzero(~wide[1:] & wide[:-1]) + 1
    k = np.searchsorted(close, begin)
    ok = k < close.size
    b, c = begin[ok], close[k[ok]]
    ask_away = tape.ask_px[b] > tape.ask_px[b - 1]
    bid_away = tape.bid_px[b] < tape.bid_px[b - 1]
    bid_in = tape.bid_px[c] > tape.bid_px[c - 1]
    ask_in = tape.ask_px[c] < tape.ask_px[c - 1]
    follow = int(((ask_away & bid_in) | (bid_away & ask_in)).sum())
    back = int(((ask_away & ask_in) | (bid_away & bid_in)).sum())
    return (follow + 1.0) / (follow + back + 2.0)  # Laplace's rule: never exactly 0 or 1


def _law(values: np.ndarray, default: SizeLaw) -> SizeLaw:
    """The size law of positive ``values`` without a tail (``default`` with few values)."""
    x = values[values > 0]
    return fit_size_law(x, tail=False) if x.size >= 5 else default
