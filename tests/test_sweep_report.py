"""The sweep report: seeded statistics, paired comparisons with Holm, categories, Pareto
front, bad selectors, failed cells, risk-adjusted P&L when it exists, and the notebook."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from soakkit.core.errors import UsageError
from soakkit.evidence.stats import bootstrap_mean_ci, holm, paired_sign_flip_p, pareto_front
from soakkit.kpi import KPIS
from soakkit.report import sweep_report
from soakkit.report.sweep_report import load_sweep_report
from soakkit.sweep import SweepSpec, build_grid
from soakkit.sweep.plan import batches, payload
from soakkit.sweep.store import SweepStore, frame_of
from soakkit.sweep.task import run_batch

from .conftest import run_subprocess

NOW_ISO = "2026-01-01T00:00:00.000Z"
BASELINE = "profile=steady_safe,base_spread_bps_delta=0.14"


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
def test_bootstrap_interval_is_seeded_and_sane() -> None:
    x = np.random.default_rng(3).normal(10.0, 2.0, size=40)
    a = bootstrap_mean_ci(x, np.random.default_rng(1))
    assert a == bootstrap_mean_ci(x, np.random.default_rng(1))
    assert a[0] < x.mean() < a[1] and a[1] - a[0] < 2.0
    assert bootstrap_mean_ci(np.array([4.0]), np.random.default_rng(1)) == (4.0, 4.0)
    assert all(math.isnan(v) for v in bootstrap_mean_ci(np.array([]), np.random.default_rng(1)))


def test_sign_flip_test_exact_and_sampled() -> None:
    rng = np.random.default_rng(0)
    assert paired_sign_flip_p(np.ones(5), rng) == 2 / 32  # only all-plus and all-minus
    assert paired_sign_flip_p(np.array([1.0, -1.0]), rng) == 1.0
    assert paired_sign_flip_p(np.zeros(7), rng) == 1.0
    assert paired_sign_flip_p(np.full(40, 0.5), rng, resamples=999) == 1 / 1000
    noise = np.random.default_rng(5).normal(size=40)
    p = paired_sign_flip_p(noise, np.random.default_rng(9))
    assert p == paired_sign_flip_p(noise, np.random.default_rng(9)) and 1 / 10_001 < p <= 1.0


def test_holm_and_pareto() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, math.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.4) and math.isnan(adjusted[1]) and adjusted[2] == 0.5
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    # risk (lower better), reward (higher better)
    assert pareto_front([0.2, 0.3, 0.3, 0.1, math.nan], [5.0, 6.0, 4.0, 1.0, 9.0]) == \
        [True, True, False, True, False]


# --------------------------------------------------------------------------------------
# a small sweep, run by the real worker function (no scheduler needed for the report)
# --------------------------------------------------------------------------------------
def _sweep(root: Path, fail_seed: int | None = None) -> Path:
    spec = SweepSpec(profiles=("steady_safe", "aggressive"), modes=("volatile", "mixed"),
                     seeds=tuple(range(1, 9)), tune=(False,), iterations=3, sim_minutes=2,
                     sets=(("base_spread_bps_delta", ("0.0", "0.14", "0.16")),),
                     artifacts=root, name="small")
    grid = build_grid(spec)
    store = SweepStore(root / "sweeps" / "small")
    store.create(grid, NOW_ISO, None)
    for batch in batches(grid, set(), 18):
        frame = frame_of(run_batch(payload(grid, batch, NOW_ISO, None)))
        if fail_seed is not None:
            victim = frame.filter((pl.col("seed") == fail_seed) & (pl.col("mode") == "mixed"))
            if victim.height:  # the cells of that market fail, in every configuration
                error = victim.unique("cell_key", keep="first", maintain_order=True).with_columns(
                    pl.lit(None, pl.Int64).alias("iteration"),
                    pl.lit("RuntimeError: poisoned").alias("error"))
                keys = error["cell_key"]
                frame = pl.concat([frame.filter(~pl.col("cell_key").is_in(keys)), error])
        store.write_batch(1, batch.index, frame, None)
    store.mark_latest()
    return root


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sweep(tmp_path_factory.mktemp("sweep"))


@pytest.mark.slow
@pytest.mark.determinism
def test_report_compares_every_configuration_with_the_baseline(small: Path) -> None:
    report = load_sweep_report(small, "latest", baseline=BASELINE, resamples=2000)
    again = load_sweep_report(small, "small", baseline=BASELINE, resamples=2000)
    for name in ("header", "configs", "stats", "comparisons", "ranking", "points", "failures"):
        assert getattr(report, name).equals(getattr(again, name)), name  # seeded: same numbers
    labels = report.configs["configuration"].to_list()
    assert labels == [f"profile={p},base_spread_bps_delta={d}" for p in ("aggressive",
                      "steady_safe") for d in ("0.0", "0.14", "0.16")]
    assert report.configs.filter(pl.col("role") == "baseline")["configuration"].to_list() == \
        ["profile=steady_safe,base_spread_bps_delta=0.14"]
    assert report.configs["cells"].to_list() == [16] * 6  # 2 modes x 8 seeds
    assert [c for c in report.configs.columns if "(" in c or c == "pass rate"] == \
        ["pass rate", "P&L (USD)", "risk-adjusted P&L (ratio)", "risk (ratio)", "volume (USD)"]
    assert report.primary.column == "risk_adjusted_pnl" and report.notes == ()
    assert report.comparisons.height == 5 * 5 and set(report.comparisons["pairs"]) == {16}
    # judged on P&L (metric=pnl_usd), the categories follow from the comparisons: recompute them
    report = load_sweep_report(small, "latest", baseline=BASELINE, metric="pnl_usd",
                               resamples=2000)
    assert report.primary.column == "pnl_usd"
    table = report.comparisons.to_dicts()
    for row in report.ranking.to_dicts():
        pnl = next(r for r in table if r["configuration"] == row["configuration"]
                   and r["metric"] == report.primary.label)
        diff = float(pnl["difference [95% CI]"].split(" ")[0])
        if row["category"] == "better with confidence":
            assert diff > 0 and pnl["significant"]
        elif row["category"] == "only looks better":
            assert diff > 0 and not pnl["significant"]
        elif row["category"] == "better, but less safe":
            assert diff > 0 and pnl["significant"] and "significantly worse" in row["note"]
    categories = dict(zip(report.ranking["configuration"], report.ranking["category"],
                          strict=True))
    assert categories["profile=steady_safe,base_spread_bps_delta=0.0"] == \
        "better with confidence"
    assert categories["profile=aggressive,base_spread_bps_delta=0.0"] == "better, but less safe"
    assert categories["profile=steady_safe,base_spread_bps_delta=0.16"] in (
        "worse with confidence", "not better")
    assert report.points.filter(pl.col("baseline"))["configuration"].to_list() == \
        ["profile=steady_safe,base_spread_bps_delta=0.14"]
    assert report.points["pareto"].any()
    record = report.record()
    assert json.loads(json.dumps(record)) == record
    assert record["correction"] == "holm" and record["failed_cells"] == 0


@pytest.mark.slow
def test_per_mode_pairs_within_each_mode(small: Path) -> None:
    report = load_sweep_report(small, baseline=BASELINE, per_mode=True, resamples=500)
    assert report.configs.height == 12
    assert report.configs["configuration"][0] == \
        "mode=mixed,profile=aggressive,base_spread_bps_delta=0.0"
    assert set(report.comparisons["pairs"]) == {8}
    baselines = report.configs.filter(pl.col("role") == "baseline")["configuration"].to_list()
    assert baselines == [f"mode={m},{BASELINE}" for m in ("mixed", "volatile")]


@pytest.mark.slow
@pytest.mark.parametrize(("baseline", "fragment"), [
    ("profile=steady_safe", "leaves base_spread_bps_delta open (values: 0.0, 0.14, 0.16)"),
    ("profile=cautious,base_spread_bps_delta=0.14", "profile=cautious is not in the sweep"),
    ("colour=red", "'colour=red' is not AXIS=VALUE"),
    ("mode=mixed,profile=steady_safe,base_spread_bps_delta=0.14", "'mode=mixed' is not AXIS"),
])
@pytest.mark.slow
def test_a_bad_baseline_is_one_clear_error(small: Path, baseline: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        load_sweep_report(small, baseline=baseline, resamples=200)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_failed_cells_are_listed_and_left_out(tmp_path: Path) -> None:
    root = _sweep(tmp_path, fail_seed=2)
    report = load_sweep_report(root, baseline=BASELINE, resamples=200)
    assert report.failures.height == 6  # seed 2 in mode mixed, every configuration
    assert set(report.failures["error"]) == {"RuntimeError: poisoned"}
    assert report.configs["cells"].to_list() == [15] * 6
    assert set(report.comparisons["pairs"]) == {15}
    assert report.record()["failed_cells"] == 6


@pytest.mark.slow
def test_pnl_is_the_primary_metric_when_risk_adjusted_pnl_is_missing(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a sweep stored by an older soakkit: its rows do not carry risk_adjusted_pnl
    copy = tmp_path / "sweeps" / "small"
    copy.mkdir(parents=True)
    for part in (small / "sweeps" / "small").iterdir():
        if part.suffix == ".parquet":
            pl.read_parquet(part).drop("risk_adjusted_pnl").write_parquet(copy / part.name)
        elif part.name == "sweep.json":
            (copy / part.name).write_bytes(part.read_bytes())
    report = load_sweep_report(tmp_path, "small", baseline=BASELINE, resamples=200)
    assert report.primary.column == "pnl_usd"
    assert "this sweep's rows do not carry it" in report.notes[0]
    assert "risk-adjusted P&L (ratio)" not in report.configs.columns
    # a soakkit that defines no such KPI judges on P&L too, and says why
    monkeypatch.setattr(sweep_report, "KPIS", {k: v for k, v in KPIS.items()
                                               if k != "risk_adjusted_pnl"})
    report = load_sweep_report(small, baseline=BASELINE, resamples=200)
    assert report.primary.column == "pnl_usd"
    assert report.notes == ('Risk-adjusted P&L is not available: this soakkit defines no such '
                            'KPI. "Better" is judged on P&L instead.',)


@pytest.mark.slow
def test_soakkit_report_sweep_renders_the_notebook(small: Path, tmp_path: Path) -> None:
    result = run_subprocess("report", "sweep", "-p", "artifacts", str(small), "-p", "sweep",
                            "latest", "-p", "baseline", BASELINE, "-p", "resamples", "500",
                            "-p", "metric", "pnl_usd",
                            "--out", str(tmp_path / "reports"),
                            "--now", "2026-01-02T00:00:00Z")
    assert result.code == 0, result.err
    folder = (tmp_path / "reports" / "latest" / "sweep").resolve()
    assert (folder / "pnl_vs_risk.png").stat().st_size > 10_000
    html = (folder / "report.html").read_text()
    assert "better with confidence" in html and "Holm" in html
    record = json.loads((folder / "kpis.json").read_text())["sweep"]
    assert record["sweep"] == "small" and record["baseline"] == BASELINE
    assert "profile=steady_safe,base_spread_bps_delta=0.0" in record["better_with_confidence"]
