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
