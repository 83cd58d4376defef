"""How much a best-of-N choice is inflated by having tried N: the deflated Sharpe ratio and
the probability of backtest overfitting.

* :func:`deflated_sharpe_ratio` — Bailey and López de Prado, "The Deflated Sharpe Ratio:
  Correcting for Selection Bias, Backtest Overfitting and Non-Normality", *Journal of
  Portfolio Management* 40(5), 2014. The probabilistic Sharpe ratio (:func:`psr`) of the
  selected configuration against :func:`expected_max_sharpe`, the Sharpe ratio the best of
  ``N`` configurations without skill would show, given the variance of the trials' Sharpe
  ratios. Every Sharpe ratio here is per observation (not annualised).
* :func:`pbo_cscv` — Bailey, Borwein, López de Prado and Zhu, "The Probability of Backtest
  Overfitting", *Journal of Computational Finance* 20(4), 2017: combinatorially symmetric
  cross-validation over a ``T × N`` matrix of per-observation results. The rows are cut
  into ``S`` contiguous blocks; for every choice of ``S/2`` blocks as the in-sample half,
  the configuration best in sample is ranked out of sample among all ``N``; its relative
  rank ``ω = rank / (N + 1)`` (average ranks for ties) gives the logit
  ``λ = ln(ω / (1 − ω))``, and PBO is the share of splits with ``λ ≤ 0``: the in-sample
  winner is at or below the out-of-sample median.

:data:`DSR_PASS` and :data:`PBO_PASS` are the bars a recommendation must clear
(``docs/OPTIMIZE.md``). No random draw is involved: the same matrix gives the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, islice
from statistics import NormalDist

import numpy as np

__all__ = ["DSR_PASS", "EULER_GAMMA", "MAX_BLOCKS", "PBO_PASS", "Pbo", "SharpeStats",
           "block_sums", "cscv_edges", "deflated_sharpe_ratio", "expected_max_sharpe", "pbo_cscv",
           "pbo_from_blocks", "psr", "sharpe_stats"]

#: A recommendation needs at least this deflated Sharpe ratio (the paper's 95 % level).
DSR_PASS = 0.95
#: ... and at most this probability of backtest overfitting.
PBO_PASS = 0.2
#: The Euler–Mascheroni constant of the expected maximum of ``N`` normal draws.
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()
#: In-sample / out-of-sample splits evaluated per block of the computation (bounded memory).
_SPLIT_CHUNK = 256
#: ... and at most this many split × configuration cells per block (each array of a block
#: is then at most 2 MiB, whatever the number of configurations).
_CHUNK_CELLS = 1 << 18
#: The most row blocks CSCV cuts (``C(16, 8) = 12,870`` splits).
MAX_BLOCKS = 16


@dataclass(frozen=True)
class SharpeStats:
    """The Sharpe ratio of one series of per-observation results and its moments."""

    sharpe: float  #: mean / standard deviation (ddof 1), per observation
    n_obs: int
    skew: float  #: sample skewness (biased, as the paper's moments)
    kurtosis: float  #: sample kurtosis, not excess (3 for a normal distribution)


def sharpe_stats(values: np.ndarray) -> SharpeStats:
    """:class:`SharpeStats` of ``values`` (NaN when fewer than two or no variation)."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n < 2:
        return SharpeStats(math.nan, n, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    centred = x - x.mean()
    m2 = float((centred**2).mean())
    if sd == 0.0 or m2 == 0.0:
        return SharpeStats(math.nan, n, math.nan, math.nan)
    skew = float((centred**3).mean()) / m2**1.5
    kurt = float((centred**4).mean()) / m2**2
    return SharpeStats(float(x.mean()) / sd, n, skew, kurt)


def psr(sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0,
        kurtosis: float = 3.0) -> float:
    """Probabilistic Sharpe ratio: P(true Sharpe > ``benchmark``) given the estimate.

    ``Φ((SR − SR*) √(T − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 SR²))`` with the sample's skewness
    ``γ₃`` and kurtosis ``γ₄`` (not excess). NaN when the inputs do not define it.
    """
    if n_obs < 2 or not all(map(math.isfinite, (sharpe, benchmark, skew, kurtosis))):
        return math.nan
    variance = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if variance <= 0.0:
        return math.nan
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(variance))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """``SR₀``: the expected largest Sharpe ratio of ``n_trials`` configurations without
    skill whose Sharpe ratios vary with ``variance`` across trials.

    ``√V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))``, ``γ`` Euler's constant; 0 for one
    trial (nothing was selected).
    """
    if n_trials < 1 or not math.isfinite(variance) or variance < 0.0:
        return math.nan
    if n_trials == 1:
        return 0.0
    z1 = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe_ratio(sharpe: float, n_obs: int, n_trials: int, sharpe_variance: float,
                          skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """DSR: the :func:`psr` of the selected Sharpe ratio against
    :func:`expected_max_sharpe` of ``n_trials`` with ``sharpe_variance``.

    With the paper's example (annual SR 2.5 over 1,250 days, so 0.1581 a day; 100 trials
    whose annual Sharpe ratios vary by 0.5, so 0.5/250 a day; skewness −3, kurtosis 10) the
    DSR is 0.9004 (``tests/test_overfit.py``).
    """
    return psr(sharpe, expected_max_sharpe(n_trials, sharpe_variance), n_obs, skew, kurtosis)


@dataclass(frozen=True)
class Pbo:
    """The outcome of CSCV: PBO and what it is made of."""

    pbo: float  #: share of splits whose in-sample winner is at or below the OOS median
    logits: np.ndarray  #: λ of every split
    is_best: np.ndarray  #: in-sample performance of each split's winner
    oos_of_best: np.ndarray  #: its out-of-sample performance
    blocks: int  #: S, the number of row blocks
    splits: int  #: splits evaluated: C(S, S/2)
    n_trials: int
    n_obs: int

    @property
    def degradation(self) -> float:
        """Mean out-of-sample minus in-sample performance of the winners (≤ 0: decay)."""
        return float((self.oos_of_best - self.is_best).mean()) if self.splits else math.nan

    @property
    def loss_probability(self) -> float:
        """Share of splits whose winner performs below 0 out of sample."""
        return float((self.oos_of_best < 0).mean()) if self.splits else math.nan


def _average_ranks(values: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Per row, the 1-based average rank of ``values[row, column[row]]`` in that row."""
    mine = values[np.arange(values.shape[0]), column][:, None]
    below = (values < mine).sum(axis=1)
    ties = (values == mine).sum(axis=1)
    return np.asarray(below + (ties + 1) / 2.0, dtype=np.float64)


def _block_edges(n_obs: int, blocks: int) -> np.ndarray:
    """Row offsets of ``blocks`` contiguous blocks (sizes differ by at most one)."""
    return np.linspace(0, n_obs, blocks + 1).round().astype(np.int64)


def _performance(sums: np.ndarray, squares: np.ndarray, rows: np.ndarray,
                 metric: str) -> np.ndarray:
    """Each configuration's mean (or Sharpe ratio) over the rows summed."""
    mean = np.asarray(sums / rows, dtype=np.float64)
    if metric == "mean":
        return mean
    variance = np.maximum(squares / rows - mean**2, 0.0) * rows / np.maximum(rows - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(variance > 0, mean / np.sqrt(variance), 0.0))


def cscv_edges(n_obs: int, blocks: int = MAX_BLOCKS) -> np.ndarray:
    """Row offsets (``S + 1`` of them) of the blocks CSCV cuts ``n_obs`` rows into:
    ``blocks`` made even, at most ``n_obs`` and at most :data:`MAX_BLOCKS`; empty when
    fewer than two blocks fit."""
    s = min(int(blocks), int(n_obs), MAX_BLOCKS)
    s -= s % 2
    return _block_edges(n_obs, s) if s >= 2 else np.zeros(0, dtype=np.int64)


def block_sums(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sums and sums of squares of ``values`` (``T`` rows, or ``T × N``) over each
    block of ``edges`` (:func:`cscv_edges`): all CSCV needs of them, so a caller can
    reduce one configuration at a time and never hold the ``T × N`` matrix."""
    v = np.asarray(values, dtype=np.float64)
    starts = edges[:-1]
    return np.add.reduceat(v, starts, axis=0), np.add.reduceat(v * v, starts, axis=0)


def pbo_cscv(matrix: np.ndarray, blocks: int = 16, metric: str = "mean") -> Pbo:
    """Probability of backtest overfitting of a ``T × N`` matrix (rows: observations in
    order, columns: configurations), by CSCV over ``blocks`` contiguous row blocks.

    ``blocks`` is made even, at most ``T`` and at most :data:`MAX_BLOCKS` (every split of
    16 blocks is ``C(16, 8) = 12,870`` splits). ``metric`` is each configuration's
    performance on a half: ``mean`` (the optimiser's objective) or ``sharpe`` (mean /
    standard deviation, the paper's). Needs at least two configurations and two rows;
    otherwise PBO is NaN with no split. :func:`pbo_from_blocks` computes the same from
    the blocks' sums alone.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"pbo_cscv: expected a T x N matrix, got shape {m.shape}")
    edges = cscv_edges(m.shape[0], blocks)
    if edges.size == 0:
        empty = np.zeros((0, m.shape[1]))
        return pbo_from_blocks(empty, empty, edges, m.shape[0], metric)
    sums, squares = block_sums(m, edges)
    return pbo_from_blocks(sums, squares, edges, m.shape[0], metric)


def pbo_from_blocks(sums: np.ndarray, squares: np.ndarray, edges: np.ndarray, n_obs: int,
                    metric: str = "mean") -> Pbo:
    """:func:`pbo_cscv` from the ``S × N`` block sums and sums of squares
    (:func:`block_sums` over :func:`cscv_edges`), in memory ``O(S × N)`` whatever the
    number of observations; the splits are evaluated in chunks of at most
    :data:`_CHUNK_CELLS` split × configuration cells."""
    if metric not in ("mean", "sharpe"):
        raise ValueError(f"pbo_cscv: metric {metric!r}: expected mean or sharpe")
    sums = np.asarray(sums, dtype=np.float64)
    squares = np.asarray(squares, dtype=np.float64)
    n_trials = sums.shape[1] if sums.ndim == 2 else 0
    s = max(int(edges.size) - 1, 0)
    if n_trials < 2 or s < 2:
        empty = np.zeros(0)
        return Pbo(math.nan, empty, empty, empty, s, 0, n_trials, n_obs)
    if sums.shape != (s, n_trials) or squares.shape != sums.shape:
        raise ValueError(f"pbo_from_blocks: sums {sums.shape} and squares {squares.shape} "
                         f"do not match {s} blocks")
    rows = np.diff(edges).astype(np.float64)  # (S,)
    logits, best_is, best_oos = [], [], []
    splits = combinations(range(s), s // 2)
    per_chunk = max(1, min(_SPLIT_CHUNK, _CHUNK_CELLS // n_trials))
    while chunk := list(islice(splits, per_chunk)):
        pick = np.zeros((len(chunk), s))
        for i, c in enumerate(chunk):
            pick[i, list(c)] = 1.0
        is_rows = (pick @ rows)[:, None]
        is_perf = _performance(pick @ sums, pick @ squares, is_rows, metric)
        oos = 1.0 - pick
        oos_perf = _performance(oos @ sums, oos @ squares, (oos @ rows)[:, None], metric)
        winner = np.argmax(is_perf, axis=1)
        omega = _average_ranks(oos_perf, winner) / (n_trials + 1)
        logits.append(np.log(omega / (1.0 - omega)))
        at = np.arange(len(chunk))
        best_is.append(is_perf[at, winner])
        best_oos.append(oos_perf[at, winner])
    lam = np.concatenate(logits)
    return Pbo(float((lam <= 0).mean()), lam, np.concatenate(best_is), np.concatenate(best_oos),
               s, int(lam.size), n_trials, n_obs)
