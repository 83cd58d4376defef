"""Sweeps without a cluster: parsing, validation and bad input, cell keys, batches, the
worker task (the same numbers as `soakkit soak`), deduplicated reads, progress output."""

from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from soakkit.artifacts.layout import sweep_part_name
from soakkit.core.errors import UsageError
from soakkit.rotation import RotationPolicy, rotate
from soakkit.sim.version import ENGINE_VERSION
from soakkit.soak import SoakOptions, run_soak
from soakkit.sweep import SweepSpec, build_grid, load_results
from soakkit.sweep.plan import (
    GUIDED_SHARE,
    TARGET_TASK_SECONDS,
    batch_size,
    batches,
    cell_seconds,
    payload,
    window_size,
)
from soakkit.sweep.progress import ProgressPrinter, StartInfo
from soakkit.sweep.spec import format_seeds, parse_seeds
from soakkit.sweep.store import SweepStore, frame_of
from soakkit.sweep.task import BatchPayload, run_batch

from .conftest import CliResult, assert_one_line_error, run_subprocess
from .rotation_helpers import NOW, write

NOW_ISO = "2026-01-01T00:00:00.000Z"


def _spec(tmp_path: Path, **kw: object) -> SweepSpec:
    base: dict[str, object] = {"profiles": ("steady_safe",), "modes": ("mixed",),
                               "seeds": (1, 2), "tune": (True,), "iterations": 3,
                               "sim_minutes": 2, "artifacts": tmp_path}
    base.update(kw)
    return SweepSpec(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# text forms
# --------------------------------------------------------------------------------------
def test_seed_ranges() -> None:
    assert parse_seeds("1-5") == (1, 2, 3, 4, 5)
    assert parse_seeds("7") == (7,)
    assert parse_seeds("3, 1-2,3,10-11") == (3, 1, 2, 10, 11)
    assert format_seeds(parse_seeds("1-20,25,30-31")) == "1-20,25,30-31"


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=50, unique=True))
def test_seed_text_round_trips(seeds: list[int]) -> None:
    assert parse_seeds(format_seeds(seeds)) == tuple(seeds)


@pytest.mark.parametrize(("text", "fragment"), [
    ("5-1", "range 5-1 is descending"), ("a-b", "'a-b' is not a seed"), ("", "empty grid"),
    ("1,,2", "'' is not a seed"), ("-3", "'-3' is not a seed"), ("1-2-3", "not a seed")])
def test_malformed_seeds_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(UsageError, match="--seeds") as info:
        parse_seeds(text)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------------------
# bad input: one line, exit 2, before any work starts
# --------------------------------------------------------------------------------------
BASE = ["--profiles", "steady_safe", "--modes", "mixed", "--seeds", "1-2", "--iterations", "2",
        "--sim-minutes", "2"]


def _with(**changes: str) -> list[str]:
    argv = list(BASE)
    for flag, value in changes.items():
        argv[argv.index(f"--{flag}") + 1] = value
    return argv


@pytest.mark.parametrize(("argv", "fragments"), [
    (_with(seeds=""), ["--seeds", "empty grid"]),
    (_with(profiles=""), ["--profiles", "empty grid"]),
    (_with(modes=" "), ["--modes", "empty grid"]),
    ([*BASE, "--set", "tail_age_ms="], ["--set", "empty grid"]),
    (_with(profiles="steady_safe,nope"), ["--profiles 'nope'", "no such profile",
                                          "available: aggressive, join_touch, steady_safe, "
                                          "ultra_safe"]),
    (_with(modes="mixed,choppy"), ["--modes 'choppy'", "unknown mode"]),
    (_with(seeds="5-1"), ["--seeds '5-1'", "descending"]),
    (_with(seeds="a-b"), ["--seeds 'a-b'", "not a seed"]),
    ([*BASE, "--set", "tail_age=500,600"], ["--set tail_age=500,600",
                                            "unknown parameter 'tail_age'", "tail_age_ms"]),
    ([*BASE, "--set", "tail_age_ms=500,9999"], ["--set tail_age_ms=500,9999", "out of bounds"]),
    ([*BASE, "--set", "tail_age_ms=500", "--set", "tail_age_ms=600"], ["given twice"]),
    ([*BASE, "--tune", "maybe"], ["--tune", "invalid choice"]),
    ([*BASE, "--iterations", "0"], ["argument --iterations: 0: expected a value 1..100000"]),
    ([*BASE, "--name", "latest"], ["--name 'latest'"]),
    ([*BASE, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["--workers"]),
    ([*BASE, "--batch-size", "0"], ["argument --batch-size: 0: expected a value 1..1000000"]),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          argv: list[str],
                                                          fragments: list[str]) -> None:
    result = cli("sweep", *argv, "--artifacts", str(tmp_path / "a"))
    assert result.code == 2, result
    assert_one_line_error(result, *fragments)
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "a" / "sweeps").exists()


@pytest.mark.parametrize(("option", "value", "flag", "most"), [
    ("workers", 0, "--workers", "1024"), ("workers", 1025, "--workers", "1024"),
    ("batch_size", 1_000_001, "--batch-size", "1000000"),
    ("window", 1_000_001, "--window", "1000000"), ("window", True, "--window", "1000000"),
    ("workers", "4", "--workers", "1024"), ("window", 1.5, "--window", "1000000")])
def test_the_python_api_bounds_the_execution_options_as_the_cli_does(
        tmp_path: Path, option: str, value: object, flag: str, most: str) -> None:
    spec = SweepSpec(seeds=(1,), artifacts=tmp_path, **{option: value})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=f"^{flag} {value!r}: expected an integer in 1..{most}$"):
        build_grid(spec)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unreachable(result: CliResult, tmp_path: Path, *fragments: str) -> None:
    assert result.code == 2, result
    assert_one_line_error(result, "cannot reach the Dask scheduler", *fragments)
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "a" / "sweeps").exists()


@pytest.mark.slow
def test_an_unreachable_scheduler_is_exit_2_before_any_work(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    common = [*BASE, "--artifacts", str(tmp_path / "a"), "--connect-timeout", "1"]
    _unreachable(run_subprocess("sweep", *common, "--scheduler", address), tmp_path,
                 f"--scheduler {address}")
    _unreachable(run_subprocess("sweep", *common, env={"DASK_SCHEDULER_ADDRESS": address}),
                 tmp_path, f"DASK_SCHEDULER_ADDRESS {address}")
    missing = run_subprocess("sweep", *common, "--scheduler-file", str(tmp_path / "none.json"))
    assert missing.code == 2
    assert_one_line_error(missing, "--scheduler-file", "no such file")


def test_a_name_reused_for_another_grid_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = build_grid(_spec(tmp_path, name="mine"))
    SweepStore(tmp_path / "sweeps" / "mine").create(grid, NOW_ISO, None)
    result = cli("sweep", *_with(seeds="1-3"), "--name", "mine", "--artifacts", str(tmp_path))
    assert result.code == 2
    assert_one_line_error(result, "--name mine", "another grid", "choose another --name")


def test_environment_overrides_are_reported_as_not_applied(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    from soakkit.sweep.runner import _ignored_env

    warnings = _ignored_env({"SOAKKIT_PARAM_TAIL_AGE_MS": "700", "PATH": "/bin"})
    assert warnings == ["SOAKKIT_PARAM_TAIL_AGE_MS is not applied to sweep cells (use --set "
                        "NAME=V1,V2 to sweep or pin a parameter)"]
    assert build_grid(spec).size == 2


# --------------------------------------------------------------------------------------
# grid and keys
# --------------------------------------------------------------------------------------
def test_cells_are_the_cartesian_product_in_grid_order(tmp_path: Path) -> None:
    grid = build_grid(_spec(tmp_path, profiles=("steady_safe", "ultra_safe"),
                            modes=("calm", "volatile"), tune=(True, False),
                            sets=(("tail_age_ms", ("500", "600", "500")),)))
    cells = list(grid.cells())
    assert grid.size == len(cells) == 2 * 2 * 2 * 2 * 2
    assert grid.columns == ("profile", "mode", "tune", "set_tail_age_ms", "seed")
    assert [c.index for c in cells] == list(range(grid.size))
    assert len({c.key for c in cells}) == grid.size
    assert (cells[0].profile, cells[0].mode, cells[0].tune, cells[0].sets, cells[0].seed) == \
        ("steady_safe", "calm", True, (500,), 1)
    assert (cells[-1].profile, cells[-1].mode, cells[-1].tune, cells[-1].sets) == \
        ("ultra_safe", "volatile", False, (600,))


def test_a_cell_key_changes_with_everything_that_determines_the_result(tmp_path: Path) -> None:
    def key(**kw: object) -> str:
        return next(build_grid(_spec(tmp_path, **{"seeds": (1,), **kw})).cells()).key

    base = key()
    assert key() == base and key(name="other", workers=3, batch_size=7) == base
    variants = [key(profiles=("ultra_safe",)), key(modes=("calm",)), key(seeds=(2,)),
                key(tune=(False,)), key(iterations=4), key(sim_minutes=3), key(gate="smoke"),
                key(sets=(("tail_age_ms", ("620",)),))]
    assert len({base, *variants}) == len(variants) + 1
    # the profile's content: the same name with other bytes is another cell
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "steady_safe.json").write_text(
        json.dumps({"schema_version": 1, "params": {"tail_age_ms": 700}}))
    assert key() != base


def test_batches_skip_done_cells_and_are_generated_lazily(tmp_path: Path) -> None:
    grid = build_grid(_spec(tmp_path, seeds=tuple(range(100_000))))
    first = next(batches(grid, set(), 10))  # no list of 100,000 cells is built
    assert [c.seed for c in first.cells] == list(range(10))
    small = build_grid(_spec(tmp_path, seeds=tuple(range(10))))
    done = {c.key for c in small.cells() if c.seed % 3 == 0}
    planned = list(batches(small, done, 3))
    assert [[c.seed for c in b.cells] for b in planned] == [[1, 2, 4], [5, 7, 8]]
    assert [b.index for b in planned] == [0, 1]


def test_guided_batches_shrink_to_one_cell_and_cover_every_cell_once(tmp_path: Path) -> None:
    grid = build_grid(_spec(tmp_path, seeds=tuple(range(100))))
    done = {c.key for c in grid.cells() if c.seed % 10 == 0}
    todo = grid.size - len(done)
    planned = list(batches(grid, done, 24, guided=(todo, 2)))
    sizes = [len(b.cells) for b in planned]
    assert sizes == sorted(sizes, reverse=True) and max(sizes) <= 24 and sizes[-1] == 1
    # each batch takes at most a GUIDED_SHARE x threads share of what was left
    left = todo
    for size in sizes:
        assert size <= max(1, -(-left // (GUIDED_SHARE * 2)))
        left -= size
    cells = [c.key for b in planned for c in b.cells]
    assert cells == [c.key for c in grid.cells() if c.key not in done]
    assert [b.index for b in planned] == list(range(len(planned)))
    assert [len(b.cells) for b in batches(grid, done, 24)][:-1] == [24] * (todo // 24)


def test_batch_size_and_window(tmp_path: Path) -> None:
    big = build_grid(_spec(tmp_path, iterations=1, sim_minutes=1))
    size = batch_size(big, 100_000, 2)  # about TARGET_TASK_SECONDS of work per task
    assert size * cell_seconds(big) <= TARGET_TASK_SECONDS < (size + 1) * cell_seconds(big)
    assert batch_size(big, 40, 2) == 5  # at least four tasks per worker thread
    assert batch_size(build_grid(_spec(tmp_path, iterations=12, sim_minutes=1440)), 10**5, 2) == 1
    assert batch_size(build_grid(_spec(tmp_path, batch_size=7)), 10, 2) == 7
    assert window_size(big, 2) == 5 and window_size(big, 0) == 3
    assert window_size(build_grid(_spec(tmp_path, window=9)), 64) == 9


# --------------------------------------------------------------------------------------
# the worker task
# --------------------------------------------------------------------------------------
def _payload(tmp_path: Path, runs_dir: str | None = None, **kw: object) -> BatchPayload:
    grid = build_grid(_spec(tmp_path, **kw))
    return payload(grid, next(batches(grid, set(), 100)), NOW_ISO, runs_dir)


@pytest.mark.determinism
def test_a_cell_computes_what_soakkit_soak_computes(tmp_path: Path) -> None:
    columns = run_batch(_payload(tmp_path, seeds=(3,), iterations=4, modes=("volatile",),
                                 sets=(("tail_age_ms", ("700",)),)))
    run = run_soak(SoakOptions(profile="steady_safe", iterations=4, mode="volatile", seed=3,
                               sim_minutes=2, gate="production", sets=("tail_age_ms=700",),
                               artifacts=tmp_path / "soak", now=NOW_ISO), env={})
    for n in range(1, 5):
        doc = json.loads((run.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
        row = n - 1
        assert columns["iteration"][row] == n
        assert columns["verdict"][row] == doc["gate"]["verdict"]
        assert columns["tuning_applied"][row] == doc["tuning"]["applied"]
        assert columns["regime"][row] == doc["regime"]
        for kpi in ("net_bps", "risk_ratio", "pnl_usd", "volume_usd", "fill_count"):
            assert columns[kpi][row] == doc["summary"][kpi]
    assert set(columns["run_verdict"]) == {run.verdict.verdict}


def test_write_runs_gives_the_same_rows_and_real_run_folders(tmp_path: Path) -> None:
    in_memory = run_batch(_payload(tmp_path))
    on_disk = run_batch(_payload(tmp_path, runs_dir=str(tmp_path / "sw")))
    assert on_disk == in_memory
    runs = sorted(p.name for p in (tmp_path / "sw" / "runs").iterdir())
    assert len(runs) == 2 and runs[0].startswith("steady_safe-mixed-s1-tuned-")
    assert (tmp_path / "sw" / "profiles" / "steady_safe.json").is_file()


def test_a_failing_cell_is_an_error_row_and_the_batch_goes_on(tmp_path: Path) -> None:
    good = _payload(tmp_path, seeds=(1, 2, 3))
    broken = BatchPayload(**{**good.__dict__, "profiles": {
        "steady_safe": (good.profiles["steady_safe"][0], b'{"schema_version": 1, "params": 7}')}})
    columns = run_batch(broken)  # bytes that do not match their sha256: every cell fails
    assert len(columns["error"]) == 3
    assert all(e.startswith("ArtifactError: profile steady_safe: the bytes sent do not have")
               for e in columns["error"])
    assert columns["iteration"] == [None, None, None]


def test_a_worker_with_another_engine_refuses_the_batch(tmp_path: Path) -> None:
    stale = BatchPayload(**{**_payload(tmp_path).__dict__, "engine_version": ENGINE_VERSION + 1})
    with pytest.raises(RuntimeError, match="engine version"):
        run_batch(stale)


# --------------------------------------------------------------------------------------
# results on disk
# --------------------------------------------------------------------------------------
def test_reads_give_every_cell_once_preferring_a_success(tmp_path: Path) -> None:
    grid = build_grid(_spec(tmp_path, seeds=(1, 2, 3), name="s"))
    store = SweepStore(tmp_path / "sweeps" / "s")
    store.folder.mkdir(parents=True)
    store.create(grid, NOW_ISO, None)
    ok = run_batch(payload(grid, next(batches(grid, set(), 10)), NOW_ISO, None))
    frame = frame_of(ok)
    k1, k2, k3 = frame["cell_key"].unique(maintain_order=True).to_list()
    failed = frame.filter(pl.col("cell_key") == k2).head(1).with_columns(
        pl.lit(None, pl.Int64).alias("iteration"), pl.lit("boom").alias("error"))
    store.write_batch(1, 0, failed, None)  # k2 failed first
    store.write_batch(2, 0, frame, None)  # then everything ran
    store.write_batch(3, 0, frame.filter(pl.col("cell_key") == k1), None)  # k1 again
    store.write_batch(3, 1, failed.with_columns(pl.lit("late").alias("error")), None)
    assert store.done_keys() == {k1, k2, k3} and store.next_session() == 4
    got = load_results(tmp_path, "s")
    assert got.height == 9 and got["error"].null_count() == 9
    assert got.group_by("cell_key").len()["len"].to_list() == [3, 3, 3]
    assert got["seed"].to_list() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    (tmp_path / "sweeps" / "s" / sweep_part_name(4, 0)).write_bytes(b"not parquet")
    with pytest.raises(Exception, match="not a readable parquet file"):
        load_results(tmp_path, "s")


def test_rotation_never_touches_sweeps(tmp_path: Path) -> None:
    for folder in ("runs/r1", "sweeps/s/runs/r1"):
        for n in range(1, 6):
            write(tmp_path / folder / f"ITER_SUMMARY_{n}.json", b'{"iteration": 1}\n', 30.0)
    write(tmp_path / "sweeps" / "s" / "part-0001-000000.parquet", b"x" * 100, 30.0)
    rotate(tmp_path, RotationPolicy(keep_latest=2, ttl_days=7.0), now=NOW)
    assert len(list((tmp_path / "runs" / "r1").glob("ITER_SUMMARY_*.json*"))) == 2
    assert sorted(p.name for p in (tmp_path / "sweeps" / "s" / "runs" / "r1").iterdir()) == \
        [f"ITER_SUMMARY_{n}.json" for n in range(1, 6)]
    assert (tmp_path / "sweeps" / "s" / "part-0001-000000.parquet").read_bytes() == b"x" * 100


# --------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


INFO = StartInfo("sw-1", 100, 20, 10, "local cluster, 2 worker process(es)",
                 "http://127.0.0.1:8787/status", "A/sweeps/sw-1")


def test_progress_on_a_terminal_is_a_bar_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), _Clock()
    printer = ProgressPrinter(out, tty=True, monotonic=clock)
    printer.start(INFO)
    clock.t += 4.0
    printer.advance(40, 1)
    text = out.getvalue()
    assert text.startswith("sweep sw-1: 100 cells, 20 done earlier, 80 to run in batches of up to "
                           "10 on the local cluster, 2 worker process(es)\n"
                           "dashboard: http://127.0.0.1:8787/status\n")
    bar = "#" * 17 + "." * 11  # 60 % of 28
    assert text.endswith(f"\r[{bar}] 60/100 cells  60%  10.0 cells/s  ETA 0:00:04  1 failed"
                         "\x1b[K")


def test_progress_off_a_terminal_is_a_line_every_interval() -> None:
    out, clock = io.StringIO(), _Clock()
    printer = ProgressPrinter(out, tty=False, interval_s=30.0, monotonic=clock)
    printer.start(INFO)
    for _ in range(8):
        clock.t += 5.0
        printer.advance(10, 0)
    printer.finish("finished")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[3:] == [
        "sweep sw-1: 80/100 cells (80%), 0 failed, 2.0 cells/s, ETA 0:00:10",
        "sweep sw-1: 100/100 cells (100%), 0 failed, 2.0 cells/s, ETA 0:00:00"]


def test_a_refusing_file_system_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    from soakkit.core.errors import ArtifactError

    grid = build_grid(_spec(tmp_path, name="s"))
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "s").write_text("a file where the sweep's folder goes\n")
    store = SweepStore(tmp_path / "sweeps" / "s")
    with pytest.raises(ArtifactError, match="cannot create"), store.lock():
        pass
    with pytest.raises(ArtifactError, match=r"sweep\.json: cannot write"):
        store.create(grid, NOW_ISO, None)
    frame = frame_of(run_batch(payload(grid, next(batches(grid, set(), 10)), NOW_ISO, None)))
    with pytest.raises(ArtifactError, match=r"part-0001-000000.parquet: cannot write .*rerun"):
        store.write_batch(1, 0, frame, None)


def _processes_in_session(session: int) -> list[str]:
    """Command lines of the live processes of ``session`` (from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            found.append((stat_file.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                         .decode(errors="replace"))
    return found


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_a_sweep_leaves_no_process_and_one_worker_runs_here(tmp_path: Path,
                                                            workers: str) -> None:
    """A finished sweep leaves nothing of its session alive (scheduler, nannies, workers:
    a process still exiting as the client returns is given a moment, not a life);
    one worker: no cluster, no Dask imported, the cells in the sweep's own process."""
    import subprocess
    import sys

    from .conftest import subprocess_env

    code = ("import sys\nfrom soakkit.cli import main\ncode = main(sys.argv[1:])\n"
            "print('dask imported:', 'distributed' in sys.modules)\nsys.exit(code)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "sweep", *BASE, "--workers", workers, "--artifacts",
         str(tmp_path), "--now", NOW_ISO], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=subprocess_env(), start_new_session=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    # a worker still exiting when the client returns may outlive it briefly; none stays
    deadline = time.monotonic() + 30
    while _processes_in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in_session(proc.pid) == []
    if workers == "1":
        assert "dask imported: False" in out and "local process, 1 worker" in err
    else:
        assert "local cluster, 2 worker process(es)" in err
    frame = pl.read_parquet(sorted((tmp_path / "sweeps").glob("*/part-*.parquet")))
    assert "4 cells: 0 done earlier, 4 run now, 0 failed" in out
    assert frame["error"].null_count() == frame.height and frame["cell_key"].n_unique() == 4
