"""``soakkit calibrate``: fit the synthetic market's constants to a recorded tape.

Each minute of the tape is labelled (:func:`soakkit.sim.replay.label_minutes`); the
constants of a regime are fitted on the minutes that carry its label:

* market orders (prints at one time on one side are one order): arrival rate, lognormal
  median and sigma of the notional (robust: median and IQR / 1.349); notionals and depths
  are valued at the tape's opening mid, as the generator sizes them;
* the best quotes: median half-spread on a 1-s grid, median depth of a new best level,
  other makers' updates per second and side (quote rows without a trade at that time);
  on an L2 tape, the median depth of the levels behind the best (where sweeps walk);
* the mid: square-root impact by least squares of 1-s returns on signed √(notional / 10k),
  and the diffusion's volatility from the residuals (bounce-corrected);
* bursts: the share of time in bursts from the excess variance of 1-s order imbalance
  (side share and length taken from the default regime), hence their rate;
* jumps: a minute with a jump is a spike minute, so the jump rate is the zero-truncated
  Poisson rate of the spike minutes' jump counts; the mean jump size uses the exponential's
  memorylessness (mean detected size − detection threshold), and the rate is scaled up by
  the share of exponential jumps the threshold misses.

Rates are corrected for the bursts' extra activity. A regime the tape never shows keeps
the default constants; ``fit`` records what was observed, and ``fit.quoting`` what the
model strategies start from on this market: the mid's volatility and the order-arrival
intensity ``A·exp(−κδ)`` (:func:`soakkit.sim.intensity.fit_prior`). Regime switching is
fitted from minute-to-minute label transitions (the default matrix weighs in as a prior).
The instrument (kind, contract size) is the tape's, and the venue's latency is measured
against the tape's own median message rate, with the load response and feed latency
fitted where the tape has receive times (:mod:`soakkit.sim.feed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.core.errors import UsageError
from soakkit.core.io import atomic_write_json
from soakkit.core.json_strict import load_json_file
from soakkit.sim.instrument import KINDS
from soakkit.sim.intensity import fit_prior
from soakkit.sim.regimes import (
    DEFAULT_MARKET,
    LABELS,
    LATENCY,
    MIXED_TRANSITIONS,
    REGIME_NAMES,
    MarketProfile,
    RegimeSpec,
)
from soakkit.sim.replay import label_minutes
from soakkit.sim.tape import NS
from soakkit.sim.tapefile import RecordedTape

__all__ = ["calibrate", "read_market_profile", "write_market_profile"]



def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and IQR / 1.349 (the sigma of a normal with that spread)."""
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float(q50), float((q75 - q25) / 1.349)


def _truncated_poisson(mean_count: float) -> float:
    """The Poisson rate whose counts, given at least one, average ``mean_count``."""
    if mean_count <= 1.0:
        return 0.0
    lo, hi = 1e-9, mean_count
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid / -np.expm1(-mid) < mean_count:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _orders(tape: RecordedTape, usd_per_lot: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Market orders: time, side and notional (prints at one time on one side are one)."""
    key_change = np.ones(tape.trade_ns.size, dtype=bool)
    key_change[1:] = (tape.trade_ns[1:] != tape.trade_ns[:-1]) | (
        tape.trade_side[1:] != tape.trade_side[:-1])
    group = np.cumsum(key_change) - 1
    notional = np.bincount(group, weights=tape.trade_qty * usd_per_lot)
    first = np.flatnonzero(key_change)
    return tape.trade_ns[first], tape.trade_side[first].astype(np.float64), notional


def calibrate(tape: RecordedTape, name: str) -> MarketProfile:
    """A market profile named ``name`` fitted to ``tape`` (see the module docstring)."""
    minutes = int((tape.end_ns - tape.start_ns) // (60 * NS))
    if minutes < 1:
        raise UsageError(f"{tape.path}: the tape covers {tape.duration_s:.0f} s; calibration "
                         "needs at least one whole minute")
    start = tape.start_ns
    mid = (tape.bid_px + tape.ask_px) * (0.5 * tape.tick)
    stats = label_minutes(tape.quote_ns, mid, start, minutes)
    # sizes at the opening price, as the generator has them (inverse: contracts × size)
    usd_lot = float(tape.instrument.usd_per_lot(float(mid[0])))
    o_ns, o_side, o_usd = _orders(tape, usd_lot)
    inside = (o_ns >= start) & (o_ns < start + minutes * 60 * NS)
    o_ns, o_side, o_usd = o_ns[inside], o_side[inside], o_usd[inside]
    o_min = ((o_ns - start) // (60 * NS)).astype(np.int64)
    o_sec = ((o_ns - start) // NS).astype(np.int64)
    seconds = minutes * 60
    n_sec = np.bincount(o_sec, minlength=seconds).astype(np.float64)
    imb = np.bincount(o_sec, weights=o_side, minlength=seconds)
    flow = np.bincount(o_sec, weights=o_side * np.sqrt(o_usd / 10_000.0), minlength=seconds)
    grid = start + np.arange(seconds, dtype=np.int64) * NS
    at = np.maximum(np.searchsorted(tape.quote_ns, grid, side="right") - 1, 0)
    half_bps = (tape.ask_px[at] - tape.bid_px[at]) * tape.tick / 2.0 / mid[at] * 1e4
    q_min = ((tape.quote_ns - start) // (60 * NS)).astype(np.int64)
    trade_times = np.unique(tape.trade_ns)
    book_row = ~np.isin(tape.quote_ns, trade_times)
    new_bid = np.concatenate(([True], tape.bid_px[1:] != tape.bid_px[:-1]))
    new_ask = np.concatenate(([True], tape.ask_px[1:] != tape.ask_px[:-1]))

    regimes: dict[str, RegimeSpec] = {}
    observed: dict[str, int] = {}
    for idx, regime in enumerate(REGIME_NAMES):
        base = DEFAULT_MARKET.regimes[regime]
        mins = np.flatnonzero(stats.labels == idx)
        observed[regime] = int(mins.size)
        if mins.size == 0 or not np.isin(o_min, mins).any():
            regimes[regime] = base
            continue
        in_o = np.isin(o_min, mins)
        in_s = np.isin(np.arange(seconds) // 60, mins)
        in_q = np.isin(q_min, mins)
        secs = float(mins.size * 60)
        n, i = n_sec[in_s], imb[in_s]
        weighted = float(((i**2 - n).sum()) / max((n * (n - 1)).sum(), 1.0))
        w = max(0.0, min(1.0, weighted / (2 * base.burst_side_share - 1) ** 2))
        b2 = base.burst_activity**2
        burst_share = w / (b2 - w * (b2 - 1.0))
        boost = 1.0 + (base.burst_activity - 1.0) * burst_share
        sizes = stats.jump_bps[np.repeat(stats.labels, stats.jumps) == idx]
        jump_mean = (max(float(sizes.mean()) - LABELS.jump_min_bps, 0.5) if sizes.size
                     else base.jump_bps)
        jump_rate = 0.0
        if regime == "spike":  # detected jumps are those above the threshold: scale up
            jump_rate = _truncated_poisson(float(stats.jumps[mins].mean())) * float(
                np.exp(min(LABELS.jump_min_bps / jump_mean, 5.0)))
        x, y = flow[in_s], stats.returns.ravel()[in_s]
        lam = float((x * y).sum() / max((x * x).sum(), 1e-12))
        e = (y - lam * x).reshape(-1, 60)
        rv = float((e**2).sum() + 2.0 * (e[:, 1:] * e[:, :-1]).sum())
        median_usd, sigma = _robust(np.log(o_usd[in_o]))
        depths = np.concatenate((tape.bid_qty[in_q & new_bid], tape.ask_qty[in_q & new_ask])
                                ) * usd_lot
        deep = _deep_depth(tape, mins, start) * usd_lot
        regimes[regime] = replace(
            base,
            order_rate_per_s=float(in_o.sum()) / secs / boost,
            order_median_usd=float(np.exp(median_usd)), order_size_sigma=sigma,
            vol_bps_per_sqrt_s=float(np.sqrt(max(rv, 0.0) / secs)),
            half_spread_bps=float(np.median(half_bps[in_s])),
            depth_usd=float(np.median(depths)) if depths.size else base.depth_usd,
            impact_bps_per_10k=max(lam, 0.0),
            burst_rate_per_min=max(burst_share * 60.0 / base.burst_len_s - jump_rate, 0.0),
            jump_rate_per_min=jump_rate,
            jump_bps=jump_mean,
            book_rate_per_s=float((in_q & book_row).sum()) / secs / 2.0 / boost,
            deep_depth_usd=float(np.median(deep)) if deep.size else base.deep_depth_usd)
    load = tape.load
    latency = replace(tape.latency, feed_ms=load.base_ms) if load.base_ms else tape.latency
    quoting = fit_prior(tape.trade_ns, tape.trade_side, tape.trade_px, tape.quote_ns,
                        tape.bid_px, tape.ask_px, start, start + minutes * 60 * NS)
    return MarketProfile(
        name=name, regimes=regimes, transitions=_transitions(stats.labels), mid0=float(mid[0]),
        tick=tape.tick, lot=tape.lot, source=str(tape.path),
        fit={"minutes": minutes, "observed_minutes": observed,
             "orders": int(o_ns.size), "jumps": int(stats.jumps.sum()),
             "load": load.to_json(), **({"quoting": quoting} if quoting else {})},
        kind=tape.instrument.kind, contract_size=tape.instrument.contract_size,
        latency=latency)


def _deep_depth(tape: RecordedTape, minutes: np.ndarray, start: int) -> np.ndarray:
    """Lots shown at the levels behind the best, in the depth rows of ``minutes`` (an L2
    tape; none for an L1 tape)."""
    d = tape.depth
    if d is None:
        return np.zeros(0)
    inside = np.isin((d.ns - start) // (60 * NS), minutes)
    qty = np.concatenate((d.bid_qty[inside, 1:].ravel(), d.ask_qty[inside, 1:].ravel()))
    return qty[qty > 0]


def _transitions(labels: np.ndarray) -> tuple[tuple[float, ...], ...]:
    k = len(REGIME_NAMES)
    counts = np.zeros((k, k))
    np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
    rows = counts + LABELS.transition_prior_minutes * MIXED_TRANSITIONS
    return tuple(tuple(float(x) for x in row / row.sum()) for row in rows)


_SPEC_FIELDS = tuple(f.name for f in fields(RegimeSpec))
_OPTIONAL_FIELDS = ("deep_depth_usd",)  #: profiles written before L2 tapes lack it
#: the latency constants a calibrated profile carries (the rest are the venue's defaults)
_LATENCY_FITTED = ("activity_ref_per_s", "activity_gain", "feed_ms")


def write_market_profile(path: Path, profile: MarketProfile, *,
                         mtime: float | None = None) -> Path:
    """Write ``profile`` as JSON (the format :func:`read_market_profile` reads)."""
    doc = {"schema_version": 1, "name": profile.name, "source": profile.source,
           "mid0": profile.mid0, "tick": profile.tick, "lot": profile.lot,
           "kind": profile.kind, "contract_size": profile.contract_size,
           "latency": {f: getattr(profile.latency, f) for f in _LATENCY_FITTED},
           "transitions": [list(row) for row in profile.transitions],
           "regimes": {r: {f: getattr(profile.regimes[r], f) for f in _SPEC_FIELDS}
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
    regimes = doc.get("regimes")
    if not isinstance(regimes, dict) or set(regimes) != set(REGIME_NAMES):
        raise UsageError(f"{path}: regimes: expected an object with {', '.join(REGIME_NAMES)}")
    specs = {}
    for r in REGIME_NAMES:
        if not isinstance(regimes[r], dict):
            raise UsageError(f"{path}: regimes.{r}: expected an object")
        specs[r] = RegimeSpec(**{f: _number(regimes[r], f, path, f"regimes.{r}.")
                                 for f in _SPEC_FIELDS
                                 if f not in _OPTIONAL_FIELDS or f in regimes[r]})
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
    fitted = {k: _number(latency, k, path, "latency.") for k in latency}
    if fitted.get("activity_ref_per_s", 1.0) <= 0:
        raise UsageError(f"{path}: latency.activity_ref_per_s: expected a number > 0")
    return MarketProfile(
        name=str(doc.get("name", path.stem)), regimes=specs,
        transitions=tuple(tuple(float(x) for x in row) for row in matrix),
        mid0=float(doc["mid0"]), tick=float(doc["tick"]), lot=float(doc["lot"]),
        source=str(doc.get("source", "")),
        fit=dict(fit) if isinstance(fit := doc.get("fit"), dict) else {},
        kind=str(kind), contract_size=size, latency=replace(LATENCY, **fitted))
