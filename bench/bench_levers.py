"""Lever tests with their costs: does each rule's delta move its target KPI the right way?

For every rule in the table (and ``relax``), and for every lever dropped from it, the delta
is applied in the rule's lever cell (``soakkit.evidence.study.LEVER_CASES``) and both settings
run untuned on the same calibration seeds. Reported per lever: the mean paired change of the
target KPI with its 95 % bootstrap interval, and what the lever does to pnl_usd,
risk_adjusted_pnl and volume_vs_reference (the trial's objective and the gate's floor).

    python bench/bench_levers.py --seeds 16 --iterations 6 --out bench/out/levers.json \\
        --markdown bench/out/levers.md
"""

from __future__ import annotations

import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from _common import make_parser, save

from soakkit.core.io import atomic_write_text
from soakkit.evidence.study import (
    CALIBRATION_SEEDS,
    LEVER_CASES,
    lever_effects,
    paired_ci,
    rule_deltas,
)
from soakkit.tuning.rules import RELAX, RULES

COSTS = ("pnl_usd", "risk_adjusted_pnl", "volume_vs_reference")

#: Levers removed from the rule table, measured where their rule fired (docs/TUNING.md).
DROPPED: tuple[tuple[str, str, str, str, dict[str, float], str, str], ...] = (
    # (former rule, lever, profile, mode, delta, target KPI, better)
    ("risk_high", "impact_cap_ratio -0.005", "aggressive", "volatile",
     {"impact_cap_ratio": -0.005}, "risk_ratio", "lower"),
    ("latency_high", "min_interval_ms +20", "aggressive", "spike",
     {"min_interval_ms": 20.0}, "p95_latency_ms", "lower"),
    ("latency_high", "min_interval_ms +20, replace_rate_per_min -20", "aggressive", "volatile",
     {"min_interval_ms": 20.0, "replace_rate_per_min": -20.0}, "p95_latency_ms", "lower"),
    ("adverse_high", "max_delta_ratio -0.01", "steady_safe", "spike",
     {"max_delta_ratio": -0.01}, "adverse_bps_p95", "lower"),
    ("adverse_high", "base_spread_bps_delta +0.1", "steady_safe", "spike",
     {"base_spread_bps_delta": 0.1}, "adverse_bps_p95", "lower"),
    ("adverse_high", "impact_cap_ratio -0.005 (on the USD tail)", "steady_safe", "spike",
     {"impact_cap_ratio": -0.005}, "adverse_cost_usd_p95", "lower"),
    ("edge_thin", "base_spread_bps_delta +0.15", "steady_safe", "mixed",
     {"base_spread_bps_delta": 0.15}, "net_bps", "higher"),
    ("maker_share_low", "position_limit_notional +500 (the rule's lever until issue 25)",
     "ultra_safe", "spike", {"position_limit_notional": 500.0}, "maker_taker_ratio", "higher"),
    ("maker_share_low", "impact_cap_ratio -0.01", "ultra_safe", "spike",
     {"impact_cap_ratio": -0.01}, "maker_taker_ratio", "higher"),
    ("maker_share_low", "replace_rate_per_min -20", "aggressive", "spike",
     {"replace_rate_per_min": -20.0}, "maker_taker_ratio", "higher"),
)


def _measure(job: tuple[Any, ...]) -> dict[str, Any]:
    label, profile, mode, start, deltas, target, better, seeds, iterations = job
    effects = lever_effects(profile, mode, start, deltas, seeds, iterations=iterations,
                            sim_minutes=10, kpis=tuple(dict.fromkeys((target, *COSTS))))
    zero = [0.0] * len(seeds)
    moved = paired_ci(effects[target], zero)
    ok = moved.hi < 0 if better == "lower" else moved.lo > 0
    return {"lever": label, "cell": f"{profile}/{mode}", "start": start, "deltas": deltas,
            "target": target, "better": better, "change": moved.to_json(), "passes": ok,
            "costs": {k: paired_ci(effects[k], zero).to_json() for k in COSTS}}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", type=Path, help="also write the lever tables here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = CALIBRATION_SEEDS[:args.seeds]
    jobs = []
    for rule in (*RULES, RELAX):
        case = LEVER_CASES[rule.name]
        deltas = rule_deltas(rule.name, case.profile, case.start)
        jobs.append((rule.name, case.profile, case.mode, dict(case.start), deltas, rule.target,
                     rule.better, seeds, args.iterations))
    for former, lever, profile, mode, deltas, target, better in DROPPED:
        jobs.append((f"{former} (dropped): {lever}", profile, mode, {}, deltas, target, better,
                     seeds, args.iterations))
    with Pool(max(1, args.jobs)) as pool:
        rows = pool.map(_measure, jobs)
    report = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "seeds": list(seeds), "levers": rows,
              "wall_s": round(time.perf_counter() - started, 1)}
    for r in rows:
        c = r["change"]
        costs = "  ".join(f"{k} {v['diff']:+.4g} [{v['ci95'][0]:+.3g}, {v['ci95'][1]:+.3g}]"
                          for k, v in r["costs"].items())
        print(f"{'PASS' if r['passes'] else 'FAIL'} {r['lever']} in {r['cell']}: {r['target']} "
              f"{c['diff']:+.4g} [{c['ci95'][0]:+.4g}, {c['ci95'][1]:+.4g}] "
              f"({c['seeds_up']} up / {c['seeds_down']} down)\n     {costs}")
    print(f"wall time {report['wall_s']} s")
    save(args.out, report)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.markdown, markdown(rows))
    return 0


def _ci(d: dict[str, Any]) -> str:
    return f"{d['diff']:+.4g} [{d['ci95'][0]:+.3g}, {d['ci95'][1]:+.3g}]"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The lever tables of docs/TUNING.md (kept levers, then dropped ones)."""
    out = ["| rule | cell (start) | deltas | target: paired change [95 % CI] (seeds up/down) "
           "| test | pnl_usd | risk_adjusted_pnl | volume_vs_reference |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["change"]
        start = ", ".join(f"{k} {v:g}" for k, v in r["start"].items())
        deltas = ", ".join(f"{k} {v:+g}" for k, v in r["deltas"].items())
        out.append(f"| {r['lever']} | {r['cell']}{f' ({start})' if start else ''} | {deltas} | "
                   f"{r['target']} {_ci(c)} ({c['seeds_up']}/{c['seeds_down']}) | "
                   f"{'pass' if r['passes'] else '**fail**'} | "
                   + " | ".join(_ci(r["costs"][k]) for k in COSTS) + " |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
