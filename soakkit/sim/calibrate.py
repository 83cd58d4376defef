"""``soakkit calibrate``: fit the synthetic market's constants to a recorded tape.

The calibration **window** (whole minutes of the tape; all of it by default) is labelled
minute by minute (:func:`soakkit.sim.replay.label_minutes`), and each regime the window
shows is fitted on the minutes that carry its label:

* the order flow (:mod:`soakkit.sim.calib_flow`): taker orders' rate and heavy-tailed
  sizes, metaorders by simulated moments of the order signs' autocorrelation, maker order
  sizes from the prints per order;
* the book (:mod:`soakkit.sim.calib_book`): the usual spread, the gaps and depths of levels
  that go and that improve, the other makers' adds and cancels, how a widened spread
  closes; then the rate at which whole levels fade, by simulation: what the fitted market's
  own flow does not take away of the levels the tape saw go;
* jumps (:mod:`soakkit.sim.calib_jumps`): the posterior-mean rate (never 0 once a jump was
  seen) and the mean size, each with a 90 % interval.

Regime switching is fitted among the regimes the window showed only, and ``mixed`` (the
default mode of ``soak --market NAME``) stays in them. A regime it never showed is derived
from the nearest one it did by the built-in market's ratios (only used when asked for by
name, ``--mode``); ``fit`` says which. Sizes are in USD at the window's opening mid, as the
generator sizes them; the price grid, instrument (kind, contract size) and opening mid are
the tape's; the venue's latency is measured on the window: activity 1 at its median
messages per second, and where the tape has receive times the load response and feed
latency (:mod:`soakkit.sim.feed`). ``fit.quoting`` is what the model strategies start
from on this market: the mid's volatility and the order-arrival intensity ``A·exp(−κδ)``
(:func:`soakkit.sim.intensity.fit_prior`), on the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.core.errors import UsageError
from soakkit.core.io import atomic_write_json
from soakkit.core.json_strict import load_json_file
from soakkit.sim.bookspec import BOOK_REGIMES, BookSpec
from soakkit.sim.calib_book import BookFit, fit_book
from soakkit.sim.calib_flow import FlowFit, fit_flow, large_order_reach
from soakkit.sim.calib_jumps import JumpFit, fit_jumps, fit_transitions
from soakkit.sim.facts import order_groups
from soakkit.sim.feed import fit_load
from soakkit.sim.instrument import KINDS, Instrument
from soakkit.sim.intensity import fit_prior
from soakkit.sim.regimes import (
    DEFAULT_MARKET,
    LATENCY,
    REGIME_NAMES,
    MarketProfile,
    RegimeSpec,
)
from soakkit.sim.replay import label_minutes, replay_span
from soakkit.sim.tape import NS, MarketTape
from soakkit.sim.tapefile import RecordedTape

__all__ = ["PROFILE_SCHEMA", "calibrate", "read_market_profile", "write_market_profile"]

#: market profile format written: 2, order-book regimes (:class:`BookSpec`); schema 1
#: (classic :class:`RegimeSpec` regimes, the generator before the order book) is still read
PROFILE_SCHEMA = 2
_FADE_MINUTES = 12  #: simulated minutes per step
_LEVEL_ROUNDS = 8  #: rounds of the levels' simulated-moments fit
_GROWTH_FROM = 3  #: the round from which it fits walk_growth (the rest has settled)
_FADE_SEED = 20_240_808
_MAX_GROWTH = 4.0  #: bound of the fitted growth of depth with a sweep's distance
_MAX_STEP = 0.15  #: largest change of 1 / (1 + walk_growth) in one round
_DAMP = 0.5  #: share of each step the levels' fit takes (its moments move together)


def _spec(flow: FlowFit, book: BookFit, jumps: JumpFit | None, fade: float) -> BookSpec:
    size = flow.size
    walk = flow.walk or book.deep
    return BookSpec(
        order_rate_per_s=flow.order_rate_per_s, order_median_usd=size.median,
        order_size_sigma=size.sigma_lo, order_sigma_hi=size.sigma_hi,
        order_tail_alpha=size.tail_alpha, meta_len_alpha=flow.meta_len_alpha,
        meta_gap_s=flow.meta_gap_s, maker_median_usd=flow.maker_median_usd,
        maker_size_sigma=flow.maker_size_sigma, half_spread_bps=book.half_spread_bps,
        depth_usd=book.depth.median, depth_sigma_lo=book.depth.sigma_lo,
        depth_sigma_hi=book.depth.sigma_hi, deep_depth_usd=book.deep.median,
        deep_sigma_lo=book.deep.sigma_lo, deep_sigma_hi=book.deep.sigma_hi,
        book_rate_per_s=book.book_rate_per_s,
        cancel_share=book.cancel_share, add_median_usd=book.add.median,
        add_sigma_lo=book.add.sigma_lo, add_sigma_hi=book.add.sigma_hi,
        cancel_frac_median=float(-np.expm1(-book.cancel_keep.median)),
        cancel_frac_sigma_lo=book.cancel_keep.sigma_lo,
        cancel_frac_sigma_hi=book.cancel_keep.sigma_hi, gap_bps=book.gap_bps,
        walk_depth_usd=walk.median, walk_sigma_lo=walk.sigma_lo, walk_sigma_hi=walk.sigma_hi,
        walk_gap_bps=flow.walk_gap_bps or book.gap_bps,
        fade_rate_per_s=fade, trade_fade_share=0.0,
        improve_rate_per_s=book.improve_rate_per_s,
        follow_share=book.follow_share,
        jump_rate_per_min=jumps.rate_per_min if jumps else 0.0,
        jump_bps=jumps.size_bps if jumps else 0.0)


def _losses_per_side(tape: MarketTape) -> float:
    """Best levels gone per second and side in a generated tape."""
    lost = int((np.diff(tape.bid_px) < 0).sum() + (np.diff(tape.ask_px) > 0).sum())
    return lost / max(tape.duration_s, 1e-9) / 2.0


def _fit_levels(spec: BookSpec, regime: str, book: BookFit, flow: FlowFit,
                base: MarketProfile) -> tuple[BookSpec, dict[str, float | None]]:
    """How levels go, by simulated moments (common random numbers, ``_LEVEL_ROUNDS`` rounds).

    Three constants, three of the tape's measures: the rate of **fades** (levels pulled
    whole) for the rate at which levels went; the share of taker orders **after which**
    their level is pulled (makers withdrawing behind a trade) for the share of levels that
    went with a trade at their price, beyond what the market's own sweeps give; and how
    the depth of the levels a sweep walks **grows with distance** (``walk_growth``: the
    k-th holds k^growth times the first one's depth, measured on the tape) for how far the
    large orders reach (:func:`~soakkit.sim.calib_flow.large_order_reach`: about (size /
    depth)^(1/(1 + growth)) levels). That moment is the noisiest (a few of the largest
    orders weigh most): the growth is fitted from round ``_GROWTH_FROM`` on, when the rest
    has settled, and the round that came closest wins. Returns the spec and what it
    reached.
    """
    from soakkit.sim.market import simulate_market

    usd_lot = float(Instrument(base.tick, base.lot, base.kind, base.contract_size)
                    .usd_per_lot(base.mid0))
    takers_per_side = max(flow.order_rate_per_s / 2.0, 1e-9)
    fade = book.losses_per_s * (1.0 - book.sweep_share)
    pulled, growth = 0.0, 0.0
    got: BookFit | None = None
    last: tuple[float, float] | None = None  # the previous (1 / (1 + growth), miss)
    best = (np.inf, 0.0, float("nan"))  # the round closest to the tape's reach: |miss|,
    # its growth, its reach
    for round_no in range(_LEVEL_ROUNDS):
        trial = replace(spec, fade_rate_per_s=fade, trade_fade_share=pulled,
                        walk_growth=growth)
        regimes = {r: trial if r == regime else BOOK_REGIMES[r] for r in REGIME_NAMES}
        market = replace(base, regimes=regimes, seen=(regime,))
        tape = simulate_market(regime, _FADE_MINUTES, np.random.default_rng(_FADE_SEED),
                               market)
        got = fit_book(tape, np.ones(tape.quote_ns.size, dtype=bool), tape.duration_s,
                       base.mid0, usd_lot)
        want_traded = book.losses_per_s * book.sweep_share
        have_traded = got.losses_per_s * got.sweep_share
        pulled = float(np.clip(pulled + _DAMP * (want_traded - have_traded) / takers_per_side,
                               0, 1))
        fade = max(0.0, fade + _DAMP * (book.losses_per_s * (1.0 - book.sweep_share)
                                        - got.losses_per_s * (1.0 - got.sweep_share)))
        reach = large_order_reach(order_groups(tape.trade_ns, tape.trade_side),
                                  tape.trade_px, tape.trade_qty)[0]
        if round_no >= _GROWTH_FROM and reach > 0 and flow.large_reach_ticks > 0:
            miss = float(np.log(reach / flow.large_reach_ticks))
            best = min(best, (abs(miss), growth, reach))
            growth, last = _next_growth(growth, miss, last, flow.large_usd
                                        / spec.walk_depth_usd)
    reached = {} if got is None else {
        "levels_gone_per_s": round(got.losses_per_s, 4),
        "levels_gone_traded_out": round(got.sweep_share, 4),
        "sweep_jump_bps": round(got.sweep_jump_bps, 6),
        "best_depth_usd": round(got.best_depth_usd, 2),
        "large_reach_ticks": round(best[2], 4) if np.isfinite(best[2]) else None}
    return replace(spec, fade_rate_per_s=fade, trade_fade_share=pulled,
                   walk_growth=best[1]), reached


def _next_growth(growth: float, miss: float, last: tuple[float, float] | None,
                 levels: float) -> tuple[float, tuple[float, float]]:
    """The next ``walk_growth`` of the levels' fit, and the point it was reached from.

    Works on ``x = 1 / (1 + growth)`` (a reach of about levels^x): a secant step from the
    previous round's ``(x, miss)`` where the two rounds' misses (log of the reach over the
    tape's) differ the right way, else a first step ``−miss / log(levels)``; at most
    ``_MAX_STEP`` either way (a reach of a few large orders is noisy)."""
    x = 1.0 / (1.0 + growth)
    step = -miss / np.log(max(levels, math.e))
    if last is not None and x != last[0] and (miss - last[1]) / (x - last[0]) > 0:
        step = -miss * (x - last[0]) / (miss - last[1])
    low = 1.0 / (1.0 + _MAX_GROWTH)
    nxt = float(np.clip(x + np.clip(step, -_MAX_STEP, _MAX_STEP), low, 1.0))
    return 1.0 / nxt - 1.0, (x, miss)


def _derived(spec: BookSpec, source: str, target: str) -> BookSpec:
    """``target``'s constants from an observed regime ``source`` by the built-in ratios."""
    a, b = BOOK_REGIMES[source], BOOK_REGIMES[target]
    out = {}
    for f in fields(BookSpec):
        have, x, y = getattr(spec, f.name), getattr(a, f.name), getattr(b, f.name)
        out[f.name] = have * y / x if x > 0 else y
    for share in ("cancel_share", "follow_share"):
        out[share] = min(out[share], 0.95)
    return BookSpec(**out)


def _nearest(seen: tuple[str, ...], regime: str) -> str:
    """The observed regime nearest ``regime`` in :data:`REGIME_NAMES` order (calmer on ties)."""
    at = REGIME_NAMES.index(regime)
    return min(seen, key=lambda r: (abs(REGIME_NAMES.index(r) - at), REGIME_NAMES.index(r)))


def calibrate(tape: RecordedTape, name: str, window: tuple[int, int] | None = None
              ) -> MarketProfile:
    """A market profile named ``name`` fitted to ``tape`` (see the module docstring);
    ``window`` = (first minute, end minute) of the tape to fit on, default all of it."""
    whole = int((tape.end_ns - tape.start_ns) // (60 * NS))
    first, end = window if window is not None else (0, whole)
    if not 0 <= first < end <= whole:
        raise UsageError(f"{tape.path}: the tape covers {whole} whole minute(s); calibration "
                         f"window {first}:{end} is not inside it (it needs at least one)")
    start = tape.start_ns + first * 60 * NS
    span = replay_span(tape, start, tape.start_ns + end * 60 * NS)
    minutes = end - first
    mid0 = float(span.mid_px[0])
    usd_lot = float(tape.instrument.usd_per_lot(mid0))
    stats = label_minutes(span.quote_ns, span.mid_px, 0, minutes)
    q_min = np.minimum(span.quote_ns // (60 * NS), minutes - 1)
    t_min = np.minimum(span.trade_ns // (60 * NS), minutes - 1)
    base = replace(DEFAULT_MARKET, regimes=BOOK_REGIMES, mid0=mid0, tick=tape.tick, lot=tape.lot,
                   kind=tape.instrument.kind, contract_size=tape.instrument.contract_size)
    regimes: dict[str, BookSpec] = {}
    observed: dict[str, int] = {}
    diagnostics: dict[str, Any] = {}
    jump_fit: JumpFit | None = None
    for idx, regime in enumerate(REGIME_NAMES):
        mins = np.flatnonzero(stats.labels == idx)
        observed[regime] = int(mins.size)
        prints = np.isin(t_min, mins)
        if mins.size == 0 or not prints.any():
            continue
        secs = float(mins.size * 60)
        flow = fit_flow(span, prints, secs, usd_lot, tape.tick / mid0 * 1e4)
        book = fit_book(span, np.isin(q_min, mins), secs, mid0, usd_lot)
        if regime == "spike":
            owner = np.repeat(np.arange(minutes), stats.jumps)
            jump_fit = fit_jumps(stats.jumps[mins], stats.jump_bps - stats.threshold[owner],
                                 stats.threshold[owner])
        spec = _spec(flow, book, jump_fit if regime == "spike" else None, 0.0)
        regimes[regime], reached = _fit_levels(spec, regime, book, flow, base)
        diagnostics[regime] = {
            "orders": flow.orders, "order_sign_acf": [round(x, 4) for x in flow.sign_acf],
            "order_burst_p99": round(flow.burst, 4),
            "large_reach_ticks": round(flow.large_reach_ticks, 4)
            if np.isfinite(flow.large_reach_ticks) else None,
            "levels_gone_per_s": round(book.losses_per_s, 4),
            "levels_gone_traded_out": round(book.sweep_share, 4),
            "sweep_jump_bps": round(book.sweep_jump_bps, 6),
            "best_depth_usd": round(book.best_depth_usd, 2), "fitted_market": reached}
    seen = tuple(r for r in REGIME_NAMES if r in regimes)
    if not seen:
        raise UsageError(f"{tape.path}: no taker orders in calibration window "
                         f"{first}:{end}; nothing to fit")
    for regime in REGIME_NAMES:
        if regime not in regimes:
            source = _nearest(seen, regime)
            regimes[regime] = _derived(regimes[source], source, regime)
    load = _window_load(tape, start, tape.start_ns + end * 60 * NS)
    latency = replace(tape.latency, activity_ref_per_s=load.ref_per_s)
    if load.gain is not None:
        latency = replace(latency, activity_gain=load.gain)
    if load.base_ms:
        latency = replace(latency, feed_ms=load.base_ms)
    quoting = fit_prior(tape.trade_ns, tape.trade_side, tape.trade_px, tape.quote_ns,
                        tape.bid_px, tape.ask_px, start, tape.start_ns + end * 60 * NS)
    return MarketProfile(
        name=name, regimes=regimes, transitions=fit_transitions(stats.labels), mid0=mid0,
        tick=tape.tick, lot=tape.lot, source=str(tape.path),
        fit={"minutes": minutes, "window_minutes": [first, end],
             "observed_minutes": observed, "seen": list(seen),
             "derived": {r: "from " + _nearest(seen, r) for r in REGIME_NAMES
                         if r not in seen},
             "orders": int(t_min.size and sum(d["orders"] for d in diagnostics.values())),
             "jumps": int(stats.jumps.sum()),
             "jump_fit": jump_fit.to_json() if jump_fit else None,
             "regimes": diagnostics, "load": load.to_json(),
             **({"quoting": quoting} if quoting else {})},
        kind=tape.instrument.kind, contract_size=tape.instrument.contract_size,
        latency=latency, seen=seen)


def _window_load(tape: RecordedTape, start: int, end: int) -> Any:
    """The load fit (:func:`soakkit.sim.feed.fit_load`) over ``[start, end)`` only."""
    if tape.trade_local_ns is None:
        return fit_load(tape.message_ns, start, end)
    ns, local = [tape.trade_ns], [tape.trade_local_ns]
    if tape.quote_local_ns is not None and not tape.provenance.get("estimated_quote_times"):
        ns.append(tape.quote_ns)
        local.append(tape.quote_local_ns)
    timed = np.concatenate(ns)
    return fit_load(tape.message_ns, start, end, timed, np.concatenate(local) - timed)


#: the regime constants of each schema (1: classic, 2: order book)
_SPECS: Mapping[int, type[RegimeSpec] | type[BookSpec]] = {1: RegimeSpec, 2: BookSpec}
#: fields a profile may lack, by schema: schema 1 profiles written before L2 tapes lack
#: ``deep_depth_usd``, schema 2 profiles written before the depth profile of sweeps lack
#: ``walk_growth`` (the spec's default, every walked level alike, is what they ran)
_OPTIONAL_FIELDS: Mapping[int, tuple[str, ...]] = {1: ("deep_depth_usd",),
                                                   2: ("walk_growth",)}
#: the latency constants a calibrated profile carries (the rest are the venue's defaults)
_LATENCY_FITTED = ("activity_ref_per_s", "activity_gain", "feed_ms")


def write_market_profile(path: Path, profile: MarketProfile, *,
                         mtime: float | None = None) -> Path:
    """Write ``profile`` as JSON (the format :func:`read_market_profile` reads)."""
    schema = 2 if profile.order_book else 1
    names = [f.name for f in fields(_SPECS[schema])]
    doc = {"schema_version": schema, "name": profile.name, "source": profile.source,
           "mid0": profile.mid0, "tick": profile.tick, "lot": profile.lot,
           "kind": profile.kind, "contract_size": profile.contract_size,
           "latency": {f: getattr(profile.latency, f) for f in _LATENCY_FITTED},
           "transitions": [list(row) for row in profile.transitions],
           "seen": list(profile.seen),
           "regimes": {r: {f: getattr(profile.regimes[r], f) for f in names}
                       for r in REGIME_NAMES},
           "fit": dict(profile.fit)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, doc, mtime=mtime)
    return path


def _number(doc: Mapping[str, Any], key: str, path: Path, where: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) \
            or value < 0:
        raise UsageError(f"{path}: {where}{key}: expected a number >= 0, got {value!r}")
    return float(value)


def read_market_profile(path: Path) -> MarketProfile:
    """Read a market profile written by ``soakkit calibrate`` (one-line errors)."""
    doc = load_json_file(path)
    schema = doc.get("schema_version", 1)
    if isinstance(schema, bool) or schema not in _SPECS:
        raise UsageError(f"{path}: schema_version: expected one of "
                         f"{', '.join(map(str, _SPECS))}, got {schema!r}")
    spec_type = _SPECS[schema]
    regimes = doc.get("regimes")
    if not isinstance(regimes, dict) or set(regimes) != set(REGIME_NAMES):
        raise UsageError(f"{path}: regimes: expected an object with {', '.join(REGIME_NAMES)}")
    specs: dict[str, Any] = {}
    for r in REGIME_NAMES:
        if not isinstance(regimes[r], dict):
            raise UsageError(f"{path}: regimes.{r}: expected an object")
        specs[r] = spec_type(**{f.name: _number(regimes[r], f.name, path, f"regimes.{r}.")
                                for f in fields(spec_type)
                                if f.name not in _OPTIONAL_FIELDS[schema]
                                or f.name in regimes[r]})
    rows = doc.get("transitions")
    numbers = isinstance(rows, list) and all(
        isinstance(row, list) and len(row) == 3 and all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in row) for row in rows)
    matrix = np.asarray(rows, dtype=np.float64) if numbers else np.zeros(0)
    if matrix.shape != (3, 3) or (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1):
        raise UsageError(f"{path}: transitions: expected 3 rows of 3 probabilities summing to 1")
    for key in ("mid0", "tick", "lot"):
        if _number(doc, key, path, "") <= 0:
            raise UsageError(f"{path}: {key}: expected a number > 0")
    kind = doc.get("kind", "linear")
    if kind not in KINDS:
        raise UsageError(f"{path}: kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    size = _number(doc, "contract_size", path, "") if "contract_size" in doc else 1.0
    if size <= 0:
        raise UsageError(f"{path}: contract_size: expected a number > 0")
    latency = doc.get("latency", {})
    if not isinstance(latency, dict) or set(latency) - set(_LATENCY_FITTED):
        raise UsageError(f"{path}: latency: expected an object with at most "
                         f"{', '.join(_LATENCY_FITTED)}")
    fitted: dict[str, Any] = {k: _number(latency, k, path, "latency.") for k in latency}
    seen = doc.get("seen", list(REGIME_NAMES))
    if not isinstance(seen, list) or not seen or not set(seen) <= set(REGIME_NAMES):
        raise UsageError(f"{path}: seen: expected a list of regimes ({', '.join(REGIME_NAMES)})")
    if fitted.get("activity_ref_per_s", 1.0) <= 0:
        raise UsageError(f"{path}: latency.activity_ref_per_s: expected a number > 0")
    return MarketProfile(
        name=str(doc.get("name", path.stem)), regimes=specs,
        transitions=tuple(tuple(float(x) for x in row) for row in matrix),
        mid0=float(doc["mid0"]), tick=float(doc["tick"]), lot=float(doc["lot"]),
        source=str(doc.get("source", "")),
        fit=dict(fit) if isinstance(fit := doc.get("fit"), dict) else {},
        kind=str(kind), contract_size=size, latency=replace(LATENCY, **fitted),
        seen=tuple(r for r in REGIME_NAMES if r in seen))
