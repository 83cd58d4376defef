"""Does the tuner earn its keep? Tuned vs untuned vs the best fixed setting, out of sample.

Cells: profiles × markets: synthetic modes (``--modes``), calibrated markets
(``--markets FILE``, run in the regime mix they were fitted on) and recorded tapes
(``--tapes DIR``, replayed one window per iteration; the seed then varies only the venue's
and the bot's random draws, so the intervals are conditional on that one tape). For each
cell and seed an in-memory mini-soak runs with the tuner and one without (``--no-tune``);
both see the same markets. Per run:
production pass rate (share of iterations holding the steady production gate, floors
included) and the means of pnl_usd, risk_adjusted_pnl, volume_usd and net_bps. Differences
are paired by seed: mean and 95 % percentile bootstrap interval (10,000 resamples, fixed seed).

Seeds (``soakkit.evidence.study``): a static grid of fixed settings is searched on the first
``--grid-seeds`` CALIBRATION_SEEDS; the tuner, the profile untuned and the grid's frontier are
reported on the first ``--seeds`` of the set named by ``--set`` (``evaluation``: disjoint from
calibration, never tuned on).

Fixed settings (``--grid``): per profile, position limit × quote size (``impact_cap_ratio`` and
``max_delta_ratio`` together) × spread delta (``full``: 32 settings; ``small``: limit {3000,
4500, the profile's} × size {the profile's, the largest}: 6). Per cell, the settings on the
calibration pass-rate/P&L frontier are re-run on the reported seeds; the *best fixed setting*
is the frontier setting with the highest calibration P&L among those whose calibration pass
rate is at least the profile's own. The tuner *matches* it when neither its pass rate nor its
P&L is lower with confidence; it is *dominated* by a setting whose pass rate and P&L are both
higher with confidence.

Goals per cell: tuned − untuned never lower with confidence in pass rate, risk-adjusted P&L
or P&L (upper bound ≥ 0); no frontier setting dominates the tuner.

Resumable and safe to run in the background: every run's metrics are stored under
``--store`` (one file per run) as soon as it finishes, keyed by the parameter values it ran
with, its market, the engine version and, when tuned, the tuner's rules and constants; a rerun of
the same command skips what is stored and only computes what is missing. Progress goes to
stderr. The full evidence of docs/TUNING.md::

    nohup python bench/bench_tuning.py --store bench/out/tuning-store --set evaluation \\
        --seeds 24 --grid full --grid-seeds 8 --iterations 12 --sim-minutes 10 --jobs 2 \\
        --out bench/out/tuning.json --markdown bench/out/tuning.md > bench/out/tuning.log 2>&1 &
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.config.profiles import list_profiles
from soakkit.core.digests import sha256_file
from soakkit.core.io import atomic_write_json, atomic_write_text
from soakkit.evidence.study import (
    CALIBRATION_SEEDS,
    EVALUATION_SEEDS,
    MARKET_PREFIX,
    TAPE_PREFIX,
    PairedDiff,
    market_label,
    paired_ci,
    run_metrics,
    static_kpis,
)
from soakkit.sim.version import ENGINE_VERSION
from soakkit.tuning.guards import GUARDS
from soakkit.tuning.rules import RELAX, RULES

COMPARED = ("pass_rate", "pnl_usd", "risk_adjusted_pnl", "volume_usd", "net_bps")
#: A bound this close to 0 is 0 (bootstrap means of equal values differ in the last bits).
EPS = 1e-9
NOT_LOWER = ("pass_rate", "risk_adjusted_pnl", "pnl_usd")  #: tuned − untuned goals

#: One run: (profile, mode, seed, sets, tune, iterations, sim_minutes).
Job = tuple[str, str, int, tuple[str, ...], bool, int, int]


def job_key(job: Job) -> str:
    """The stored name of a run, hashed: every parameter value it runs with (the profile's
    with the job's ``--set`` applied), its market, the engine version and, for a tuned run,
    the tuner's rules and guard constants. A change to any of them makes a new run, never a
    stale one; a re-tuned profile reuses the runs of the grid point it now equals."""
    profile, mode, seed, sets, tune, iterations, minutes = job
    tuner = [repr(GUARDS), repr(RULES), repr(RELAX)] if tune else []
    values = sorted(resolve(profile, sets=sets, env={}).values.items())
    text = json.dumps([mode, seed, tune, iterations, minutes, ENGINE_VERSION, values, tuner,
                       list(market_digest(mode))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.cache
def market_digest(mode: str) -> tuple[str, ...]:
    """The content digests of the market file or tape folder ``mode`` names (a recalibrated
    market or a re-imported tape makes new runs); empty for a synthetic mode. Read once per
    process: every job of a cell keys on it."""
    if mode.startswith(MARKET_PREFIX):
        return (sha256_file(Path(mode[len(MARKET_PREFIX):])),)
    if mode.startswith(TAPE_PREFIX):
        folder = Path(mode[len(TAPE_PREFIX):])
        return tuple(f"{f.name}:{sha256_file(f)}" for f in sorted(folder.iterdir())
                     if f.is_file())
    return ()


def _run(job: Job) -> tuple[Job, dict[str, float]]:
    profile, mode, seed, sets, tune, iterations, minutes = job
    return job, run_metrics(static_kpis(profile, mode, seed, iterations=iterations,
                                        sim_minutes=minutes, sets=sets, tune=tune))


def _path(store: Path, job: Job) -> Path:
    key = job_key(job)
    return store / key[:2] / f"{key}.json"


def run_all(jobs: Sequence[Job], workers: int, store: Path) -> dict[Job, dict[str, float]]:
    """Every job's run metrics: stored ones read back, the others run and stored one by one."""
    out: dict[Job, dict[str, float]] = {}
    todo: list[Job] = []
    for job in dict.fromkeys(jobs):
        path = _path(store, job)
        if path.is_file():  # an undefined metric (net_bps without fills) is stored as null
            out[job] = {k: math.nan if v is None else v
                        for k, v in json.loads(path.read_text())["metrics"].items()}
        else:
            todo.append(job)
    started, total = time.perf_counter(), len(todo)
    if todo:
        print(f"{len(out)} runs stored, {total} to run", file=sys.stderr, flush=True)

    def keep(job: Job, metrics: dict[str, float], done: int) -> None:
        path = _path(store, job)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"job": list(job), "engine_version": ENGINE_VERSION,
                                 "metrics": {k: v if math.isfinite(v) else None
                                             for k, v in metrics.items()}})
        out[job] = metrics
        if done % 25 == 0 or done == total:
            rate = done / max(time.perf_counter() - started, 1e-9)
            print(f"  {done}/{total} runs ({rate:.2f}/s, about "
                  f"{(total - done) / max(rate, 1e-9) / 60:.0f} min left)", file=sys.stderr,
                  flush=True)

    if workers <= 1:
        for done, job in enumerate(todo, start=1):
            keep(*_run(job), done)
    elif todo:
        with Pool(workers) as pool:
            for done, (job, metrics) in enumerate(pool.imap_unordered(_run, todo), start=1):
                keep(job, metrics, done)
    return out


def static_grid(profile: str, size: str) -> list[tuple[str, ...]]:
    """The fixed settings searched for ``profile`` (``--set`` lists; the profile included)."""
    base = resolve(profile, env={}).values
    own_size = (float(base["impact_cap_ratio"]), float(base["max_delta_ratio"]))
    own_limit = float(base["position_limit_notional"])
    if size == "small":
        limits = sorted({3000.0, 4500.0, own_limit})
        sizes = [own_size, (0.2, 0.3)]
        spreads = [float(base["base_spread_bps_delta"])]
    else:
        limits = sorted({3000.0, 4500.0, 6000.0, own_limit})
        sizes = sorted({own_size, (0.12, 0.16), (0.16, 0.22), (0.2, 0.3)})
        spreads = sorted({0.0, float(base["base_spread_bps_delta"])})
    return [(f"position_limit_notional={limit}", f"impact_cap_ratio={cap}",
             f"max_delta_ratio={delta}", f"base_spread_bps_delta={spread}")
            for limit, (cap, delta), spread in itertools.product(limits, sizes, spreads)]


def own_setting(profile: str, grid: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The grid point that is the profile's own values (``None`` if the grid lacks it)."""
    base = resolve(profile, env={}).values
    for sets in grid:
        if all(float(base[k]) == float(v) for k, v in (s.split("=") for s in sets)):
            return sets
    return None


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


def best_fixed(points: dict[tuple[str, ...], dict[str, float]], front: list[tuple[str, ...]],
               own: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The frontier setting with the most P&L that passes at least as often as the profile."""
    floor = points[own]["pass_rate"] if own in points else 0.0
    fit = [s for s in front if points[s]["pass_rate"] >= floor - 1e-12]
    return max(fit, key=lambda s: points[s]["pnl_usd"]) if fit else None


def _mean(rows: Sequence[dict[str, float]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def _versus(a: Sequence[dict[str, float]], b: Sequence[dict[str, float]]
            ) -> dict[str, PairedDiff]:
    return {k: paired_ci([r[k] for r in a], [r[k] for r in b]) for k in COMPARED}


def compare_with_best(d: dict[str, PairedDiff]) -> str:
    """tuned − best fixed: dominated, dominates, matches, or a trade-off of pass rate and P&L."""
    p, m = d["pass_rate"], d["pnl_usd"]
    if p.hi < -EPS and m.hi < -EPS:
        return "dominated"
    if p.lo > EPS and m.lo > EPS:
        return "dominates"
    if p.hi >= -EPS and m.hi >= -EPS:
        return "matches"
    return "less P&L" if m.hi < -EPS else "lower pass rate"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--store", type=Path, required=True,
                        help="folder of stored runs (created; reused by a rerun)")
    parser.add_argument("--set", choices=("evaluation", "calibration"), default="evaluation",
                        dest="seed_set", help="seeds to report on")
    parser.add_argument("--seeds", type=int, default=24, help="how many of that set")
    parser.add_argument("--grid-seeds", type=int, default=8,
                        help="calibration seeds the fixed settings are searched on")
    parser.add_argument("--grid", choices=("full", "small", "none"), default="full")
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--sim-minutes", type=int, default=10)
    parser.add_argument("--profiles", nargs="+", default=[p.name for p in list_profiles(None)])
    parser.add_argument("--modes", nargs="*", default=["volatile", "mixed", "calm", "spike"],
                        help="synthetic market modes (none: only --markets/--tapes); a>b: "
                             "a regime change half-way through the run")
    parser.add_argument("--markets", nargs="+", type=Path, default=[], metavar="FILE",
                        help="calibrated market files (soakkit calibrate), each a cell run "
                             "in the regime mix it was fitted on")
    parser.add_argument("--tapes", nargs="+", type=Path, default=[], metavar="DIR",
                        help="recorded tapes, each a cell replayed one window per iteration "
                             "(--iterations x --sim-minutes must fit the tape)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--markdown", type=Path, help="also write the evidence tables here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pool = EVALUATION_SEEDS if args.seed_set == "evaluation" else CALIBRATION_SEEDS
    seeds = pool[:args.seeds]
    grid_seeds = CALIBRATION_SEEDS[:args.grid_seeds]
    modes = list(args.modes) + [f"{MARKET_PREFIX}{f.resolve()}" for f in args.markets] \
        + [f"{TAPE_PREFIX}{d.resolve()}" for d in args.tapes]
    cells = [(p, m) for p in args.profiles for m in modes]
    it, mins = args.iterations, args.sim_minutes
    grids = {p: static_grid(p, args.grid) if args.grid != "none" else [] for p in args.profiles}

    # 1. tuned and untuned on the reported seeds; the grid on calibration seeds
    jobs: list[Job] = [(p, m, s, (), tune, it, mins) for p, m in cells for s in seeds
                       for tune in (True, False)]
    jobs += [(p, m, s, sets, False, it, mins) for p, m in cells for sets in grids[p]
             for s in grid_seeds]
    results = run_all(jobs, args.jobs, args.store)

    # 2. per cell: the calibration frontier and the best fixed setting, on the reported seeds
    fronts: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    best: dict[tuple[str, str], tuple[str, ...] | None] = {}
    calibration: dict[tuple[str, str], dict[tuple[str, ...], dict[str, float]]] = {}
    for p, m in cells:
        points = {sets: {k: _mean([results[(p, m, s, sets, False, it, mins)]
                                   for s in grid_seeds], k) for k in ("pass_rate", "pnl_usd")}
                  for sets in grids[p]}
        calibration[(p, m)] = points
        fronts[(p, m)] = frontier(points) if points else []
        best[(p, m)] = best_fixed(points, fronts[(p, m)], own_setting(p, grids[p])) \
            if points else None
    results.update(run_all([(p, m, s, sets, False, it, mins) for (p, m), f in fronts.items()
                            for sets in f for s in seeds], args.jobs, args.store))

    report: dict[str, Any] = {
        "args": {k: (str(v) if isinstance(v, Path) else
                     [str(x) for x in v] if isinstance(v, list) else v)
                 for k, v in vars(args).items()},
        "engine_version": ENGINE_VERSION,
        "seeds": {"reported": list(seeds), "set": args.seed_set,
                  "grid_calibration": list(grid_seeds)},
        "cells": {}}
    for p, m in cells:
        tuned = [results[(p, m, s, (), True, it, mins)] for s in seeds]
        untuned = [results[(p, m, s, (), False, it, mins)] for s in seeds]
        diffs = _versus(tuned, untuned)
        statics = []
        for sets in fronts[(p, m)]:
            rows = [results[(p, m, s, sets, False, it, mins)] for s in seeds]
            vs = _versus(tuned, rows)
            statics.append({"sets": list(sets), "best": sets == best[(p, m)],
                            "calibration": calibration[(p, m)][sets],
                            "evaluation": {k: None if math.isnan(v := _mean(rows, k)) else v
                                           for k in COMPARED},
                            "tuned_minus_static": {k: d.to_json() for k, d in vs.items()},
                            "relation": compare_with_best(vs)})
        goals = {f"{k}_not_lowered": diffs[k].hi >= -EPS for k in NOT_LOWER}
        goals["not_dominated"] = not any(st["relation"] == "dominated" for st in statics)
        top = next((st for st in statics if st["best"]), None)
        report["cells"][f"{p}/{market_label(m)}"] = {
            "tuned_minus_untuned": {k: d.to_json() for k, d in diffs.items()},
            "static_frontier": statics,
            "versus_best_fixed": None if top is None else top["relation"],
            "goals": goals,
            "net_bps_up_dollars_down": diffs["net_bps"].lo > EPS and diffs["pnl_usd"].hi < -EPS,
        }
    report["wall_s"] = round(time.perf_counter() - started, 1)
    _print(report)
    save(args.out, report)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.markdown, markdown(report))
    return 0


def _ci(d: dict[str, Any], digits: int) -> str:
    lo, hi = d["ci95"]
    if d["diff"] is None:
        return "n/a (no seed with both defined)"
    return f"{d['diff']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _value(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _setting(sets: Sequence[str]) -> str:
    short = {"position_limit_notional": "limit", "impact_cap_ratio": "cap",
             "max_delta_ratio": "max_delta", "base_spread_bps_delta": "spread_delta"}
    return ", ".join(f"{short.get(k, k)} {v}" for k, v in (s.split("=") for s in sets))


def markdown(report: dict[str, Any]) -> str:
    """The evidence tables of docs/TUNING.md, from a report."""
    lines = ["| cell | pass rate untuned → tuned (Δ [95 % CI]) | pnl_usd | risk_adjusted_pnl "
             "| volume_usd | net_bps | goals |", "|---|---|---|---|---|---|---|"]
    for cell, data in report["cells"].items():
        d = data["tuned_minus_untuned"]
        failed = [k for k, v in data["goals"].items() if v is False]
        lines.append(
            f"| {cell} | {d['pass_rate']['mean_b']:.3f} → {d['pass_rate']['mean_a']:.3f} "
            f"({_ci(d['pass_rate'], 3)}) | {d['pnl_usd']['mean_b']:.1f} → "
            f"{d['pnl_usd']['mean_a']:.1f} ({_ci(d['pnl_usd'], 1)}) | "
            f"{d['risk_adjusted_pnl']['mean_b']:.4f} → {d['risk_adjusted_pnl']['mean_a']:.4f} "
            f"({_ci(d['risk_adjusted_pnl'], 4)}) | {_ci(d['volume_usd'], 0)} | "
            f"{_ci(d['net_bps'], 3)} | "
            + ("all met" if not failed else "✘ " + ", ".join(failed)) + " |")
    lines += ["", "| cell | fixed setting (calibration frontier; **best**) | pass rate | pnl_usd "
              "| tuned − fixed: pass rate | tuned − fixed: pnl_usd | tuner |",
              "|---|---|---|---|---|---|---|"]
    for cell, data in report["cells"].items():
        for st in data["static_frontier"]:
            mt = st["tuned_minus_static"]
            name = _setting(st["sets"])
            lines.append(f"| {cell} | {f'**{name}**' if st['best'] else name} | "
                         f"{st['evaluation']['pass_rate']:.3f} | "
                         f"{st['evaluation']['pnl_usd']:.1f} | {_ci(mt['pass_rate'], 3)} | "
                         f"{_ci(mt['pnl_usd'], 1)} | {st['relation']} |")
    return "\n".join(lines) + "\n"


def _print(report: dict[str, Any]) -> None:
    digits = {"pass_rate": 3, "pnl_usd": 1, "risk_adjusted_pnl": 4, "volume_usd": 0,
              "net_bps": 3}
    print(f"seeds: {report['seeds']['set']} {report['seeds']['reported'][0]}.."
          f"{report['seeds']['reported'][-1]} ({len(report['seeds']['reported'])}); "
          f"fixed settings searched on calibration {report['seeds']['grid_calibration']}")
    for cell, data in report["cells"].items():
        print(f"\n{cell}: tuned − untuned (difference [95 % CI])")
        for k, d in data["tuned_minus_untuned"].items():
            print(f"  {k:<18} {_value(d['mean_b'], digits[k])} → "
                  f"{_value(d['mean_a'], digits[k])} "
                  f"({_ci(d, digits[k])})")
        for st in data["static_frontier"]:
            mt = st["tuned_minus_static"]
            print(f"  {'best ' if st['best'] else ''}fixed {_setting(st['sets'])}: tuned − fixed "
                  f"pass {_ci(mt['pass_rate'], 3)}, pnl {_ci(mt['pnl_usd'], 1)}: "
                  f"{st['relation']}")
        goals = ", ".join(f"{k} {'✔' if v else '✘'}" for k, v in data["goals"].items())
        print(f"  goals: {goals}")
        if data["net_bps_up_dollars_down"]:
            print("  WARNING: net_bps up, dollars down")
    print(f"\nwall time {report['wall_s']} s")


if __name__ == "__main__":
    sys.exit(main())
