"""The tuning evidence runs on calibrated markets and recorded tapes as well as modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from soakkit.evidence.study import market_label, paired_ci, static_kpis
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import SoakOptions

from .conftest import REPO

SAMPLE = REPO / "examples" / "tapes" / "sample"


def test_labels_name_the_market_not_its_path(tmp_path: Path) -> None:
    assert market_label("volatile") == "volatile"
    assert market_label(f"tape={SAMPLE}") == "tape:sample"
    assert market_label(f"market={tmp_path / 'venue.json'}") == "market:venue"


def test_a_tape_cell_replays_the_tape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    replayed = static_kpis("steady_safe", f"tape={SAMPLE}", 70001, iterations=2,
                           sim_minutes=1)
    direct = run_in_memory(SoakOptions(profile="steady_safe", iterations=2, seed=70001,
                                       sim_minutes=1, gate="production", tune=False,
                                       market_data=SAMPLE, artifacts=tmp_path / "a"))
    assert replayed == [dict(r.kpis) for r in direct]
    synthetic = static_kpis("steady_safe", "calm", 70001, iterations=2, sim_minutes=1)
    assert replayed != synthetic


def test_paired_differences_skip_seeds_without_a_defined_value() -> None:
    """net_bps of a run without fills is NaN: that seed drops out of the pair, and a metric
    no seed defines is reported as undefined, never as a number."""
    nan = float("nan")
    d = paired_ci([1.0, nan, 3.0], [0.0, 5.0, 1.0])
    assert (d.mean_a, d.mean_b, d.diff, d.up, d.down, d.n) == (2.0, 0.5, 1.5, 2, 0, 2)
    assert 1.0 <= d.lo <= d.hi <= 2.0
    none = paired_ci([nan, nan], [1.0, 2.0])
    assert none.to_json()["diff"] is None and none.to_json()["ci95"] == [None, None]


def test_pairs_of_one_sampling_unit_count_once() -> None:
    """On a replay the seeds share the recorded window: telling paired_ci the window averages
    its seeds into one unit, so more seeds never narrow the interval (as independent
    markets would)."""
    windows = [0.4, -0.1, 0.3, 0.05]  # a's edge over b in each held-back window
    seeds = 25  # latency draws per window: tiny noise around the window's value
    a = [w + 1e-4 * ((s * 7919) % 11 - 5) for w in windows for s in range(seeds)]
    b = [0.0] * len(a)
    units = [("tape:x", n) for n in range(len(windows)) for _ in range(seeds)]
    by_window = paired_ci(a, b, units=units)
    assert (by_window.n, by_window.up, by_window.down) == (4, 3, 1)
    assert by_window.diff == pytest.approx(sum(windows) / 4, abs=1e-4)
    same = paired_ci([sum(a[k * seeds:(k + 1) * seeds]) / seeds for k in range(4)], [0.0] * 4)
    assert (by_window.lo, by_window.hi) == pytest.approx((same.lo, same.hi))
    assert by_window.lo < 0 < by_window.hi  # four windows, one against: not separated
    as_seeds = paired_ci(a, b)  # every draw taken for an independent market
    assert as_seeds.n == 100 and as_seeds.lo > 0  # the interval a replay must not claim
    # one pair per unit is the plain per-seed interval, bit for bit
    assert paired_ci(a, b, units=list(range(len(a)))) == as_seeds
    # a pair without a defined value drops out of its unit only
    nan = float("nan")
    some = paired_ci([1.0, nan, 3.0, 5.0], [0.0, 0.0, 1.0, 1.0], units=["w1", "w1", "w2", "w2"])
    assert (some.n, some.diff) == (2, 2.0)  # w1: 1 (one defined pair), w2: (2 + 4) / 2
    with pytest.raises(ValueError, match="3 units for 2 pairs"):
        paired_ci([1.0, 2.0], [0.0, 0.0], units=["w1", "w1", "w2"])
