"""`soakkit optimize`: scaling with workers, and the search against a fixed grid.

Every figure is printed next to a baseline measured in the same run:

* scaling – the same TPE study on a local cluster of 2 workers against 1 worker (clusters
  started before the clock starts; search and out-of-sample evaluation timed), and whether
  both give the same ``result.json`` evidence (they must: trials are asked in a fixed order);
* search – the TPE study's winner against the best point of a grid of the same budget
  (``--sampler grid``: evenly spaced levels of each parameter; ``--trials 65`` with three
  parameters is trial 0 and a 4 × 4 × 4 grid, a smaller budget fills up with random
  points after the grid), in sample and on the held-back seeds, with each study's DSR,
  PBO, verdict, and how many shipped-profile × market cells its winner beats out of sample
  with a 95 % interval above 0.

    python bench/bench_optimize.py --trials 65 --seeds 6 --iterations 4 --sim-minutes 3 \\
        --out bench/out/optimize.json
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import make_parser, save

from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.search import grid_points
from soakkit.optimize.space import default_params, search_params
from soakkit.sweep.cluster import close_local_cluster, start_local_cluster

NOW = "2026-01-01T00:00:00Z"


def _spec(args: Any, root: Path, name: str, sampler: str) -> OptimizeSpec:
    return OptimizeSpec(modes=tuple(args.modes.split(",")),
                        seeds=tuple(range(1, args.seeds + 1)),
                        eval_seeds=tuple(range(70_001, 70_001 + args.seeds)),
                        iterations=args.iterations, sim_minutes=args.sim_minutes,
                        params=tuple(args.params.split(",")) if args.params else None,
                        trials=args.trials, sampler=sampler, name=name, artifacts=root,
                        now=NOW, write_profile="never")


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


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    evidence = doc.get("evidence") or {}
    winner = evidence.get("winner") or {}
    oos = next((t["oos_objective"] for t in evidence.get("in_vs_out_of_sample", [])
                if t["trial"] == winner.get("trial")), None)
    cells = [c for c in evidence.get("out_of_sample", [])
             if c["group"] != "all" and "+" not in c["reference"]]
    overfit = evidence.get("overfitting") or {}
    return {"verdict": doc["verdict"], "feasible": doc["feasible"],
            "winner_trial": winner.get("trial"), "in_sample": winner.get("objective"),
            "out_of_sample": oos, "dsr": overfit.get("dsr"),
            "pbo": (overfit.get("pbo") or {}).get("pbo"),
            "beats_cells": sum(c["beats"] for c in cells), "cells": len(cells),
            "keeps_pass_rate": sum(c["keeps_pass_rate"] for c in cells)}


def main() -> int:
    p = make_parser(__doc__)
    p.add_argument("--trials", type=int, default=65)
    p.add_argument("--no-scaling", action="store_true", help="skip the 1-worker study")
    p.add_argument("--seeds", type=int, default=6, help="calibration seeds 1..N; as many "
                                                         "evaluation seeds from 70001")
    p.add_argument("--modes", default="calm,volatile")
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--sim-minutes", type=int, default=3)
    p.add_argument("--params", default="base_spread_bps_delta,max_delta_ratio,tail_age_ms",
                   help="parameters searched ('' for every tunable one)")
    args = p.parse_args()
    out: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)},
                           "load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="soakkit-bench-opt-") as tmp:
        root = Path(tmp)
        two_s, two = _study(_spec(args, root / "w2", "tpe", "tpe"), 2)
        if not args.no_scaling:
            one_s, one = _study(_spec(args, root / "w1", "tpe", "tpe"), 1)
            out["scaling"] = {"one_worker_s": round(one_s, 2),
                              "two_workers_s": round(two_s, 2),
                              "speedup": round(one_s / two_s, 3),
                              "same_evidence": one.get("evidence_sha256")
                              == two.get("evidence_sha256")}
            print(f"scaling: 1 worker {one_s:.1f} s, 2 workers {two_s:.1f} s: "
                  f"{one_s / two_s:.2f}x; same evidence: {out['scaling']['same_evidence']} "
                  f"(load {out['load']:.1f})")
        grid_s, grid = _study(_spec(args, root / "grid", "grid", "grid"), 2)
        specs = search_params("legacy")
        params = tuple(args.params.split(",")) if args.params else default_params(specs)
        out["search"] = {"tpe": _summary(two), "grid": _summary(grid),
                         "grid_points": len(grid_points(specs, params, args.trials - 1)),
                         "tpe_s": round(two_s, 2), "grid_s": round(grid_s, 2)}
        print(f"grid: {out['search']['grid_points']} grid points of {args.trials} trials")
        for name in ("tpe", "grid"):
            s = out["search"][name]
            print(f"{name}: winner trial {s['winner_trial']}, in sample {s['in_sample']}, "
                  f"out of sample {s['out_of_sample']}, DSR {s['dsr']}, PBO {s['pbo']}, "
                  f"{s['verdict']}, beats {s['beats_cells']}/{s['cells']} profile cells")
    save(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
