"""Calibration of jumps and regime switching: estimators that hold up on a few observations.

**Jumps.** A minute with a detected jump is labelled spike (:mod:`soakkit.sim.replay`), so
the spike minutes' jump counts are zero-truncated: a spike minute shows at least one. The
maximum-likelihood rate of a zero-truncated Poisson is 0 when every spike minute shows
exactly one jump — the degenerate case of a short capture, and a rate of 0 would make a
calibrated spike regime never jump. The rate is therefore the **posterior mean** under the
zero-truncated likelihood and a weak Gamma prior (mean: the built-in spike rate; weight:
``PRIOR_MINUTES`` minutes), with a 90 % credible interval; it is never 0 once a jump was
seen. Detected jumps are those above the detection threshold ``h`` of their minute; with
exponential sizes of mean ``μ`` the excesses ``x − h`` are exponential of mean ``μ``
(memorylessness), so ``μ̂`` is their mean (a Gamma interval for it), and the rate is scaled
up by ``exp(h/μ̂)`` for the jumps the threshold missed (at most ``e⁵``).

**Regime switching** is fitted from minute-to-minute label transitions among the regimes
the window showed only; the built-in matrix, restricted to them, weighs in as a prior of
``LABELS.transition_prior_minutes`` minutes. A regime the data never showed is never
entered (a row of it, needed only to make the matrix a matrix, stays where it is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soakkit.sim.regimes import LABELS, MIXED_TRANSITIONS, REGIME_NAMES, REGIMES

__all__ = ["JumpFit", "fit_jumps", "fit_transitions", "gamma_interval"]

PRIOR_MINUTES = 1.0  #: the jump rate's prior weighs as much as this many spike minutes
_MAX_SCALE = float(np.exp(5.0))


def _chi2_quantile(p: float, dof: float) -> float:
    """Chi-square quantile (Wilson–Hilferty; good to ~1 % for the dofs used here)."""
    from soakkit.sim.sizes import ndtri

    z = float(ndtri(np.array([p]))[0])
    k = max(dof, 1e-9)
    return float(k * max(1.0 - 2.0 / (9.0 * k) + z * np.sqrt(2.0 / (9.0 * k)), 0.0) ** 3)


def gamma_interval(shape: float, rate: float, level: float = 0.9) -> tuple[float, float]:
    """Central ``level`` interval of a Gamma(shape, rate) variable."""
    tail = (1.0 - level) / 2.0
    return (_chi2_quantile(tail, 2.0 * shape) / (2.0 * rate),
            _chi2_quantile(1.0 - tail, 2.0 * shape) / (2.0 * rate))


@dataclass(frozen=True)
class JumpFit:
    """The spike regime's jumps: rate per minute and mean size, with 90 % intervals."""

    rate_per_min: float
    rate_interval: tuple[float, float]
    size_bps: float
    size_interval: tuple[float, float]
    detected: int  #: jumps seen
    minutes: int  #: spike minutes they were seen in

    def to_json(self) -> dict[str, object]:
        return {"rate_per_min": round(self.rate_per_min, 6),
                "rate_per_min_90": [round(x, 6) for x in self.rate_interval],
                "size_bps": round(self.size_bps, 6),
                "size_bps_90": [round(x, 6) for x in self.size_interval],
                "detected": self.detected, "spike_minutes": self.minutes,
                "method": "posterior mean, zero-truncated Poisson counts, Gamma prior "
                          f"(built-in rate, {PRIOR_MINUTES:g} minute); sizes: mean excess "
                          "over the detection threshold (exponential)"}


def fit_jumps(counts: np.ndarray, excess_bps: np.ndarray, threshold_bps: np.ndarray
              ) -> JumpFit | None:
    """The jump fit from the spike minutes' ``counts``, each jump's size over its minute's
    threshold (``excess_bps``) and that threshold. None without spike minutes."""
    k = np.asarray(counts, dtype=np.float64)
    if k.size == 0 or k.sum() == 0:
        return None
    prior = REGIMES["spike"].jump_rate_per_min
    a0, b0 = prior * PRIOR_MINUTES, PRIOR_MINUTES  # Gamma(shape a0, rate b0): mean = prior
    lam = np.linspace(1e-4, max(10.0 * k.max(), 10.0 * prior, 1.0), 20_000)
    # Poisson λ^k e^−λ per minute, zero-truncated: / (1 − e^−λ) per minute
    log_post = ((a0 - 1.0 + k.sum()) * np.log(lam) - (b0 + k.size) * lam
                - k.size * np.log(-np.expm1(-lam)))
    w = np.exp(log_post - log_post.max())
    cdf = np.cumsum(w) / w.sum()
    mean = float((lam * w).sum() / w.sum())
    lo, hi = float(np.interp(0.05, cdf, lam)), float(np.interp(0.95, cdf, lam))
    x = np.maximum(np.asarray(excess_bps, dtype=np.float64), 0.0)
    size = max(float(x.mean()), 0.5) if x.size else REGIMES["spike"].jump_bps
    s_lo, s_hi = gamma_interval(float(x.size), float(x.size) / size) if x.size else (size, size)
    h = float(np.mean(threshold_bps)) if np.size(threshold_bps) else LABELS.jump_min_bps
    scale = min(float(np.exp(h / size)), _MAX_SCALE)
    return JumpFit(mean * scale, (lo * scale, hi * scale), size,
                   (max(s_lo, 0.5), max(s_hi, 0.5)), int(k.sum()), int(k.size))


def fit_transitions(labels: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """The regime-switching matrix among the regimes ``labels`` shows (module doc)."""
    m = len(REGIME_NAMES)
    seen = np.isin(np.arange(m), labels)
    counts = np.zeros((m, m))
    np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
    prior = MIXED_TRANSITIONS * seen[None, :]
    prior = prior / np.maximum(prior.sum(axis=1, keepdims=True), 1e-12)
    rows = counts + LABELS.transition_prior_minutes * prior
    rows[~seen] = np.eye(m)[~seen]  # never entered: the row only keeps the matrix whole
    return tuple(tuple(float(x) for x in row / row.sum()) for row in rows)
