"""What the model strategies estimate from their feed: volatility and arrival intensity.

:class:`OnlineEstimator` keeps the trailing ``fit_window_s`` of what the strategy's feed
delivered (it sees nothing later: it is fed :class:`~soakkit.strategy.api.Step` objects) and
refits every second with the one definition of the fits (:mod:`soakkit.sim.intensity`).
Until the window is full, the estimate leans on the prior in proportion (the prior is the
market's calibration: ``soakkit calibrate`` writes it into a market profile; the default
market's is :data:`soakkit.sim.regimes.QUOTING_PRIOR`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from soakkit.sim.intensity import QUOTING_FIT, depth_grid, fit_intensity, trade_reaches
from soakkit.sim.regimes import QUOTING_PRIOR
from soakkit.sim.tape import NS
from soakkit.strategy.api import QuotingPrior, Step

__all__ = ["OnlineEstimator", "default_prior", "prior_from_fit"]


def default_prior() -> QuotingPrior:
    """The default market's prior (:data:`soakkit.sim.regimes.QUOTING_PRIOR`)."""
    return QuotingPrior(QUOTING_PRIOR.sigma_bps, QUOTING_PRIOR.a_per_s,
                        QUOTING_PRIOR.kappa_per_bps)


def prior_from_fit(fit: Mapping[str, Any], source: str) -> QuotingPrior | None:
    """The prior a calibrated market profile carries (its ``fit.quoting``), if any."""
    quoting = fit.get("quoting")
    if not isinstance(quoting, dict):
        return None
    try:
        values = [float(quoting[k]) for k in ("sigma_bps", "a_per_s", "kappa_per_bps")]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return QuotingPrior(values[0], values[1], values[2], source=source)


class OnlineEstimator:
    """σ, A and κ from the trailing window of the feed, leaning on ``prior`` until it fills."""

    _REFIT_NS = NS

    def __init__(self, prior: QuotingPrior, window_s: float) -> None:
        self.prior = prior
        self.window_ns = round(window_s * NS)
        self.sigma_bps = prior.sigma_bps
        self.a_per_s = prior.a_per_s
        self.kappa_per_bps = prior.kappa_per_bps
        self._path_ns: np.ndarray | None = None  #: the mid's recent path (a bucket's start)
        self._path_mid = np.zeros(0)
        self._last_sample = 0.0
        self._next_sample = NS
        self._returns: deque[tuple[int, float]] = deque()
        self._square_sum = 0.0
        self._best: dict[int, float] = {}  #: furthest reach of each (bucket, side) key
        self._keys: deque[int] = deque()  #: the keys in time order (to expire them)
        self._next_fit = self._REFIT_NS
        self._half_bps = 0.0

    def update(self, step: Step) -> None:
        """Take in what the step's feed delivered; refit once a second."""
        book = step.book
        if self._path_ns is None:
            self._path_ns, self._path_mid = np.zeros(1, np.int64), np.array([book.mid])
        up = step.updates
        path_ns = np.concatenate((self._path_ns, up.ns))
        path_mid = np.concatenate((self._path_mid, (up.bid_px + up.ask_px) / 2.0))
        tr = step.trades
        if tr.ns.size:
            keys, reach = trade_reaches(tr.ns, tr.side.astype(np.int64), tr.px, path_ns,
                                        path_mid)
            best = self._best
            for key, x in zip(keys.tolist(), reach.tolist(), strict=True):
                old = best.get(key)
                if old is None:
                    self._keys.append(key)
                    best[key] = x
                elif x > old:
                    best[key] = x
        while self._next_sample <= step.seen_ns:  # the mid on the 1-s grid
            at = max(int(np.searchsorted(path_ns, self._next_sample, side="right")) - 1, 0)
            mid = float(path_mid[at])
            if self._last_sample > 0:
                r = math.log(mid / self._last_sample) * 1e4
                self._returns.append((self._next_sample, r))
                self._square_sum += r * r
            self._last_sample = mid
            self._next_sample += NS
        keep = max(int(np.searchsorted(path_ns, step.seen_ns - NS // 2, side="right")) - 1, 0)
        self._path_ns, self._path_mid = path_ns[keep:], path_mid[keep:]
        self._half_bps = (book.ask_px - book.bid_px) / 2.0 / book.mid * 1e4
        if step.now_ns >= self._next_fit:
            self._next_fit = step.now_ns + self._REFIT_NS
            self._refit(step.seen_ns, book.mid)

    def _refit(self, now: int, mid: float) -> None:
        start = now - self.window_ns
        while self._returns and self._returns[0][0] <= start:
            self._square_sum -= self._returns.popleft()[1] ** 2
        first_key = (start // round(QUOTING_FIT.bucket_s * NS)) * 2
        while self._keys and self._keys[0] < first_key:
            del self._best[self._keys.popleft()]
        seconds = min(now, self.window_ns) / NS
        weight = min(1.0, seconds * NS / self.window_ns)
        if len(self._returns) >= 5:
            sigma = math.sqrt(max(self._square_sum, 0.0) / len(self._returns))
            self.sigma_bps = weight * sigma + (1 - weight) * self.prior.sigma_bps
        if self._best:
            reach = np.fromiter(self._best.values(), dtype=np.float64, count=len(self._best))
            fit = fit_intensity(reach, seconds, depth_grid(1e4 / mid), self._half_bps)
            if fit is not None:
                self.kappa_per_bps = (weight * fit.kappa_per_bps
                                      + (1 - weight) * self.prior.kappa_per_bps)
                self.a_per_s = math.exp(weight * math.log(fit.a_per_s)
                                        + (1 - weight) * math.log(self.prior.a_per_s))
