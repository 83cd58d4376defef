"""Where a two-worker sweep's whole process loses against the plain loop, in CPU seconds.

CPU seconds, unlike wall time, hardly move with the machine's load, so these parts explain
the gap between the in-process scaling (the cluster up before the clock) and the
whole-process one (docs/PERFORMANCE.md, "Sweeps"):

* ``startup``: a sweep of a few cells as a whole ``soakkit sweep`` process, on a local
  cluster of two workers and in process (``--workers 1``): the difference is what starting
  and closing the cluster costs (the client's import of distributed, each worker's imports,
  the scheduler). Every process of the tree is a waited child, so ``RUSAGE_CHILDREN`` holds
  them all.
* ``cells``: the same batches run by ``run_batch`` in a loop in this process and by the one
  worker of a local cluster started as a sweep starts it (``start_local_cluster``): the
  worker's CPU against the loop's (what a cell costs in a worker) and the client's own CPU
  meanwhile (what submitting and gathering cost).

    python bench/sweep_overheads.py --parts startup,cells --reps 3 --out overheads.json
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import bytecode_cache, load_average, make_parser, save

NOW = "2026-01-01T00:00:00Z"
SMALL = ["--profiles", "steady_safe", "--modes", "calm", "--seeds", "1-4", "--tune", "off",
         "--iterations", "1", "--sim-minutes", "1", "--now", NOW]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def startup(reps: int) -> dict[str, Any]:
    """Whole ``soakkit sweep`` processes of four cells: two workers against in process."""
    out: dict[str, list[float]] = {"workers_2_cpu": [], "workers_2_wall": [],
                                   "in_process_cpu": [], "in_process_wall": []}
    with tempfile.TemporaryDirectory(prefix="soakkit-overheads-") as tmp:
        for rep in range(reps + 1):  # the first fills the bytecode cache
            for label, workers in (("workers_2", "2"), ("in_process", "1")):
                art = Path(tmp) / "a"
                before, started = _children_cpu(), time.perf_counter()
                subprocess.run([sys.executable, "-m", "soakkit", "sweep", *SMALL,
                                "--workers", workers, "--artifacts", str(art)],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall, cpu = time.perf_counter() - started, _children_cpu() - before
                shutil.rmtree(art)
                if rep:
                    out[f"{label}_cpu"].append(round(cpu, 3))
                    out[f"{label}_wall"].append(round(wall, 3))
    return out


def cells(reps: int, seeds: int) -> dict[str, Any]:
    """The same batches in a loop here and on a one-worker local cluster."""
    import psutil

    from soakkit.sweep import SweepSpec, build_grid
    from soakkit.sweep.cluster import close_local_cluster, start_local_cluster
    from soakkit.sweep.plan import batches, payload
    from soakkit.sweep.task import run_batch

    with tempfile.TemporaryDirectory(prefix="soakkit-overheads-") as tmp:
        spec = SweepSpec(profiles=("steady_safe",), modes=("calm", "volatile"),
                         seeds=tuple(range(1, seeds + 1)), tune=(False,), iterations=3,
                         sim_minutes=3, artifacts=Path(tmp), now=NOW)
        grid = build_grid(spec)
        work = [payload(grid, b, NOW, None) for b in batches(grid, set(), 8)]
        client, cluster = start_local_cluster(1)
        try:
            worker = psutil.Process(next(iter(client.run(os.getpid).values())))

            def in_loop() -> float:
                started = time.process_time()
                for p in work:
                    run_batch(p)
                return time.process_time() - started

            def on_worker() -> tuple[float, float]:
                w0, c0 = sum(worker.cpu_times()[:2]), time.process_time()
                client.gather([client.submit(run_batch, p, pure=False) for p in work])
                return sum(worker.cpu_times()[:2]) - w0, time.process_time() - c0

            in_loop(), on_worker()  # warm both
            rows = []
            for _ in range(reps):
                loop_cpu = in_loop()
                worker_cpu, client_cpu = on_worker()
                rows.append({"loop_cpu": round(loop_cpu, 3), "worker_cpu": round(worker_cpu, 3),
                             "client_cpu": round(client_cpu, 3),
                             "worker_over_loop": round(worker_cpu / loop_cpu, 4)})
        finally:
            close_local_cluster(client, cluster)
    return {"cells": grid.size, "batches": len(work), "rows": rows}


def main() -> int:
    ap = make_parser(__doc__)
    ap.add_argument("--parts", default="startup,cells")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=32, help="cells part: seeds per mode")
    args = ap.parse_args()
    data: dict[str, Any] = {"load_before": load_average()}
    with bytecode_cache():
        if "startup" in args.parts:
            data["startup"] = startup(args.reps)
        if "cells" in args.parts:
            data["cells"] = cells(args.reps, args.seeds)
    data["load_after"] = load_average()
    print(data)
    save(args.out, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
