"""Issue 28, cases 2, 7, 9 and 10 on sweeps and their report.

A sweep run with ``--tune off`` (one configuration: nothing to compare) gets its report; a
grid above the cell bound is refused before anything runs, every bad grid value is named
at once, a corrupt batch file says what to do with it, and the sweep report's baseline,
metric and resamples are checked before a kernel starts. A parameter given twice is an
error, never "the last one wins".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soakkit.core.errors import ExitCode, UsageError
from soakkit.evidence.stats import MAX_RESAMPLES
from soakkit.report.sweep_report import load_sweep_report
from soakkit.sweep import SweepSpec, build_grid
from soakkit.sweep.plan import batches, payload
from soakkit.sweep.spec import MAX_CELLS
from soakkit.sweep.store import SweepStore, frame_of
from soakkit.sweep.task import run_batch

from .conftest import assert_one_line_error, run_subprocess

NOW_ISO = "2026-01-01T00:00:00.000Z"


def _stored_sweep(root: Path, *, tune: tuple[bool, ...] = (False,), name: str = "off") -> Path:
    """A small sweep stored by the real worker function (no scheduler needed)."""
    spec = SweepSpec(profiles=("steady_safe",), modes=("calm",), seeds=(1, 2, 3), tune=tune,
                     iterations=2, sim_minutes=1, artifacts=root, name=name)
    grid = build_grid(spec)
    store = SweepStore(root / "sweeps" / name)
    store.create(grid, NOW_ISO, None)
    for batch in batches(grid, set(), 3):
        store.write_batch(1, batch.index, frame_of(run_batch(payload(grid, batch, NOW_ISO,
                                                                     None))), None)
    store.mark_latest()
    return root


@pytest.fixture(scope="module")
def tune_off(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _stored_sweep(tmp_path_factory.mktemp("off"))


# ------------------------------------------------------------------ 2. one configuration
def test_a_sweep_with_one_configuration_has_a_report(tune_off: Path) -> None:
    report = load_sweep_report(tune_off, "latest", resamples=200)
    assert report.configs.height == 1 and report.configs["role"].to_list() == ["baseline"]
    assert report.comparisons.height == 0 and report.ranking.height == 0
    assert "category" in report.ranking.columns
    assert any("only the baseline" in note for note in report.notes), report.notes
    assert report.record()["better_with_confidence"] == []


@pytest.mark.slow
def test_soakkit_report_sweep_on_a_tune_off_sweep(tune_off: Path, tmp_path: Path) -> None:
    result = run_subprocess("report", "sweep", "-p", "artifacts", str(tune_off), "-p",
                            "resamples", "200", "--out", str(tmp_path / "reports"),
                            "--now", "2026-01-02T00:00:00Z")
    assert result.code == 0, result.err
    record = json.loads((tmp_path / "reports" / "latest" / "sweep" / "kpis.json").read_text())
    assert record["sweep"]["categories"] == {}


# ------------------------------------------------------------------ 9. checked before a kernel
@pytest.mark.parametrize(("param", "value", "fragment"), [
    ("baseline", "garbage", "-p baseline: baseline 'garbage': 'garbage' is not AXIS=VALUE"),
    ("baseline", "profile=aggressive", "profile=aggressive is not in the sweep"),
    ("metric", "sharpe", "-p metric: metric 'sharpe': expected auto or one of"),
    ("resamples", "100000000000", f"-p resamples 100000000000: expected a value "
                                  f"100..{MAX_RESAMPLES}")])
def test_sweep_report_parameters_are_checked_before_a_kernel(tune_off: Path, tmp_path: Path,
                                                             cli, param: str, value: str,  # type: ignore[no-untyped-def]
                                                             fragment: str) -> None:
    # the real kernel: had the check passed, a kernel would run and fail (exit 1, a folder)
    result = cli("report", "sweep", "-p", "artifacts", str(tune_off), "-p", param, value,
                 "--out", str(tmp_path / "reports"))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, fragment)
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "reports").exists()


def test_resamples_are_bounded_in_the_python_api(tune_off: Path) -> None:
    with pytest.raises(UsageError, match=f"expected a value 100..{MAX_RESAMPLES}"):
        load_sweep_report(tune_off, resamples=MAX_RESAMPLES + 1)


@pytest.mark.parametrize("argv", [
    ["report", "kpi", "-p", "gate", "smoke", "-p", "gate", "production"],
    ["report", "sweep", "-p", "resamples", "200", "-p", "resamples", "300"]])
def test_a_report_parameter_given_twice_is_an_error(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                    argv: list[str]) -> None:
    result = cli(*argv, "--out", str(tmp_path / "reports"), "--kernel", "soakkit-no-such-kernel")
    assert result.code == ExitCode.USAGE
    name = argv[3]
    assert_one_line_error(result, f"-p {name} is given twice ({argv[4]}, {argv[7]}); "
                                  "give it once")


# ------------------------------------------------------------------ 7. runaway grid sizes
def test_a_grid_above_the_cell_bound_is_refused_before_anything_runs(cli, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                     ) -> None:
    values = ",".join(str(v) for v in range(400, 800))
    result = cli("sweep", "--profiles", "steady_safe,ultra_safe,aggressive", "--modes",
                 "calm,volatile,spike,mixed", "--tune", "both", "--set",
                 f"tail_age_ms={values}", "--seeds", "1-1000000", "--artifacts",
                 str(tmp_path / "a"), "--scheduler", "tcp://127.0.0.1:9")
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "the grid has 9,600,000,000 cells (3 profiles x 4 modes x "
                                  "2 tuner settings x 400 tail_age_ms values x 1,000,000 "
                                  f"seeds); at most {MAX_CELLS:,}")
    assert not (tmp_path / "a" / "sweeps").exists()
    seeds = cli("sweep", "--seeds", f"0-{MAX_CELLS}", "--artifacts", str(tmp_path / "a"))
    assert seeds.code == ExitCode.USAGE
    assert_one_line_error(seeds, f"more than {MAX_CELLS:,} seeds")


def test_the_cell_bound_is_in_the_help() -> None:
    help_text = run_subprocess("sweep", "--help").out
    assert f"at most {MAX_CELLS:,} cells" in " ".join(help_text.split())
    report_help = " ".join(run_subprocess("report", "--help").out.split())
    assert f"-p resamples 100..{MAX_RESAMPLES}" in report_help


# ------------------------------------------------------------------ 10. every bad value at once
def test_every_bad_grid_value_is_reported_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("sweep", "--profiles", "steady_safe,nope1,nope2", "--modes", "calm,foo,bar",
                 "--seeds", "1", "--set", "tail_age_ms=1,620,99999", "--set", "nope=1",
                 "--artifacts", str(tmp_path / "a"))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result)
    lines = result.err.strip().splitlines()
    for fragment in ("--modes 'foo': unknown mode", "--modes 'bar': unknown mode",
                     "--profiles 'nope1'", "--profiles 'nope2'",
                     "--set tail_age_ms=1,620,99999: tail_age_ms: 1 is out of bounds",
                     "--set tail_age_ms=1,620,99999: tail_age_ms: 99999 is out of bounds",
                     "--set nope=1: unknown parameter 'nope'"):
        assert sum(fragment in line for line in lines) == 1, (fragment, lines)
    assert len(lines) == 7, lines


def test_a_corrupt_batch_file_says_what_to_do(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _stored_sweep(tmp_path, name="broken")
    part = sorted((root / "sweeps" / "broken").glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])
    result = cli("sweep", "--profiles", "steady_safe", "--modes", "calm", "--seeds", "1-3",
                 "--tune", "off", "--iterations", "2", "--sim-minutes", "1", "--name",
                 "broken", "--artifacts", str(root))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"{part}: not a readable parquet file (truncated or "
                                  "damaged); delete it and rerun the same sweep command: "
                                  "its cells run again")
    assert "PAR1" not in result.err and "specification" not in result.err
    report = cli("report", "sweep", "-p", "artifacts", str(root), "-p", "sweep", "broken",
                 "--out", str(tmp_path / "reports"), "--kernel", "soakkit-no-such-kernel")
    assert report.code == ExitCode.USAGE
    assert_one_line_error(report, f"{part}: not a readable parquet file")
