"""Sweeps on Dask: scaling with workers, overhead against a plain loop, memory at 100,000 cells.

Every figure is printed next to a baseline measured in the same run:

* scaling – the same grid on a local cluster of 2 workers against 1 worker, in cells per
  second: in process (cluster already up: :func:`soakkit.sweep.run_sweep` with a client)
  and as whole processes (``soakkit sweep --workers N``, cluster start included);
* overhead – the 1-worker sweep (on a 1-worker cluster, and with ``workers=1`` and no
  client: no cluster, the cells in this process) against a plain in-process loop over the
  same cells
  (``run_iteration`` with a ``MemoryRuntimeStore``: no Dask, no files), in process and as
  whole processes (``soakkit sweep --workers 1`` against ``python bench/bench_sweep.py
  --plain-loop``);
* whole – the scaling goal as a user meets it, alone: ``soakkit sweep --workers 1`` (no
  cluster) and ``--workers 2`` as whole processes, in turns, with no cluster of this
  benchmark up meanwhile (the scaling part keeps its two in-process clusters up);
* tail – the grid on a 2-worker cluster with batches of a fixed size (what the planner chose
  before guided batches) and with guided batches, in turns: Dask's task stream gives each
  side's busy worker-seconds and how long one worker sat idle at the end (the wall time
  moves with the machine's load, the idle tail much less);
* memory – a separately started ``dask scheduler`` with two workers; ``soakkit sweep``
  plans and starts a grid of ``--big-cells`` (default 100,000) one-iteration cells and
  runs for ``--big-seconds``; peak RSS (VmHWM) of the client and of the scheduler, against
  the trap the issue names: the same cells submitted as one future per cell
  (``client.map``) to a fresh scheduler.

    python bench/bench_sweep.py --seeds 40 --iterations 12 --sim-minutes 10 --reps 3 \\
        --out bench/out/sweep.json
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from _common import make_parser, save

from soakkit.core.io import FixedClock, parse_utc
from soakkit.sweep import SweepSpec, build_grid, run_sweep
from soakkit.sweep.cluster import WORKER_THREAD_ENV, close_local_cluster, start_local_cluster
from soakkit.sweep.plan import batch_size, batches, payload
from soakkit.sweep.spec import format_seeds

NOW = "2026-01-01T00:00:00Z"
DASK = str(Path(sys.executable).with_name("dask"))


def grid_spec(args: Any, root: Path, name: str) -> SweepSpec:
    return SweepSpec(profiles=("steady_safe", "ultra_safe"), modes=("volatile", "mixed"),
                     seeds=tuple(range(1, args.seeds + 1)), tune=(True, False),
                     iterations=args.iterations, sim_minutes=args.sim_minutes,
                     artifacts=root, name=name, now=NOW)


def cli_args(spec: SweepSpec) -> list[str]:
    return ["--profiles", ",".join(spec.profiles), "--modes", ",".join(spec.modes),
            "--seeds", format_seeds(spec.seeds), "--tune", "both",
            "--iterations", str(spec.iterations), "--sim-minutes", str(spec.sim_minutes),
            "--artifacts", str(spec.artifacts), "--now", NOW, "--quiet",
            *(["--name", spec.name] if spec.name else [])]


def plain_loop(spec: SweepSpec) -> int:
    """Every cell of ``spec`` with the one iteration definition, in this process."""
    from soakkit.config.profiles import load_profile
    from soakkit.soak import Session, SoakOptions, run_iteration
    from soakkit.tuning.store import MemoryRuntimeStore

    clock = FixedClock(parse_utc(NOW))
    shas = {p: load_profile(p, None).sha256 for p in spec.profiles}
    cells = 0
    for cell in build_grid(spec).cells():
        options = SoakOptions(profile=cell.profile, iterations=spec.iterations, mode=cell.mode,
                              seed=cell.seed, sim_minutes=spec.sim_minutes, gate=spec.gate,
                              tune=cell.tune, artifacts=spec.artifacts)
        session = Session(options, "loop", clock, {}, shas[cell.profile])
        store = MemoryRuntimeStore.new(cell.profile, shas[cell.profile])
        for n in range(1, spec.iterations + 1):
            run_iteration(session, n, store)
        cells += 1
    return cells


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def scaling_and_overhead(args: Any, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every repetition measures each side once, in turn, so a change of the machine's load
    during the run affects both sides of every ratio alike."""
    cells = build_grid(grid_spec(args, tmp, "x")).size
    inproc: dict[int, list[float]] = {1: [], 2: []}
    whole: dict[int, list[float]] = {1: [], 2: []}
    loops, loop_whole, here = [], [], []
    clusters = {n: start_local_cluster(n) for n in (1, 2)}
    try:
        for rep in range(args.reps):
            for workers, (client, _) in clusters.items():
                spec = grid_spec(args, tmp / f"in-{workers}-{rep}", "s")
                start = time.perf_counter()
                run_sweep(spec, client)
                inproc[workers].append(time.perf_counter() - start)
            spec = grid_spec(args, tmp / f"here-{rep}", "s")
            start = time.perf_counter()
            run_sweep(dataclasses.replace(spec, workers=1))  # no client: no cluster
            here.append(time.perf_counter() - start)
            spec = grid_spec(args, tmp / f"loop-{rep}", "s")
            start = time.perf_counter()
            plain_loop(spec)
            loops.append(time.perf_counter() - start)
            loop_whole.append(_timed([sys.executable, __file__, "--plain-loop", "--seeds",
                                      str(args.seeds), "--iterations", str(args.iterations),
                                      "--sim-minutes", str(args.sim_minutes)]))
            for workers in (1, 2):
                spec = grid_spec(args, tmp / f"cli-{workers}-{rep}", "s")
                whole[workers].append(_timed([sys.executable, "-m", "soakkit", "sweep",
                                              *cli_args(spec), "--workers", str(workers)]))
    finally:
        for client, cluster in clusters.values():
            close_local_cluster(client, cluster)
    one, two = statistics.median(inproc[1]), statistics.median(inproc[2])
    w1, w2 = statistics.median(whole[1]), statistics.median(whole[2])
    loop, loop_w = statistics.median(loops), statistics.median(loop_whole)
    scaling = {"cells": cells, "one_worker_cells_s": cells / one,
               "two_workers_cells_s": cells / two, "speedup": one / two,
               "whole_process": {"one_worker_s": w1, "two_workers_s": w2, "speedup": w1 / w2}}
    overhead = {"cells": cells, "loop_s": loop, "sweep_one_worker_s": one,
                "overhead": one / loop - 1, "sweep_in_process_s": statistics.median(here),
                "in_process_overhead": statistics.median(here) / loop - 1,
                "whole_process": {"loop_s": loop_w, "sweep_one_worker_s": w1,
                                  "overhead": w1 / loop_w - 1}}
    return scaling, overhead


# --------------------------------------------------------------------------------------
# memory at 100,000 cells
# --------------------------------------------------------------------------------------
def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _wait(predicate: Any, what: str, timeout_s: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class _Cluster:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        env = {**os.environ, **WORKER_THREAD_ENV}
        file = folder / "scheduler.json"
        log = (folder / "log").open("ab")
        self.procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", str(file)],
                                       stdout=log, stderr=log, env=env, start_new_session=True)]
        self.scheduler_pid = self.procs[0].pid

        def address() -> str | None:
            try:
                return str(json.loads(file.read_text())["address"])
            except (OSError, ValueError, KeyError):
                return None

        self.address = _wait(address, "the scheduler")
        for i in range(2):
            self.procs.append(subprocess.Popen(
                [DASK, "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--local-directory", str(folder / f"w{i}")],
                stdout=log, stderr=log, env=env, start_new_session=True))
        log.close()

    def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def big_grid(cells: int, root: Path) -> SweepSpec:
    seeds = max(1, math.ceil(cells / 16))  # 2 profiles x 4 modes x 2 tuner settings
    return SweepSpec(profiles=("steady_safe", "ultra_safe"),
                     modes=("calm", "volatile", "spike", "mixed"),
                     seeds=tuple(range(seeds)), tune=(True, False), iterations=1,
                     sim_minutes=1, artifacts=root, name="big", now=NOW)


def tail(args: Any, tmp: Path) -> dict[str, Any]:
    """Idle worker time at the end of a sweep: fixed batches against guided ones."""
    from distributed import get_task_stream

    grid = build_grid(grid_spec(args, tmp / "t", "x"))
    cells = grid.size
    fixed = batch_size(grid, cells, 2)
    out: dict[str, Any] = {"cells": cells, "fixed_batch": fixed, "runs": []}
    client, cluster = start_local_cluster(2)
    try:
        for rep in range(args.reps):
            for how in ("fixed", "guided"):
                spec = grid_spec(args, tmp / f"tail-{how}-{rep}", "s")
                if how == "fixed":
                    spec = dataclasses.replace(spec, batch_size=fixed)
                load = os.getloadavg()[0]
                with get_task_stream(client) as stream:
                    start = time.perf_counter()
                    run_sweep(spec, client)
                    wall = time.perf_counter() - start
                spans = [(s["start"], s["stop"], task["worker"]) for task in stream.data
                         for s in task["startstops"] if s["action"] == "compute"]
                ends: dict[str, float] = {}
                for _, stop, worker in spans:
                    ends[worker] = max(ends.get(worker, 0.0), stop)
                last = max(ends.values())
                out["runs"].append({
                    "how": how, "wall_s": wall, "tasks": len(spans), "load": load,
                    "busy_worker_s": sum(stop - begin for begin, stop, _ in spans),
                    "idle_at_end_s": last - min(ends.values())})
    finally:
        close_local_cluster(client, cluster)
    return out


def _cells_stored(folder: Path) -> int:
    """Cells in the sweep's finished parts (each part is written whole, atomically)."""

    parts = sorted(folder.glob("part-*.parquet"))
    return sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in parts)


def memory(cells: int, seconds: float, tmp: Path) -> dict[str, Any]:
    spec = big_grid(cells, tmp / "big")
    out: dict[str, Any] = {"cells": build_grid(spec).size}
    cluster = _Cluster(tmp / "c1")
    try:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "soakkit", "sweep", *cli_args(spec),
                                 "--scheduler", cluster.address], stdout=subprocess.DEVNULL)
        folder = spec.artifacts / "sweeps" / "big"
        _wait(lambda: list(folder.glob("part-*.parquet")), "the first batch")
        first = time.perf_counter() - start
        cells_at_first = _cells_stored(folder)
        time.sleep(seconds)
        client_peak = _peak_mib(proc.pid)
        scheduler_peak = _peak_mib(cluster.scheduler_pid)
        done = len(list(folder.glob("part-*.parquet")))
        stored = _cells_stored(folder)
        rate = (stored - cells_at_first) / (time.perf_counter() - start - first)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        out["sweep"] = {"client_peak_mib": client_peak, "scheduler_peak_mib": scheduler_peak,
                        "first_batch_s": first, "batches_written": done,
                        "cells_stored": stored, "cells_per_s_after_first_batch": rate,
                        "ran_for_s": time.perf_counter() - start}
    finally:
        cluster.stop()
    cluster = _Cluster(tmp / "c2")
    try:
        done_file = tmp / "naive.json"
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--one-future-per-cell",
                                 cluster.address, str(cells), str(tmp / "naive"),
                                 str(done_file)], stdout=subprocess.DEVNULL)
        _wait(done_file.exists, "one future per cell", timeout_s=900)
        client_peak = _peak_mib(proc.pid)
        scheduler_peak = _peak_mib(cluster.scheduler_pid)
        submitted = json.loads(done_file.read_text())
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        out["one_future_per_cell"] = {"client_peak_mib": client_peak,
                                      "scheduler_peak_mib": scheduler_peak,
                                      "submit_s": submitted["submit_s"],
                                      "ran_for_s": time.perf_counter() - start}
    finally:
        cluster.stop()
    out["scheduler_ratio"] = (out["one_future_per_cell"]["scheduler_peak_mib"]
                              / out["sweep"]["scheduler_peak_mib"])
    out["client_ratio"] = (out["one_future_per_cell"]["client_peak_mib"]
                           / out["sweep"]["client_peak_mib"])
    return out


def one_future_per_cell(address: str, cells: int, root: Path, done: Path) -> None:
    """The trap: every cell of the grid submitted at once, one future each."""
    from distributed import Client

    from soakkit.sweep.task import run_batch

    grid = build_grid(big_grid(cells, root))
    with Client(address, timeout="60s") as client:
        start = time.perf_counter()
        futures = client.map(run_batch, [payload(grid, b, NOW, None)
                                         for b in batches(grid, set(), 1)], pure=False)
        expected = len(futures)
        _wait(lambda: client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
              >= expected, "the scheduler to know every task", timeout_s=900)
        done.write_text(json.dumps({"submit_s": time.perf_counter() - start}))
        time.sleep(3600)  # until the benchmark reads the peaks and interrupts


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--sim-minutes", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--big-cells", type=int, default=100_000)
    parser.add_argument("--big-seconds", type=float, default=20.0)
    parser.add_argument("--only", type=lambda t: t.split(","), default=["scaling", "memory"],
                        help="which parts to run: scaling (with overhead), whole, tail, "
                        "memory")
    parser.add_argument("--plain-loop", action="store_true", help=argparse_hidden())
    parser.add_argument("--one-future-per-cell", nargs=4, help=argparse_hidden())
    args = parser.parse_args(argv)
    # a shell starts background jobs with SIGINT ignored, and children inherit that; with a
    # handler here, the sweeps this benchmark interrupts start with the default again
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.plain_loop:
        with tempfile.TemporaryDirectory() as tmp:
            plain_loop(grid_spec(args, Path(tmp), "loop"))
        return 0
    if args.one_future_per_cell:
        address, cells, root, done = args.one_future_per_cell
        with contextlib.suppress(KeyboardInterrupt):
            one_future_per_cell(address, int(cells), Path(root), Path(done))
        return 0
    report: dict[str, Any] = {"args": {k: (str(v) if isinstance(v, Path) else v)
                                       for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        if "scaling" in args.only:
            report["scaling"], report["overhead"] = scaling_and_overhead(args, Path(tmp))
            _print_scaling(args, report["scaling"], report["overhead"])
            save(args.out, report)
        if "whole" in args.only:
            w = report["whole"] = whole_scaling(args, Path(tmp))
            print(f"scaling alone, whole processes, {w['cells']} cells (load "
                  f"{w['load_average'][0]:.2f}-{w['load_average'][1]:.2f}): soakkit sweep "
                  f"--workers 1 {', '.join(f'{t:.1f}' for t in w['one_worker_s'])} s, "
                  f"--workers 2 {', '.join(f'{t:.1f}' for t in w['two_workers_s'])} s: "
                  f"{w['speedup']:.2f}x (medians; goal >= 1.8x)", flush=True)
            save(args.out, report)
        if "tail" in args.only:
            report["tail"] = tail(args, Path(tmp))
            for run in report["tail"]["runs"]:
                print(f"tail, {run['how']:6s}: {run['tasks']} tasks, {run['wall_s']:.2f} s, "
                      f"busy {run['busy_worker_s']:.2f} worker-s, one worker idle at the end "
                      f"{run['idle_at_end_s']:.2f} s (load {run['load']:.2f})", flush=True)
            save(args.out, report)
        if "memory" in args.only:
            report["big"] = memory(args.big_cells, args.big_seconds, Path(tmp))
            _print_memory(report["big"])
    save(args.out, report)
    return 0


def whole_scaling(args: Any, tmp: Path) -> dict[str, Any]:
    """``soakkit sweep --workers 1`` and ``--workers 2`` as whole processes, in turns (the
    order swapped every repetition), nothing else of this benchmark running."""
    cells = build_grid(grid_spec(args, tmp, "x")).size
    runs: dict[int, list[float]] = {1: [], 2: []}
    loads = []
    for rep in range(args.reps):
        for workers in (1, 2) if rep % 2 == 0 else (2, 1):
            loads.append(os.getloadavg()[0])
            spec = grid_spec(args, tmp / f"whole-{workers}-{rep}", "s")
            runs[workers].append(_timed([sys.executable, "-m", "soakkit", "sweep",
                                         *cli_args(spec), "--workers", str(workers)]))
    one, two = statistics.median(runs[1]), statistics.median(runs[2])
    return {"cells": cells, "one_worker_s": runs[1], "two_workers_s": runs[2],
            "speedup": one / two, "load_average": [min(loads), max(loads)]}


def _print_scaling(args: Any, s: dict[str, Any], o: dict[str, Any]) -> None:
    print(f"grid: {s['cells']} cells of {args.iterations} x {args.sim_minutes}-minute "
          f"iterations; median of {args.reps}")
    print(f"scaling, in process:   1 worker {s['one_worker_cells_s']:.1f} cells/s, 2 workers "
          f"{s['two_workers_cells_s']:.1f} cells/s: {s['speedup']:.2f}x (goal >= 1.8x)")
    w = s["whole_process"]
    print(f"scaling, whole process: 1 worker {w['one_worker_s']:.1f} s, 2 workers "
          f"{w['two_workers_s']:.1f} s: {w['speedup']:.2f}x")
    print(f"overhead, in process:   loop {o['loop_s']:.2f} s, sweep on a 1-worker cluster "
          f"{o['sweep_one_worker_s']:.2f} s: {100 * o['overhead']:+.1f} %; run_sweep with "
          f"workers=1 (no cluster) {o['sweep_in_process_s']:.2f} s: "
          f"{100 * o['in_process_overhead']:+.1f} % (goal <= 10 %)")
    w = o["whole_process"]
    print(f"overhead, whole process: loop {w['loop_s']:.2f} s, soakkit sweep --workers 1 "
          f"{w['sweep_one_worker_s']:.2f} s: {100 * w['overhead']:+.1f} %", flush=True)


def _print_memory(b: dict[str, Any]) -> None:
    sw, nv = b["sweep"], b["one_future_per_cell"]
    print(f"{b['cells']} cells: soakkit sweep client {sw['client_peak_mib']:.0f} MiB, scheduler "
          f"{sw['scheduler_peak_mib']:.0f} MiB, first batch after {sw['first_batch_s']:.1f} s, "
          f"then {sw['cells_per_s_after_first_batch']:.1f} cells/s ({sw['cells_stored']} "
          f"stored); "
          f"one future per cell: client {nv['client_peak_mib']:.0f} MiB, scheduler "
          f"{nv['scheduler_peak_mib']:.0f} MiB after {nv['submit_s']:.1f} s of submitting",
          flush=True)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
