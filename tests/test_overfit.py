"""The deflated Sharpe ratio and PBO by CSCV against published and hand-computed values."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from soakkit.evidence.overfit import (
    MAX_BLOCKS,
    block_sums,
    cscv_edges,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    pbo_from_blocks,
    psr,
    sharpe_stats,
)


def test_the_papers_numerical_example() -> None:
    # Bailey & López de Prado (2014), "A numerical example": an annual Sharpe ratio of 2.5
    # over 5 years of daily returns (T = 1,250), after N = 100 trials whose annual Sharpe
    # ratios have a variance of 0.5; skewness -3, kurtosis 10. The paper: SR0 = 0.1132 a
    # day, DSR = 0.9004.
    daily_sr = 2.5 / math.sqrt(250)
    daily_variance = 0.5 / 250
    assert expected_max_sharpe(100, daily_variance) == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(daily_sr, 1250, 100, daily_variance, skew=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_by_hand() -> None:
    # normal returns: z = SR sqrt(T-1) / sqrt(1 + SR^2 / 2) = 0.1 * 10 / sqrt(1.005)
    assert psr(0.1, 0.0, 101) == pytest.approx(0.840741, abs=1e-6)  # Phi(0.997509)
    assert psr(0.3, 0.3, 50, skew=-1.0, kurtosis=6.0) == pytest.approx(0.5)
    # a negative skew and fat tails widen the estimate's spread: less confidence
    assert psr(0.1, 0.0, 101, skew=-2.0, kurtosis=9.0) < psr(0.1, 0.0, 101)
    assert math.isnan(psr(0.1, 0.0, 1))


def test_expected_max_sharpe_follows_the_maximum_of_normal_draws() -> None:
    assert expected_max_sharpe(1, 4.0) == 0.0
    rng = np.random.default_rng(7)
    for n in (10, 100, 1000):
        simulated = rng.normal(0.0, 0.5, size=(4000, n)).max(axis=1).mean()
        # the paper's closed form approximates E[max] within a few per cent
        assert expected_max_sharpe(n, 0.25) == pytest.approx(simulated, rel=0.04)
    assert expected_max_sharpe(100, 0.25) > expected_max_sharpe(10, 0.25)


def test_more_trials_deflate_more() -> None:
    values = [deflated_sharpe_ratio(0.2, 500, n, 0.01) for n in (2, 10, 100, 1000)]
    assert values == sorted(values, reverse=True)
    assert deflated_sharpe_ratio(0.2, 500, 1, 0.01) == pytest.approx(psr(0.2, 0.0, 500))


def test_sharpe_stats_by_hand() -> None:
    s = sharpe_stats(np.array([1.0, 2.0, 3.0, 4.0]))
    assert s.sharpe == pytest.approx(2.5 / math.sqrt(5.0 / 3.0))
    assert s.skew == pytest.approx(0.0)
    assert s.kurtosis == pytest.approx(2.5625 / 1.5625)
    assert s.n_obs == 4
    assert math.isnan(sharpe_stats(np.ones(5)).sharpe)
    assert math.isnan(sharpe_stats(np.array([1.0])).sharpe)


def _naive_pbo(m: np.ndarray, s: int) -> float:
    """CSCV as the paper writes it, one split at a time (the reference for the fast one)."""
    t, n = m.shape
    edges = np.linspace(0, t, s + 1).round().astype(int)
    blocks = [list(range(edges[i], edges[i + 1])) for i in range(s)]
    lam = []
    for chosen in combinations(range(s), s // 2):
        rows_is = [r for b in chosen for r in blocks[b]]
        rows_oos = [r for b in range(s) if b not in chosen for r in blocks[b]]
        is_perf = m[rows_is].mean(axis=0)
        oos_perf = m[rows_oos].mean(axis=0)
        best = int(np.argmax(is_perf))
        rank = (oos_perf < oos_perf[best]).sum() + ((oos_perf == oos_perf[best]).sum() + 1) / 2
        omega = rank / (n + 1)
        lam.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(lam) <= 0))


def test_pbo_hand_computed_cases() -> None:
    # two configurations, two blocks: each half's winner is the other half's loser
    flip = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    result = pbo_cscv(flip, blocks=2)
    assert result.splits == 2
    assert result.pbo == 1.0
    assert np.allclose(result.logits, math.log(0.5))  # rank 1 of 2: omega = 1/3
    # one configuration better everywhere: the winner is best out of sample too
    steady = np.array([[2.0, 1.0]] * 4)
    result = pbo_cscv(steady, blocks=2)
    assert result.pbo == 0.0
    assert np.allclose(result.logits, math.log(2.0))  # rank 2 of 2: omega = 2/3
    assert result.degradation == 0.0
    # three configurations, four blocks: C(4, 2) = 6 splits, counted by hand:
    # IS {0,1}: A best (1.5), OOS {2,3} A=0 lowest -> overfit; IS {2,3}: C best, OOS C=0
    # lowest -> overfit; the four mixed splits pick B, which ranks 3 of 3 -> not overfit
    m = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 1.0, 1.0]])
    result = pbo_cscv(m, blocks=4)
    assert result.splits == 6
    assert result.pbo == pytest.approx(_naive_pbo(m, 4))


def test_pbo_matches_the_definition_on_random_matrices() -> None:
    rng = np.random.default_rng(3)
    for t, n, s in ((40, 5, 4), (96, 12, 8), (50, 3, 10)):
        m = rng.normal(size=(t, n)) + rng.normal(scale=0.2, size=n)
        assert pbo_cscv(m, blocks=s).pbo == pytest.approx(_naive_pbo(m, s))


def test_pbo_of_noise_is_about_a_half_and_of_skill_about_zero() -> None:
    rng = np.random.default_rng(11)
    noise = rng.normal(size=(800, 50))
    result = pbo_cscv(noise, blocks=16)
    assert result.splits == 12_870
    assert 0.35 <= result.pbo <= 0.65
    skilled = noise.copy()
    skilled[:, 7] += 0.5
    assert pbo_cscv(skilled, blocks=16).pbo == 0.0
    assert pbo_cscv(skilled, blocks=16, metric="sharpe").pbo == 0.0


def test_pbo_from_block_sums_reduced_one_configuration_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a study does: each configuration's rows reduced to 16 block sums on their own,
    never the T x N matrix; the splits in small chunks give the same logits."""
    rng = np.random.default_rng(5)
    m = rng.normal(size=(203, 9)) + rng.normal(scale=0.3, size=9)
    edges = cscv_edges(m.shape[0])
    assert edges.size == MAX_BLOCKS + 1
    columns = [block_sums(m[:, j], edges) for j in range(m.shape[1])]
    sums = np.column_stack([c[0] for c in columns])
    squares = np.column_stack([c[1] for c in columns])
    whole = pbo_cscv(m)
    for metric in ("mean", "sharpe"):
        streamed = pbo_from_blocks(sums, squares, edges, m.shape[0], metric)
        assert streamed.pbo == pytest.approx(pbo_cscv(m, metric=metric).pbo)
    monkeypatch.setattr("soakkit.evidence.overfit._CHUNK_CELLS", 20)  # 2 splits a chunk
    chunked = pbo_from_blocks(sums, squares, edges, m.shape[0])
    assert chunked.splits == whole.splits == 12_870
    assert np.allclose(chunked.logits, whole.logits) and chunked.pbo == whole.pbo
    assert cscv_edges(1).size == 0 and math.isnan(pbo_from_blocks(
        np.zeros((0, 3)), np.zeros((0, 3)), cscv_edges(1), 1).pbo)
    with pytest.raises(ValueError, match="do not match"):
        pbo_from_blocks(sums[:, :2], squares, edges, m.shape[0])


def test_pbo_bounds_its_blocks() -> None:
    m = np.random.default_rng(0).normal(size=(7, 4))
    assert pbo_cscv(m, blocks=16).blocks == 6  # even, at most T
    assert pbo_cscv(np.zeros((100, 3)), blocks=40).blocks == MAX_BLOCKS
    one = pbo_cscv(np.zeros((10, 1)))
    assert math.isnan(one.pbo) and one.splits == 0
    with pytest.raises(ValueError, match="metric"):
        pbo_cscv(m, metric="median")
