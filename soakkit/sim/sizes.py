"""Heavy-tailed size laws: a split lognormal body with a Pareto tail, and its fit.

Real order sizes have a lognormal-looking body and a power-law tail (the largest orders of
a Binance capture are hundreds of times the median; their Hill index is 1.1–1.3). One law
serves every size the synthetic market draws (taker orders, maker orders in the queue,
displayed depth): :class:`SizeLaw`, four numbers,

* ``median`` and ``sigma_lo`` – the body below the median, lognormal (``sigma_lo`` from the
  interquartile spread below it);
* ``sigma_hi`` – the body above the median up to the ``TAIL_FROM`` quantile (fitted so the
  body meets the sample's 95th percentile);
* ``tail_alpha`` – beyond that quantile a Pareto tail of this index (the Hill estimator
  over the largest 5 %; 0: no tail, the body's lognormal continues).

Draws go through the quantile function, so any uniform stream can feed it (a seeded
generator or the keyed draws of :mod:`soakkit.sim.keyed`); a uniform is kept below
``1 − MAX_TAIL`` so that one draw can never be absurd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_TAIL", "TAIL_FROM", "SizeLaw", "fit_size_law", "ndtri"]

TAIL_FROM = 0.95  #: the Pareto tail starts at this quantile
MAX_TAIL = 1e-4  #: uniforms are kept below 1 − this (the largest draw is the 99.99 % quantile)

# Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9)
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
_LOW = 0.02425


def _poly(coef: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, coef[0])
    for c in coef[1:]:
        out = out * x + c
    return out


def ndtri(u: np.ndarray) -> np.ndarray:
    """The standard normal quantile of ``u`` in (0, 1) (Acklam's approximation)."""
    p = np.clip(np.asarray(u, dtype=np.float64), 1e-300, 1.0 - 1e-16)
    out = np.empty_like(p)
    low, high = p < _LOW, p > 1.0 - _LOW
    mid = ~(low | high)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = _poly(_A, r) * q / (_poly(_B, r) * r + 1.0)
    for mask, sign, tail in ((low, 1.0, p), (high, -1.0, 1.0 - p)):
        s = np.sqrt(-2.0 * np.log(tail[mask]))
        out[mask] = sign * _poly(_C, s) / (_poly(_D, s) * s + 1.0)
    return out


@dataclass(frozen=True)
class SizeLaw:
    """A size distribution: split lognormal body, Pareto tail (see the module doc)."""

    median: float
    sigma_lo: float
    sigma_hi: float
    tail_alpha: float = 0.0

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Sizes at the probabilities ``u`` (kept in (0, 1 − MAX_TAIL))."""
        p = np.minimum(np.asarray(u, dtype=np.float64), 1.0 - MAX_TAIL)
        z = ndtri(np.minimum(p, TAIL_FROM) if self.tail_alpha > 0 else p)
        body = self.median * np.exp(np.where(z < 0, self.sigma_lo, self.sigma_hi) * z)
        if self.tail_alpha <= 0:
            return np.asarray(body)
        start = self.median * np.exp(self.sigma_hi * float(ndtri(np.array([TAIL_FROM]))[0]))
        tail = start * ((1.0 - p) / (1.0 - TAIL_FROM)) ** (-1.0 / self.tail_alpha)
        return np.asarray(np.where(p > TAIL_FROM, tail, body))

    def mean(self) -> float:
        """The law's mean (numerically, over its quantile function)."""
        u = (np.arange(20_000) + 0.5) / 20_000
        return float(self.quantile(u).mean())

    def scaled(self, factor: float) -> SizeLaw:
        """The same shape, every size times ``factor``."""
        return SizeLaw(self.median * factor, self.sigma_lo, self.sigma_hi, self.tail_alpha)


_Z25 = 0.6744897501960817  #: the normal's upper quartile
_Z95 = 1.6448536269514722  #: its 95th percentile


def fit_size_law(values: np.ndarray, *, tail: bool = True) -> SizeLaw:
    """The :class:`SizeLaw` of positive ``values``: median, the lower quartile's sigma, the
    body's sigma up to the 95th percentile, and the Hill index of the largest 5 %
    (``tail=False``: no tail). Needs at least 20 values for a tail (else none)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size == 0:
        raise ValueError("no positive sizes to fit")
    q25, q50, q95 = np.percentile(x, [25, 50, 95])
    sigma_lo = max(float(np.log(q50 / q25)) / _Z25, 0.0) if q25 > 0 else 0.0
    sigma_hi = max(float(np.log(q95 / q50)) / _Z95, 0.0)
    alpha = 0.0
    top = np.sort(x)[::-1]
    k = int(x.size * (1.0 - TAIL_FROM))
    if tail and k >= 5 and top[k] > 0:
        logs = np.log(top[:k] / top[k])
        alpha = float(1.0 / logs.mean()) if logs.mean() > 0 else 0.0
    return SizeLaw(float(q50), sigma_lo, sigma_hi, alpha)
