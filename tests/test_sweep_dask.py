"""Sweeps on real Dask clusters: a separately started scheduler with two workers, and the
local cluster; a worker killed mid-sweep, the client killed mid-sweep, a poisoned cell.

The cluster (``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1, free ports,
temp folders) is started once for the module and stopped at the end. Cells are small
(few iterations of few simulated minutes) so the module stays quick on a loaded machine.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from soakkit.artifacts.layout import SWEEP_PART_RE
from soakkit.catalog import load_catalog
from soakkit.sweep import SweepSpec, build_grid, load_results, run_sweep
from soakkit.sweep.task import cell_run_id

from .conftest import CliResult, run_subprocess
from .dask_support import DaskCluster, wait_for

pytestmark = pytest.mark.slow

#: The issue's grid: 2 profiles × 2 modes × 20 seeds × tune both = 160 cells.
DONE_WHEN = ["--profiles", "steady_safe,ultra_safe", "--modes", "volatile,mixed",
             "--seeds", "1-20", "--tune", "both", "--iterations", "3", "--sim-minutes", "2",
             "--gate", "production", "--now", "2026-01-01T00:00:00Z"]
#: The same grid with somewhat longer cells and small batches, so a sweep lasts long
#: enough to be interrupted between two batches.
LONGER = [*DONE_WHEN[:-6], "--iterations", "4", "--sim-minutes", "3", "--batch-size", "2",
          "--now", "2026-01-01T00:00:00Z"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    c = DaskCluster(tmp_path_factory.mktemp("dask")).start(workers=2)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def two_workers(cluster: DaskCluster) -> DaskCluster:
    """The module's cluster with both workers up (a test may have killed one)."""
    for name in ("w0", "w1"):
        if not cluster.alive(name):
            cluster.add_worker(name)
    return cluster


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.upper().startswith(("SOAKKIT_", "MM_", "SOAK_", "DASK_"))
            or k in ("SOAKKIT_CACHE_DIR", "SOAKKIT_TEST_SESSION_START")}


def _start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "soakkit", "sweep", *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())


def _finish(proc: subprocess.Popen[str]) -> CliResult:
    out, err = proc.communicate(timeout=600)
    return CliResult(proc.returncode, out, err)


def _folder(art: Path) -> Path:
    return (art / "sweeps" / "latest").resolve() if (art / "sweeps" / "latest").exists() \
        else next((art / "sweeps").iterdir())


def _parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if SWEEP_PART_RE.match(p.name))


def _keys_by_session(folder: Path) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for path in _parts(folder):
        session = int(SWEEP_PART_RE.match(path.name).group(1))  # type: ignore[union-attr]
        keys = pl.read_parquet(path, columns=["cell_key"])["cell_key"].unique().to_list()
        out.setdefault(session, []).extend(keys)
    return out


def _assert_every_cell_once(art: Path, cells: int, iterations: int) -> pl.DataFrame:
    frame = load_results(art)
    assert frame["cell_key"].n_unique() == cells
    assert frame["error"].null_count() == frame.height, frame.filter(pl.col("error").is_not_null())
    per_cell = frame.group_by("cell_key").agg(pl.col("iteration").sort())
    assert per_cell["iteration"].to_list() == [list(range(1, iterations + 1))] * cells
    return frame


def test_done_when_grid_runs_on_a_separate_scheduler_and_on_the_local_cluster(
        two_workers: DaskCluster, tmp_path: Path) -> None:
    remote = run_subprocess("sweep", *DONE_WHEN, "--scheduler", two_workers.address,
                            "--artifacts", str(tmp_path / "remote"))
    assert remote.code == 0, remote.err
    assert f"on the scheduler {two_workers.address}" in remote.err
    assert "160 cells: 0 done earlier, 160 run now, 0 failed, 0 missing" in remote.out
    by_remote = _assert_every_cell_once(tmp_path / "remote", 160, 3)

    local = run_subprocess("sweep", *DONE_WHEN, "--workers", "2",
                           "--artifacts", str(tmp_path / "local"))
    assert local.code == 0, local.err
    assert "local cluster, 2 worker process(es)" in local.err
    assert "dashboard: http://127.0.0.1:" in local.err  # the local cluster's dashboard
    by_local = _assert_every_cell_once(tmp_path / "local", 160, 3)
    # same cells, same keys, same numbers, wherever they ran
    assert by_local.equals(by_remote)
    here = run_subprocess("sweep", *DONE_WHEN, "--workers", "1",
                          "--artifacts", str(tmp_path / "here"))
    assert here.code == 0, here.err
    assert "on the local process, 1 worker (no Dask cluster)" in here.err
    assert "dashboard" not in here.err
    assert _assert_every_cell_once(tmp_path / "here", 160, 3).equals(by_remote)
    assert _folder(tmp_path / "local").name == _folder(tmp_path / "remote").name

    again = run_subprocess("sweep", *DONE_WHEN, "--scheduler", two_workers.address,
                           "--artifacts", str(tmp_path / "remote"))
    assert again.code == 0 and "160 done earlier, 0 run now" in again.out


def test_a_worker_killed_mid_sweep_costs_only_a_retry(two_workers: DaskCluster,
                                                      tmp_path: Path) -> None:
    art = tmp_path / "a"
    proc = _start(*LONGER, "--scheduler", two_workers.address, "--artifacts", str(art))
    folder = wait_for(lambda: next(iter((art / "sweeps").glob("sw-*")), None), "the sweep folder")
    wait_for(lambda: _parts(folder), "the first batch")
    assert proc.poll() is None, "the sweep ended before a worker could be killed"
    written_before = len(_parts(folder))
    two_workers.kill("w1")
    result = _finish(proc)
    assert result.code == 0, result.err
    assert len(_parts(folder)) == 80 > written_before  # 160 cells in batches of 2
    assert "160 run now, 0 failed" in result.out
    _assert_every_cell_once(art, 160, 4)


def test_a_client_killed_mid_sweep_resumes_with_only_the_missing_cells(
        two_workers: DaskCluster, tmp_path: Path) -> None:
    art = tmp_path / "a"
    argv = [*LONGER, "--scheduler", two_workers.address, "--artifacts", str(art)]
    proc = _start(*argv)
    folder = wait_for(lambda: next(iter((art / "sweeps").glob("sw-*")), None), "the sweep folder")
    wait_for(lambda: len(_parts(folder)) >= 3, "three batches")
    proc.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
    proc.communicate(timeout=60)
    first = _keys_by_session(folder)
    assert list(first) == [1]
    done = len(set(first[1]))
    assert 6 <= done < 160

    rerun = run_subprocess("sweep", *argv)
    assert rerun.code == 0, rerun.err
    assert f"{done} done earlier, {160 - done} run now, 0 failed, 0 missing" in rerun.out
    sessions = _keys_by_session(folder)
    assert set(sessions) == {1, 2}
    assert not set(sessions[1]) & set(sessions[2])  # nothing ran twice
    assert len(sessions[2]) == len(set(sessions[2])) == 160 - done
    _assert_every_cell_once(art, 160, 4)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_poisoned_cell_is_recorded_and_the_rest_complete(two_workers: DaskCluster,
                                                           tmp_path: Path) -> None:
    # The poison is the file system refusing one cell's run folder: a regular file sits
    # where --write-runs puts that cell's run (workers share this file system here).
    art = tmp_path / "a"
    text = {"profiles": "steady_safe", "modes": "volatile,mixed", "seeds": "1-6", "tune": "on"}
    argv = ["--profiles", text["profiles"], "--modes", text["modes"], "--seeds", text["seeds"],
            "--tune", text["tune"], "--iterations", "3", "--sim-minutes", "2", "--write-runs",
            "--scheduler", two_workers.address, "--artifacts", str(art)]
    grid = build_grid(SweepSpec.from_text(iterations=3, sim_minutes=2, artifacts=art, **text))
    poisoned = next(c for c in grid.cells() if c.mode == "mixed" and c.seed == 4)
    run_id = cell_run_id(poisoned.profile, poisoned.mode, poisoned.tune, poisoned.seed,
                         poisoned.key)
    runs = art / "sweeps" / grid.sweep_id / "runs"
    runs.mkdir(parents=True)
    (runs / run_id).write_text("not a run folder\n")

    result = run_subprocess("sweep", *argv)
    assert result.code == 1, result.err
    assert "12 cells: 0 done earlier, 12 run now, 1 failed" in result.out
    assert "failed: profile=steady_safe, mode=mixed, tune=True, seed=4: ArtifactError" \
        in result.out
    frame = load_results(art, grid.sweep_id)
    assert frame["cell_key"].n_unique() == 12
    bad = frame.filter(pl.col("error").is_not_null())
    assert bad["cell_key"].to_list() == [poisoned.key]
    assert "already exists" in bad["error"][0] and bad["iteration"][0] is None
    assert frame.filter(pl.col("error").is_null()).height == 11 * 3
    # the other cells' run folders are ordinary runs the catalog reads
    catalog = load_catalog(art / "sweeps" / grid.sweep_id, cache=False)
    assert catalog.frame["run_id"].n_unique() == 11 and catalog.frame.height == 33

    (runs / run_id).unlink()  # cure the poison: a rerun runs the failed cell only
    cured = run_subprocess("sweep", *argv)
    assert cured.code == 0, cured.err
    assert "11 done earlier, 1 run now, 0 failed" in cured.out
    frame = load_results(art, grid.sweep_id)  # the error row is superseded, not duplicated
    assert frame["cell_key"].n_unique() == 12 and frame["error"].null_count() == frame.height
    assert frame.height == 36


def test_scheduler_file_and_environment_address(two_workers: DaskCluster,
                                                tmp_path: Path) -> None:
    small = ["--profiles", "ultra_safe", "--modes", "calm", "--seeds", "1-4", "--tune", "off",
             "--iterations", "2", "--sim-minutes", "2"]
    by_file = run_subprocess("sweep", *small, "--scheduler-file",
                             str(two_workers.scheduler_file), "--artifacts", str(tmp_path / "f"))
    assert by_file.code == 0, by_file.err
    assert f"(from {two_workers.scheduler_file})" in by_file.err
    by_env = run_subprocess("sweep", *small, "--artifacts", str(tmp_path / "e"),
                            env={"DASK_SCHEDULER_ADDRESS": two_workers.address})
    assert by_env.code == 0, by_env.err
    assert f"on the scheduler {two_workers.address}" in by_env.err
    assert load_results(tmp_path / "f").equals(load_results(tmp_path / "e"))


def test_python_api_with_a_client(two_workers: DaskCluster, tmp_path: Path) -> None:
    from distributed import Client

    spec = SweepSpec(profiles=("steady_safe", "ultra_safe"), modes=("volatile",),
                     seeds=(1, 2, 3), tune=(True, False), iterations=2, sim_minutes=2,
                     artifacts=tmp_path, name="api")
    with Client(two_workers.address, timeout="60s") as client:
        result = run_sweep(spec, client)
    assert (result.status, result.cells, result.ran, result.failed, result.exit_code) == \
        ("finished", 12, 12, 0, 0)
    assert result.frame()["cell_key"].n_unique() == 12
    summary = result.summary()
    assert summary.columns[:4] == ["profile", "tune", "cells", "failed"]
    assert summary["cells"].to_list() == [3, 3, 3, 3]
    html = result._repr_html_()
    assert html.count("<tr>") == 5 and 'class="soakkit-table"' in html
    assert "sweep api</b>: finished, 12 cells" in html


def test_local_clusters_close_without_log_noise(tmp_path: Path) -> None:
    """Closing a local cluster loses the scheduler's streams to workers that already left,
    which Dask logs at INFO level, with tracebacks, once an earlier ``LocalCluster`` has put
    the log levels back (two clusters open at once, as in the sweep benchmark; 13 lines of
    stderr with a plain ``close()``). :func:`close_local_cluster` closes in silence."""
    code = ("from soakkit.sweep.cluster import close_local_cluster, start_local_cluster\n"
            "if __name__ == '__main__':\n"
            "    clusters = [start_local_cluster(1) for _ in range(2)]\n"
            "    print(sum(client.submit(pow, 2, 10).result() for client, _ in clusters))\n"
            "    for client, cluster in clusters:\n"
            "        close_local_cluster(client, cluster)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd=tmp_path, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2048"]
    assert done.stderr == ""


def test_local_workers_run_quieter_dask_settings_the_user_can_override(tmp_path: Path) -> None:
    """A local cluster's workers get LOCAL_CLUSTER_CONFIG (no profiler, a 2-s system
    monitor, a 1-s tick) and go without Dask's MALLOC_TRIM_THRESHOLD_, except where the user
    set a value: the tick through a ``DASK_`` variable and the trim threshold in a Dask
    config file stay theirs."""
    code = ("import json, os\n"
            "from soakkit.sweep.cluster import close_local_cluster, start_local_cluster\n"
            "def settings():\n"
            "    import dask\n"
            "    return [dask.config.get(k) for k in ('distributed.worker.profile.enabled',\n"
            "            'distributed.admin.system-monitor.interval',\n"
            "            'distributed.admin.tick.interval')] + [\n"
            "            os.environ.get('MALLOC_TRIM_THRESHOLD_'),\n"
            "            os.environ.get('POLARS_MAX_THREADS')]\n"
            "if __name__ == '__main__':\n"
            "    client, cluster = start_local_cluster(1)\n"
            "    print(json.dumps(list(client.run(settings).values())))\n"
            "    close_local_cluster(client, cluster)\n")
    run = functools.partial(subprocess.run, [sys.executable, "-c", code], capture_output=True,
                            text=True, cwd=tmp_path, timeout=600, check=False)
    done = run(env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [[False, "2s", "1s", None, "1"]]
    config = tmp_path / "dask"
    config.mkdir()
    (config / "mine.yaml").write_text("distributed:\n  nanny:\n    pre-spawn-environ:\n"
                                      "      MALLOC_TRIM_THRESHOLD_: 65536\n")
    done = run(env={**_env(), "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "40ms",
                    "DASK_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [[False, "2s", "40ms", "65536", "1"]]


def test_ctrl_c_on_the_terminal_stops_a_local_sweep_cleanly_and_the_rerun_finishes(
        tmp_path: Path) -> None:
    art = tmp_path / "a"
    argv = [*LONGER, "--workers", "2", "--artifacts", str(art)]
    # a background shell starts jobs with SIGINT ignored, and children inherit that: with a
    # handler here (as in a foreground shell) the sweep starts with the default
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "soakkit", "sweep", *argv], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    folder = wait_for(lambda: next(iter((art / "sweeps").glob("sw-*")), None), "the sweep folder")
    wait_for(lambda: len(_parts(folder)) >= 2, "two batches")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole process group
    result = _finish(proc)
    assert result.code == 130, result.err
    assert "Traceback" not in result.err  # workers leave the interrupt to the client
    assert ": interrupted, 160 cells: 0 done earlier" in result.out
    assert "rerun the same command to run the missing cells" in result.out
    stored = len(set(_keys_by_session(folder)[1]))
    rerun = run_subprocess("sweep", *argv)
    assert rerun.code == 0, rerun.err
    assert f"{stored} done earlier, {160 - stored} run now, 0 failed, 0 missing" in rerun.out
    _assert_every_cell_once(art, 160, 4)


def test_a_lost_scheduler_is_one_line_and_a_rerun_elsewhere_finishes(tmp_path: Path) -> None:
    art = tmp_path / "a"
    first = DaskCluster(tmp_path / "first").start(workers=1)
    try:
        proc = _start(*LONGER, "--scheduler", first.address, "--artifacts", str(art))
        folder = wait_for(lambda: next(iter((art / "sweeps").glob("sw-*")), None), "the folder")
        wait_for(lambda: _parts(folder), "the first batch")
        first.kill("scheduler")
        result = _finish(proc)
    finally:
        first.stop()
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert result.err.splitlines()[-1].startswith(
        f"soakkit: error: sweep {folder.name}: lost the Dask cluster (scheduler {first.address})")
    assert "rerun the same command to continue" in result.err
    stored = _keys_by_session(folder)
    assert not [k for keys in stored.values() for k in keys if k is None]
    second = DaskCluster(tmp_path / "second").start(workers=2)
    try:
        rerun = run_subprocess("sweep", *LONGER, "--scheduler", second.address,
                               "--artifacts", str(art))
    finally:
        second.stop()
    assert rerun.code == 0, rerun.err
    _assert_every_cell_once(art, 160, 4)  # no cell of the lost batches is missing or failed
