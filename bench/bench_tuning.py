"""Does the live-apply tuner help? Tuned vs untuned mini-soaks of the same seeds, paired.

For every mode and seed, one soak runs with the tuner and one with ``--no-tune``; both see
the same simulated market (the market's randomness does not depend on the parameters).
Per run: mean net_bps and mean risk_ratio over its iterations, and the production pass rate
(share of iterations whose KPIs hold the steady production thresholds: PASS or WARN).
The report gives the mean paired difference (tuned − untuned) with a 95 % percentile
bootstrap confidence interval (10,000 resamples of the seeds, fixed seed).

    python bench/bench_tuning.py --seeds 20 --iterations 12 --sim-minutes 10 \\
        --modes volatile mixed --out bench/out/tuning.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.gate import judge_iteration
from soakkit.report.stats import bootstrap_mean_ci
from soakkit.soak import SoakOptions, run_soak

METRICS = ("net_bps", "risk_ratio", "pass_rate")


def run_one(mode: str, seed: int, tune: bool, args: argparse.Namespace, root: Path
            ) -> dict[str, float]:
    options = SoakOptions(profile=args.profile, iterations=args.iterations, mode=mode,
                          seed=seed, sim_minutes=args.sim_minutes, gate="production",
                          artifacts=root / f"{mode}-{seed}-{int(tune)}", tune=tune,
                          now="2026-01-01T00:00:00Z")
    result = run_soak(options, env={})
    nets, risks, passes = [], [], []
    for n in range(1, args.iterations + 1):
        doc = json.loads((result.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
        kpis = doc["summary"]
        nets.append(kpis["net_bps"])
        risks.append(kpis["risk_ratio"])
        passes.append(judge_iteration(kpis, "production", 10**6).verdict != "FAIL")
    return {"net_bps": float(np.mean(nets)), "risk_ratio": float(np.mean(risks)),
            "pass_rate": float(np.mean(passes))}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--sim-minutes", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["volatile", "mixed"])
    parser.add_argument("--profile", default="steady_safe")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    report: dict[str, Any] = {"args": {k: (str(v) if isinstance(v, Path) else v)
                                       for k, v in vars(args).items()}, "modes": {}}
    rng = np.random.default_rng(20261124)
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            rows = []
            for seed in range(1, args.seeds + 1):
                tuned = run_one(mode, seed, True, args, Path(tmp))
                untuned = run_one(mode, seed, False, args, Path(tmp))
                rows.append({"seed": seed, "tuned": tuned, "untuned": untuned})
            summary = {}
            for metric in METRICS:
                t = np.array([r["tuned"][metric] for r in rows])
                u = np.array([r["untuned"][metric] for r in rows])
                d = t - u
                lo, hi = bootstrap_mean_ci(d, rng)
                summary[metric] = {"tuned_mean": float(t.mean()), "untuned_mean": float(u.mean()),
                                   "diff_mean": float(d.mean()), "ci95": [lo, hi],
                                   "seeds_up": int((d > 0).sum()),
                                   "seeds_down": int((d < 0).sum())}
            report["modes"][mode] = {"summary": summary, "runs": rows}
    report["wall_s"] = round(time.perf_counter() - started, 1)
    with tempfile.TemporaryDirectory() as tmp:  # one tuned run, in-process and as a process
        start = time.perf_counter()
        run_one(args.modes[0], 1, True, args, Path(tmp))
        inside = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "soakkit", "soak", "--profile", args.profile,
                        "--iterations", str(args.iterations), "--sim-minutes",
                        str(args.sim_minutes), "--mode", args.modes[0], "--seed", "1",
                        "--gate", "production", "--artifacts", str(Path(tmp) / "cli")],
                       check=False, capture_output=True)
        report["one_run"] = {"in_process_s": inside,
                             "whole_process_s": time.perf_counter() - start}

    print(f"{'mode':<9} {'metric':<11} {'untuned':>9} {'tuned':>9} {'diff':>9}  95% CI"
          f"              up/down")
    for mode, data in report["modes"].items():
        for metric, s in data["summary"].items():
            print(f"{mode:<9} {metric:<11} {s['untuned_mean']:>9.4f} {s['tuned_mean']:>9.4f} "
                  f"{s['diff_mean']:>+9.4f}  [{s['ci95'][0]:+.4f}, {s['ci95'][1]:+.4f}]  "
                  f"{s['seeds_up']}/{s['seeds_down']}")
    one = report["one_run"]
    print(f"wall time {report['wall_s']} s (in-process runs); one tuned run: in-process "
          f"{one['in_process_s']:.2f} s, as a whole `soakkit soak` process "
          f"{one['whole_process_s']:.2f} s")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
