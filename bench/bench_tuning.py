"""Does the tuner earn its gate passes? Tuned vs untuned vs a static grid, out of sample.

Cells: every shipped profile × mode. For each cell and seed, an in-memory mini-soak runs
with the tuner and one without (``--no-tune``); both see the same simulated markets. Per
run: production pass rate (share of iterations holding the steady production gate,
floors included), and the means of pnl_usd, risk_adjusted_pnl, volume_usd, net_bps and
risk_ratio. Tuned − untuned is reported as the paired mean over seeds with a 95 %
percentile bootstrap interval (10,000 resamples, fixed seed).

Seeds (``soakkit.evidence.study``): the static grid is searched on CALIBRATION_SEEDS (the
first ``--grid-seeds``); tuned vs untuned and the frontier are reported on the set named
by ``--set`` — ``evaluation`` (EVALUATION_SEEDS, disjoint, never used for calibration) for
the evidence, ``calibration`` while calibrating rules, guards and rollback constants.

Static comparison: per profile, a grid of fixed settings runs untuned (``--grid full``:
position limit × spread delta × loop interval × quote size; ``--grid small``: position limit
{3000, 4500, the profile's} × quote size {the profile's, the largest}); per cell, the
settings on the calibration pass-rate/P&L Pareto frontier are re-run on the reported seeds
and compared with the tuner, paired by seed. A static setting *dominates* the tuner when
both its pass rate and its P&L are higher with 95 % intervals above zero.

Goals checked per cell: the tuner does not lower the pass rate (upper bound ≥ 0) nor
risk-adjusted P&L (upper bound ≥ 0); it raises the pass rate of steady_safe in volatile and
mixed (lower bound > 0); where the untuned profile passes (pass rate ≥ 0.9) it does not
lower pnl_usd (upper bound ≥ 0); no frontier setting dominates it.

    python bench/bench_tuning.py --set evaluation --seeds 20 --grid small --grid-seeds 4 \
        --iterations 10 --sim-minutes 5 --profiles steady_safe --jobs 2 --out bench/out/tuning.json
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.config.profiles import list_profiles
from soakkit.core.io import atomic_write_text
from soakkit.evidence.study import (
    CALIBRATION_SEEDS,
    EVALUATION_SEEDS,
    PairedDiff,
    paired_ci,
    run_metrics,
    static_kpis,
)

COMPARED = ("pass_rate", "pnl_usd", "risk_adjusted_pnl", "volume_usd", "net_bps")
PASS_UP_CELLS = (("steady_safe", "volatile"), ("steady_safe", "mixed"))
PASSING = 0.9  #: untuned pass rate from which the tuner must not cost money

#: One run: (profile, mode, seed, sets, tune, iterations, sim_minutes).
Job = tuple[str, str, int, tuple[str, ...], bool, int, int]


def _run(job: Job) -> dict[str, float]:
    profile, mode, seed, sets, tune, iterations, minutes = job
    return run_metrics(static_kpis(profile, mode, seed, iterations=iterations,
                                   sim_minutes=minutes, sets=sets, tune=tune))


def _one_run(profile: str, mode: str, seed: int, iterations: int, minutes: int
             ) -> dict[str, float]:
    """One tuned run timed in process (in memory) and as a whole `soakkit soak` process."""
    start = time.perf_counter()
    _run((profile, mode, seed, (), True, iterations, minutes))
    inside = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "soakkit", "soak", "--profile", profile,
                        "--iterations", str(iterations), "--sim-minutes", str(minutes),
                        "--mode", mode, "--seed", str(seed), "--gate", "production",
                        "--quiet", "--artifacts", str(Path(tmp) / "cli")],
                       check=False, capture_output=True)
        whole = time.perf_counter() - start
    return {"in_process_s": round(inside, 3), "whole_process_s": round(whole, 3)}


def run_all(jobs: Sequence[Job], workers: int) -> dict[Job, dict[str, float]]:
    """Every job's run metrics (in parallel over ``workers`` processes; order-independent)."""
    if workers <= 1:
        return {job: _run(job) for job in jobs}
    with Pool(workers) as pool:
        return dict(zip(jobs, pool.map(_run, jobs, chunksize=2), strict=True))


def static_grid(profile: str, size: str) -> list[tuple[str, ...]]:
    """The static settings searched for ``profile`` (``--set`` lists; the profile included)."""
    base = resolve(profile, env={}).values
    limits = {3000.0, 4000.0, 5000.0, 6000.0, float(base["position_limit_notional"])}
    axes: dict[str, Iterable[float]] = {
        "position_limit_notional": sorted(limits | ({7000.0} if size == "full" else set())),
        "base_spread_bps_delta": (0.0, float(base["base_spread_bps_delta"])),
        "min_interval_ms": (float(base["min_interval_ms"]), 150.0),
        "impact_cap_ratio": (float(base["impact_cap_ratio"]), 0.12),
    }
    if size == "small":  # the limit, and the quote size at the profile's or the largest
        base_size = (float(base["impact_cap_ratio"]), float(base["max_delta_ratio"]))
        return [(f"position_limit_notional={limit}", f"impact_cap_ratio={cap}",
                 f"max_delta_ratio={delta}")
                for limit in sorted({3000.0, 4500.0, float(base["position_limit_notional"])})
                for cap, delta in (base_size, (0.2, 0.3))]
    grid = []
    for combo in itertools.product(*axes.values()):
        sets = []
        for key, value in zip(axes, combo, strict=True):
            typed = int(value) if key == "min_interval_ms" else value
            sets.append(f"{key}={typed}")
        grid.append(tuple(sets))
    return grid


def frontier(points: dict[tuple[str, ...], dict[str, float]]) -> list[tuple[str, ...]]:
    """Settings no other setting beats on both pass rate and P&L (the Pareto frontier)."""
    out = []
    for s, m in points.items():
        beaten = any(o["pass_rate"] >= m["pass_rate"] and o["pnl_usd"] >= m["pnl_usd"]
                     and (o["pass_rate"] > m["pass_rate"] or o["pnl_usd"] > m["pnl_usd"])
                     for t, o in points.items() if t != s)
        if not beaten:
            out.append(s)
    return sorted(out, key=lambda s: (points[s]["pass_rate"], -points[s]["pnl_usd"]))


def _mean(rows: Sequence[dict[str, float]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def _goals(profile: str, mode: str, diffs: dict[str, PairedDiff], dominated: list[str]
           ) -> dict[str, bool | None]:
    passing = diffs["pass_rate"].mean_b >= PASSING
    return {
        "pass_rate_not_lowered": diffs["pass_rate"].hi >= 0,
        "pass_rate_raised": diffs["pass_rate"].lo > 0 if (profile, mode) in PASS_UP_CELLS
        else None,
        "risk_adjusted_pnl_not_lowered": diffs["risk_adjusted_pnl"].hi >= 0,
        "pnl_not_lowered_where_passing": diffs["pnl_usd"].hi >= 0 if passing else None,
        "not_dominated": not dominated,
    }


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--set", choices=("evaluation", "calibration"), default="evaluation",
                        dest="seed_set", help="seeds to report tuned vs untuned on")
    parser.add_argument("--seeds", type=int, default=24, help="how many of that set")
    parser.add_argument("--grid-seeds", type=int, default=8,
                        help="calibration seeds the static grid is searched on")
    parser.add_argument("--grid", choices=("full", "small", "none"), default="full")
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--sim-minutes", type=int, default=10)
    parser.add_argument("--profiles", nargs="+", default=[p.name for p in list_profiles(None)])
    parser.add_argument("--modes", nargs="+", default=["volatile", "mixed", "calm", "spike",
                                                       "calm>volatile", "volatile>calm"],
                        help="market modes; a>b: a regime change half-way through the run")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--markdown", type=Path, help="also write the evidence tables here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    seeds = (EVALUATION_SEEDS if args.seed_set == "evaluation" else CALIBRATION_SEEDS)
    seeds = seeds[:args.seeds]
    grid_seeds = CALIBRATION_SEEDS[:args.grid_seeds]
    cells = [(p, m) for p in args.profiles for m in args.modes]
    it, mins = args.iterations, args.sim_minutes

    # 1. tuned vs untuned, and the static grid on calibration seeds
    main_jobs: list[Job] = [(p, m, s, (), tune, it, mins) for p, m in cells for s in seeds
                            for tune in (True, False)]
    grids = {p: static_grid(p, args.grid) for p in args.profiles} if args.grid != "none" \
        else {p: [] for p in args.profiles}
    grid_jobs: list[Job] = [(p, m, s, sets, False, it, mins) for p, m in cells
                            for sets in grids[p] for s in grid_seeds]
    results = run_all(main_jobs + grid_jobs, args.jobs)

    # 2. per cell: the calibration frontier, re-run on the reported seeds
    fronts: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for p, m in cells:
        points = {sets: {k: _mean([results[(p, m, s, sets, False, it, mins)]
                                   for s in grid_seeds], k) for k in ("pass_rate", "pnl_usd")}
                  for sets in grids[p]}
        fronts[(p, m)] = frontier(points) if points else []
    front_jobs: list[Job] = [(p, m, s, sets, False, it, mins) for (p, m), f in fronts.items()
                             for sets in f for s in seeds]
    results.update(run_all([j for j in front_jobs if j not in results], args.jobs))

    report: dict[str, Any] = {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seeds": {"reported": list(seeds), "set": args.seed_set,
                  "grid_calibration": list(grid_seeds)},
        "cells": {}}
    for p, m in cells:
        tuned = [results[(p, m, s, (), True, it, mins)] for s in seeds]
        untuned = [results[(p, m, s, (), False, it, mins)] for s in seeds]
        diffs = {k: paired_ci([r[k] for r in tuned], [r[k] for r in untuned]) for k in COMPARED}
        statics, dominated = [], []
        for sets in fronts[(p, m)]:
            rows = [results[(p, m, s, sets, False, it, mins)] for s in seeds]
            d_pass = paired_ci([r["pass_rate"] for r in rows], [r["pass_rate"] for r in tuned])
            d_pnl = paired_ci([r["pnl_usd"] for r in rows], [r["pnl_usd"] for r in tuned])
            dom = d_pass.lo > 0 and d_pnl.lo > 0
            if dom:
                dominated.append(" ".join(sets))
            statics.append({"sets": list(sets), "pass_rate": d_pass.mean_a,
                            "pnl_usd": d_pnl.mean_a, "minus_tuned": {
                                "pass_rate": d_pass.to_json(), "pnl_usd": d_pnl.to_json()},
                            "dominates_tuner": dom})
        report["cells"][f"{p}/{m}"] = {
            "tuned_minus_untuned": {k: d.to_json() for k, d in diffs.items()},
            "static_frontier": statics,
            "goals": _goals(p, m, diffs, dominated),
            "net_bps_up_dollars_down": diffs["net_bps"].lo > 0 and diffs["pnl_usd"].hi < 0,
        }
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["one_run"] = _one_run(args.profiles[0], args.modes[0], seeds[0], it, mins)
    _print(report)
    save(args.out, report)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.markdown, markdown(report))
    return 0


def _ci(d: dict[str, Any], digits: int) -> str:
    lo, hi = d["ci95"]
    return f"{d['diff']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def markdown(report: dict[str, Any]) -> str:
    """The evidence tables of docs/TUNING.md, from a report."""
    mark = {True: "✔", False: "✘ **not met**", None: "–"}
    lines = ["| cell | pass rate untuned → tuned (Δ [95 % CI]) | pnl_usd | risk_adjusted_pnl "
             "| volume_usd | net_bps | goals |", "|---|---|---|---|---|---|---|"]
    for cell, data in report["cells"].items():
        d = data["tuned_minus_untuned"]
        goals = data["goals"]
        failed = [k for k, v in goals.items() if v is False]
        lines.append(
            f"| {cell} | {d['pass_rate']['mean_b']:.3f} → {d['pass_rate']['mean_a']:.3f} "
            f"({_ci(d['pass_rate'], 3)}) | {d['pnl_usd']['mean_b']:.1f} → "
            f"{d['pnl_usd']['mean_a']:.1f} ({_ci(d['pnl_usd'], 1)}) | "
            f"{d['risk_adjusted_pnl']['mean_b']:.4f} → {d['risk_adjusted_pnl']['mean_a']:.4f} "
            f"({_ci(d['risk_adjusted_pnl'], 4)}) | {_ci(d['volume_usd'], 0)} | "
            f"{_ci(d['net_bps'], 3)} | "
            + ("all met" if not failed else "✘ " + ", ".join(failed)) + " |")
    lines += ["", "| cell | goal | met |", "|---|---|---|"]
    for cell, data in report["cells"].items():
        for goal, ok in data["goals"].items():
            if ok is not None:
                lines.append(f"| {cell} | {goal.replace('_', ' ')} | {mark[ok]} |")
    lines += ["", "| cell | static setting (frontier on calibration seeds) | pass rate | "
              "pnl_usd | static − tuned: pass rate | static − tuned: pnl_usd |",
              "|---|---|---|---|---|---|"]
    for cell, data in report["cells"].items():
        for st in data["static_frontier"]:
            mt = st["minus_tuned"]
            setting = ", ".join(x.replace("_notional", "").replace("=", " ")
                                for x in st["sets"])
            lines.append(f"| {cell} | {setting} | {st['pass_rate']:.3f} | {st['pnl_usd']:.1f} | "
                         f"{_ci(mt['pass_rate'], 3)} | {_ci(mt['pnl_usd'], 1)}"
                         f"{' **dominates**' if st['dominates_tuner'] else ''} |")
    return "\n".join(lines) + "\n"


def _fmt(d: dict[str, Any], digits: int) -> str:
    lo, hi = d["ci95"]
    return (f"{d['mean_b']:.{digits}f} → {d['mean_a']:.{digits}f} "
            f"({d['diff']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}])")


def _print(report: dict[str, Any]) -> None:
    digits = {"pass_rate": 3, "pnl_usd": 1, "risk_adjusted_pnl": 4, "volume_usd": 0,
              "net_bps": 3}
    print(f"seeds: {report['seeds']['set']} {report['seeds']['reported'][0]}.."
          f"{report['seeds']['reported'][-1]} ({len(report['seeds']['reported'])}); "
          f"static grid on calibration {report['seeds']['grid_calibration']}")
    for cell, data in report["cells"].items():
        print(f"\n{cell}: untuned → tuned (difference [95 % CI])")
        for k, d in data["tuned_minus_untuned"].items():
            print(f"  {k:<18} {_fmt(d, digits[k])}")
        for st in data["static_frontier"]:
            mt = st["minus_tuned"]
            print(f"  static {' '.join(st['sets'])}: pass {st['pass_rate']:.3f} "
                  f"({mt['pass_rate']['diff']:+.3f} [{mt['pass_rate']['ci95'][0]:+.3f}, "
                  f"{mt['pass_rate']['ci95'][1]:+.3f}]) pnl {st['pnl_usd']:.1f} "
                  f"({mt['pnl_usd']['diff']:+.1f} [{mt['pnl_usd']['ci95'][0]:+.1f}, "
                  f"{mt['pnl_usd']['ci95'][1]:+.1f}]){' DOMINATES' * st['dominates_tuner']}")
        goals = ", ".join(f"{k} {'✔' if v else '✘'}" for k, v in data["goals"].items()
                          if v is not None)
        print(f"  goals: {goals}")
        if data["net_bps_up_dollars_down"]:
            print("  WARNING: net_bps up, dollars down")
    one = report["one_run"]
    print(f"\nwall time {report['wall_s']} s (in-process runs); one tuned run: in-process "
          f"{one['in_process_s']:.2f} s, as a whole `soakkit soak` process "
          f"{one['whole_process_s']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
