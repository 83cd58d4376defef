"""`soakkit optimize`: scaling with workers, the search against a fixed grid, the cells
goal on synthetic modes and a real capture's held-back windows, and memory at 10⁴ trials.

Every figure is printed next to a baseline measured in the same run. ``--parts`` chooses:

* ``scaling`` – the same TPE study on a local cluster of 2 workers against 1 worker (clusters
  started before the clock starts; search and out-of-sample evaluation timed), and whether
  both give the same ``result.json`` evidence (they must: trials are asked in a fixed order);
* ``search`` – the TPE study's winner against the best point of a grid of the same budget
  (``--sampler grid``: evenly spaced levels of each parameter; ``--trials 65`` with three
  parameters is trial 0 and a 4 × 4 × 4 grid, a smaller budget fills up with random
  points after the grid), in sample and on the held-back seeds, with each study's DSR,
  PBO, verdict, and how many shipped-profile × market cells its winner beats out of sample
  with a 95 % interval above 0;
* ``cells`` – issue 26's first goal (``optimize_cells.py``): one TPE study from
  ``steady_safe`` on ``--cell-modes`` (synthetic, calibration seeds 1..N, evaluation seeds
  70001..) and the held-back windows of ``--cell-tapes`` (tape folders, or Binance capture
  files imported first with ``--capture-levels`` depth levels; walk-forward: the first
  ``--tape-split`` of a tape's windows calibrate, the later ones evaluate), run with
  ``--workers`` (1: in this process); per shipped profile (untuned) × market, whether the
  recommendation's risk-adjusted P&L beats it with a 95 % interval above 0 and keeps its
  pass rate. The real market is the tape, or with several the tapes pooled (``tapes``: the
  interval resamples held-back windows, the sampling unit of a replay), with per-window
  diagnostics; ``--check-tapes`` also judges the recommendation on other tapes;
* ``memory`` – the client's peak RSS (the trials run in its process: one worker) for a study
  of each of ``--memory-trials`` trials, as small as a real study gets (one mode, one seed,
  one iteration of one simulated minute, random sampler), then the report's loading of the
  finished study, and a process that only reads the journal (what the trials themselves
  need), beside the interpreter with the same imports; and CSCV's memory from block sums
  at those numbers of configurations, against the split chunks it used before.

    python bench/bench_optimize.py --trials 65 --seeds 6 --iterations 4 --sim-minutes 3 \\
        --out bench/out/optimize.json
    python bench/bench_optimize.py --parts cells --workers 1 --trials 100 --seeds 8 \\
        --iterations 2 --sim-minutes 2 --params '' --cell-tapes \\
        /work/data/hbt/spot/btcusdt_20240809.gz,/work/data/hbt/usdm/ethusdt_20240808.gz,\\
        /work/data/hbt/cm/ethusd_perp_20240809.gz --out bench/out/optimize-cells.json
    python bench/bench_optimize.py --parts cells ... --check-tapes CAPTURES  (default tape)
    python bench/bench_optimize.py --parts memory --memory-trials 1000,10000 \\
        --out bench/out/optimize-memory.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import load_average, make_parser, run_child, save
from optimize_cells import NOW, SOAKKIT, run_cells, study_spec, summary

from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.search import grid_points
from soakkit.optimize.space import default_params, search_params
from soakkit.sweep.cluster import close_local_cluster, start_local_cluster

PARTS = ("scaling", "search", "cells", "memory")


def _study(spec: OptimizeSpec, workers: int) -> tuple[float, dict[str, Any]]:
    client, cluster = start_local_cluster(workers)
    try:
        start = time.perf_counter()
        result = run_optimize(spec, client)
        seconds = time.perf_counter() - start
    finally:
        close_local_cluster(client, cluster)
    assert result.result is not None, result
    return seconds, dict(result.result)


def _scaling_and_search(args: Any, root: Path, out: dict[str, Any]) -> None:
    parts = args.parts
    two_s, two = _study(study_spec(args, root / "w2", "tpe", "tpe"), 2)
    if "scaling" in parts:
        one_s, one = _study(study_spec(args, root / "w1", "tpe", "tpe"), 1)
        out["scaling"] = {"one_worker_s": round(one_s, 2), "two_workers_s": round(two_s, 2),
                          "speedup": round(one_s / two_s, 3),
                          "same_evidence": one.get("evidence_sha256")
                          == two.get("evidence_sha256")}
        print(f"scaling: 1 worker {one_s:.1f} s, 2 workers {two_s:.1f} s: "
              f"{one_s / two_s:.2f}x; same evidence: {out['scaling']['same_evidence']} "
              f"(load {out['load']:.1f})")
    if "search" not in parts:
        return
    grid_s, grid = _study(study_spec(args, root / "grid", "grid", "grid"), 2)
    specs = search_params("legacy")
    params = tuple(args.params.split(",")) if args.params else default_params(specs)
    out["search"] = {"tpe": summary(two), "grid": summary(grid),
                     "grid_points": len(grid_points(specs, params, args.trials - 1)),
                     "tpe_s": round(two_s, 2), "grid_s": round(grid_s, 2)}
    print(f"grid: {out['search']['grid_points']} grid points of {args.trials} trials")
    for name in ("tpe", "grid"):
        s = out["search"][name]
        print(f"{name}: winner trial {s['winner_trial']}, in sample {s['in_sample']}, "
              f"out of sample {s['out_of_sample']}, DSR {s['dsr']}, PBO {s['pbo']}, "
              f"{s['verdict']}, beats {s['beats_cells']}/{s['cells']} profile cells")


# -- memory --------------------------------------------------------------------------------
#: What a client imports before it runs a study (the baseline process imports the same).
_IMPORTS = ("import optuna, polars, numpy, distributed; import soakkit.optimize.runner, "
            "soakkit.report.optimize_report")
_READ_JOURNAL = _IMPORTS + """
import sys
from pathlib import Path
from soakkit.optimize.search import open_study
from soakkit.optimize.store import StudyStore
study = open_study(StudyStore(Path(sys.argv[1])), read_only=True)
print(len(study.trials))
"""
_REPORT = _IMPORTS + """
import sys
from soakkit.report.optimize_report import load_optimize_report
report = load_optimize_report(sys.argv[1], sys.argv[2])
print(report.trials.height)
"""


def _kib_to_mib(kib: int) -> float:
    return round(kib / 1024, 1)


def _pbo_peak(configurations: int, *, chunk_cells: int | None) -> float:
    """tracemalloc's peak (MiB) of CSCV over 16 blocks × ``configurations`` block sums
    (``chunk_cells`` None: as now; a number: splits chunked as before, 256 at a time)."""
    import numpy as np

    from soakkit.evidence import overfit

    rng = np.random.default_rng(0)
    sums = rng.normal(size=(16, configurations))
    squares = sums * sums + 1.0
    edges = overfit.cscv_edges(16 * 64)
    saved = overfit._CHUNK_CELLS
    if chunk_cells is not None:
        overfit._CHUNK_CELLS = chunk_cells
    tracemalloc.start()
    try:
        overfit.pbo_from_blocks(sums, squares, edges, 16 * 64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        overfit._CHUNK_CELLS = saved
    return round(peak / 2**20, 1)


def _memory(args: Any, root: Path, out: dict[str, Any]) -> None:
    py = sys.executable
    base = run_child([py, "-c", _IMPORTS])
    rows = []
    for n in (int(x) for x in args.memory_trials.split(",")):
        art = root / f"mem{n}"
        load_before = load_average()
        study = run_child([SOAKKIT, "optimize", "--modes", "calm", "--seeds", "1",
                           "--eval-seeds", "2", "--iterations", "1", "--sim-minutes", "1",
                           "--params", args.params, "--sampler", "random", "--trials",
                           str(n), "--oos-top", "1", "--workers", "1", "--write-profile",
                           "never", "--now", NOW, "--name", f"mem{n}", "--artifacts",
                           str(art)], check=False, stderr=subprocess.DEVNULL)
        folder = art / "studies" / f"mem{n}"
        result = json.loads((folder / "result.json").read_text())
        journal = run_child([py, "-c", _READ_JOURNAL, str(folder)])
        report = run_child([py, "-c", _REPORT, str(art), f"mem{n}"])
        rows.append({
            "trials": n, "verdict": result["verdict"], "complete": result["complete"],
            "client_peak_mib": _kib_to_mib(study.max_rss_kib),
            "study_wall_s": round(study.wall_s, 1), "study_cpu_s": round(study.cpu_s, 1),
            "journal_peak_mib": _kib_to_mib(journal.max_rss_kib),
            "report_peak_mib": _kib_to_mib(report.max_rss_kib),
            "report_wall_s": round(report.wall_s, 1),
            "journal_bytes": (folder / "journal.log").stat().st_size,
            "trials_bytes": sum(p.stat().st_size for p in (folder / "trials").iterdir()),
            "pbo_peak_mib": _pbo_peak(n, chunk_cells=None),
            "pbo_peak_before_mib": _pbo_peak(n, chunk_cells=1 << 62),
            "load_before": load_before, "load_after": load_average()})
        r = rows[-1]
        print(f"memory, {n} trials ({r['complete']} complete): client peak "
              f"{r['client_peak_mib']} MiB ({r['study_wall_s']} s wall, {r['study_cpu_s']} s "
              f"CPU), reading the journal {r['journal_peak_mib']} MiB, the report "
              f"{r['report_peak_mib']} MiB, imports alone {_kib_to_mib(base.max_rss_kib)} "
              f"MiB; journal {r['journal_bytes'] / 2**20:.1f} MiB on disk; CSCV "
              f"{r['pbo_peak_mib']} MiB (split chunks as before: "
              f"{r['pbo_peak_before_mib']} MiB); load {load_before:.1f}")
    out["memory"] = {"imports_peak_mib": _kib_to_mib(base.max_rss_kib), "sizes": rows}


def main() -> int:
    p = make_parser(__doc__)
    p.add_argument("--parts", default="scaling,search",
                   help=f"comma-separated, of {', '.join(PARTS)} (default scaling,search)")
    p.add_argument("--trials", type=int, default=65)
    p.add_argument("--no-scaling", action="store_true", help="skip the 1-worker study")
    p.add_argument("--seeds", type=int, default=6, help="calibration seeds 1..N; as many "
                                                         "evaluation seeds from 70001")
    p.add_argument("--modes", default="calm,volatile")
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--sim-minutes", type=int, default=3)
    p.add_argument("--params", default="base_spread_bps_delta,max_delta_ratio,tail_age_ms",
                   help="parameters searched ('' for every tunable one)")
    p.add_argument("--cell-modes", default="calm,volatile,mixed",
                   help="cells: the synthetic markets")
    p.add_argument("--cell-tapes", default="examples/tapes/binance-spot-btcusdt",
                   help="cells: tapes whose later windows are held back (comma-separated "
                        "folders, or Binance capture files imported first)")
    p.add_argument("--check-tapes", default="",
                   help="cells: tapes (or captures) the recommendation is also judged on, "
                        "held-back windows only (a one-trial study starting from it)")
    p.add_argument("--check-split", type=float, default=None,
                   help="cells: the check study's --tape-split (default --tape-split): the "
                        "recommendation is fixed before the check, so every window after "
                        "the split is out of sample")
    p.add_argument("--capture-levels", type=int, default=10,
                   help="cells: depth levels kept when importing a capture")
    p.add_argument("--tape-split", type=float, default=0.6)
    p.add_argument("--workers", type=int, default=1, help="cells: workers (1: in process)")
    p.add_argument("--memory-trials", default="1000,10000",
                   help="memory: the study sizes measured")
    args = p.parse_args()
    args.parts = tuple(x for x in args.parts.split(",") if x)
    if args.no_scaling:
        args.parts = tuple(x for x in args.parts if x != "scaling")
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        p.error(f"--parts: unknown {', '.join(sorted(unknown))}; expected {', '.join(PARTS)}")
    out: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)},
                           "load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="soakkit-bench-opt-") as tmp:
        root = Path(tmp)
        if {"scaling", "search"} & set(args.parts):
            _scaling_and_search(args, root, out)
        if "cells" in args.parts:
            run_cells(args, root, out)
        if "memory" in args.parts:
            _memory(args, root, out)
    save(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
