"""`bench/bench_optimize.py --parts cells`: issue 26's first goal, and what the other parts
share (the study's spec, its summary, the goal's profiles).

One TPE study on synthetic modes and the held-back windows of tapes (folders, or Binance
capture files imported first); per shipped profile (untuned) × market, whether the
recommendation's risk-adjusted P&L beats it with a 95 % interval above 0 and keeps its pass
rate. The real market is the tape, or with several the tapes pooled (``tapes``). On the
tapes, per held-back window: every configuration's fills and risk-adjusted P&L, the
recommendation's differences against each profile with their exact sign-flip p-value and
the windows their spread would need, the interval as it was when latency seeds counted as
markets, and which constraints the trials broke; ``--check-tapes`` judges the
recommendation on other tapes' held-back windows (those after ``--check-split`` of each:
the recommendation is fixed before that check runs).
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _common import load_average, run_child
from optuna.trial import TrialState

from soakkit.evidence.stats import paired_sign_flip_p
from soakkit.evidence.study import paired_ci
from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.evaluate import ALL, ALL_TAPES, POOLED, TUNER
from soakkit.optimize.search import open_study
from soakkit.optimize.store import StudyStore
from soakkit.soak.options import REPLAY_MODE
from soakkit.sweep.cluster import close_local_cluster, start_local_cluster

NOW = "2026-01-01T00:00:00Z"
REPO = Path(__file__).resolve().parent.parent
SOAKKIT = str(Path(sys.executable).with_name("soakkit"))
#: The shipped profiles of issue 26's goal (12 cells: these × 4 markets); others that ship
#: now are reported beside them.
GOAL_PROFILES = ("aggressive", "steady_safe", "ultra_safe")

def study_spec(args: Any, root: Path, name: str, sampler: str, **kw: Any) -> OptimizeSpec:
    base: dict[str, Any] = dict(
        modes=tuple(args.modes.split(",")), seeds=tuple(range(1, args.seeds + 1)),
        eval_seeds=tuple(range(70_001, 70_001 + args.seeds)), iterations=args.iterations,
        sim_minutes=args.sim_minutes,
        params=tuple(args.params.split(",")) if args.params else None, trials=args.trials,
        sampler=sampler, name=name, artifacts=root, now=NOW, write_profile="never")
    return OptimizeSpec(**(base | kw))


def untuned_cells(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The out-of-sample comparisons against each shipped profile (untuned), per market."""
    return [c for c in (doc.get("evidence") or {}).get("out_of_sample", [])
            if c["group"] not in POOLED and TUNER not in c["reference"]]


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    evidence = doc.get("evidence") or {}
    winner = evidence.get("winner") or {}
    oos = next((t["oos_objective"] for t in evidence.get("in_vs_out_of_sample", [])
                if t["trial"] == winner.get("trial")), None)
    cells = untuned_cells(doc)
    overfit = evidence.get("overfitting") or {}
    return {"verdict": doc["verdict"], "feasible": doc["feasible"],
            "winner_trial": winner.get("trial"), "in_sample": winner.get("objective"),
            "out_of_sample": oos, "dsr": overfit.get("dsr"),
            "pbo": (overfit.get("pbo") or {}).get("pbo"),
            "beats_cells": sum(c["beats"] for c in cells), "cells": len(cells),
            "keeps_pass_rate": sum(c["keeps_pass_rate"] for c in cells)}


def _cell_tapes(args: Any, root: Path) -> tuple[Path, ...]:
    """``--cell-tapes``: tape folders as given; capture files imported under ``root``."""
    out = []
    for given in (t for t in args.cell_tapes.split(",") if t):
        path = REPO / given if not Path(given).is_absolute() else Path(given)
        if path.is_dir():
            out.append(path)
            continue
        folder = root / "tapes" / f"{path.parent.name}-{path.name.split('.')[0]}"
        if folder.is_dir():  # imported already (--cell-tapes and --check-tapes)
            out.append(folder)
            continue
        run_child([SOAKKIT, "tape", "import", "--from", "binance-capture", "--capture",
                   str(path), "--levels", str(args.capture_levels), "--out", str(folder)],
                  stderr=subprocess.DEVNULL)
        out.append(folder)
    return tuple(out)


def _goal_markets(doc: dict[str, Any]) -> list[str]:
    """The goal's markets: every synthetic mode, and the real one (the tapes pooled)."""
    groups = [g["name"] for g in (doc.get("evidence") or {}).get("data", {})
              .get("evaluation", [])]
    tapes = [g for g in groups if g.startswith("tape:")]
    return [g for g in groups if g not in tapes] + (
        [ALL_TAPES] if len(tapes) > 1 else tapes)


def _config_label(frame: Any, winner: dict[str, Any], key: str) -> str:
    """A configuration's name in the eval rows: the recommendation (the winner's values), a
    searched trial (other values), or the shipped profile (none set)."""
    sets = {c[4:]: frame[c][0] for c in frame.columns if c.startswith("set_")
            and frame[c][0] is not None}
    if not sets:
        return str(frame["profile"][0])
    if all(winner.get(k) is not None and float(v) == float(winner[k])
           for k, v in sets.items()):
        return "recommended"
    return f"searched {key[:8]}"


def _replay_rows(folder: Path, winner: dict[str, Any]) -> Any:
    """The study's eval rows on tapes (untuned configurations), each labelled."""
    frames = []
    for f in sorted((folder / "eval").glob("*.parquet")):
        frame = pl.read_parquet(f)
        frames.append(frame.with_columns(pl.lit(_config_label(frame, winner, f.stem))
                                         .alias("config")))
    if not frames:
        return None
    return pl.concat(frames, how="diagonal_relaxed").filter(
        (pl.col("mode") == REPLAY_MODE) & ~pl.col("tune")).with_columns(
        pl.col("risk_adjusted_pnl").cast(pl.Float64).fill_null(0.0))


def _tape_diagnostics(rows: Any) -> list[dict[str, Any]]:
    """Per tape and configuration: per held-back window, the fills, risk-adjusted P&L and
    P&L (means over the latency seeds)."""
    if rows is None:
        return []
    per = (rows.group_by("group", "config", "iteration")
           .agg(pl.col("fill_count").cast(pl.Float64).mean().alias("fills"),
                pl.col("risk_adjusted_pnl").mean(), pl.col("pnl_usd").mean())
           .sort("group", "config", "iteration"))
    return [{"tape": g, "config": c,
             "windows": part["iteration"].to_list(),
             "fills": [round(v, 2) for v in part["fills"].to_list()],
             "risk_adjusted_pnl": [round(v, 6) for v in part["risk_adjusted_pnl"].to_list()],
             "pnl_usd": [round(v, 4) for v in part["pnl_usd"].to_list()]}
            for (g, c), part in per.group_by("group", "config", maintain_order=True)]


def _real_checks(rows: Any, label: str) -> list[dict[str, Any]]:
    """``label`` (the recommendation) against each shipped profile on the tapes, each and
    pooled: the per-window differences (seeds averaged: the sampling unit), their exact
    sign-flip p-value, how many windows their mean and spread would need for a 95 % interval
    above 0 (normal approximation), and the interval as it was before (latency seeds taken
    for independent markets)."""
    if rows is None:
        return []
    seeds = rows.group_by("group", "config", "seed").agg(pl.col("risk_adjusted_pnl").mean())
    windows = rows.group_by("group", "config", "iteration").agg(
        pl.col("risk_adjusted_pnl").mean())
    out = []
    for ref in sorted(set(rows["config"]) - {label}):
        if ref.startswith("searched"):
            continue
        by_seed = seeds.filter(pl.col("config") == label).join(
            seeds.filter(pl.col("config") == ref), on=["group", "seed"])
        by_window = windows.filter(pl.col("config") == label).join(
            windows.filter(pl.col("config") == ref), on=["group", "iteration"])
        tapes = sorted(set(by_window["group"]))
        for group in tapes + ([ALL_TAPES] if len(tapes) > 1 else []):
            def part(frame: Any, key: str, group: str = group) -> Any:
                chosen = frame if group == ALL_TAPES else frame.filter(
                    pl.col("group") == group)
                return chosen.sort("group", key)
            old = part(by_seed, "seed")
            was = paired_ci(old["risk_adjusted_pnl"].to_list(),
                            old["risk_adjusted_pnl_right"].to_list())
            w = part(by_window, "iteration")
            d = (w["risk_adjusted_pnl"] - w["risk_adjusted_pnl_right"]).to_numpy()
            sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
            mean = float(d.mean())
            out.append({"profile": ref, "market": group, "windows": int(d.size),
                        "window_diffs": [round(float(x), 6) for x in d],
                        "mean": mean, "sd": sd,
                        "sign_flip_p": paired_sign_flip_p(d, np.random.default_rng(0)),
                        "windows_needed": math.ceil((1.96 * sd / mean) ** 2)
                        if mean > 0 and sd > 0 else None,
                        "seeds": was.n, "per_seed_ci95": [was.lo, was.hi]})
    return out


def _check_on_tapes(args: Any, root: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """The recommendation (the winner's values over ``steady_safe``) judged on the held-back
    windows of ``--check-tapes``: a one-trial study that starts from it, on those tapes
    only, so every shipped profile is compared with it there."""
    values = ((doc.get("evidence") or {}).get("winner") or {}).get("values")
    if not values:
        return {}
    art = root / "check"
    start = json.loads((REPO / "soakkit" / "config" / "profiles" / "steady_safe.json")
                       .read_text())
    start["params"].update(values)
    start["description"] = "the cells study's recommendation"
    (art / "profiles").mkdir(parents=True)
    (art / "profiles" / "recommended.json").write_text(json.dumps(start))
    args_check = type(args)(**{**vars(args), "cell_tapes": args.check_tapes})
    spec = study_spec(args, art, "check", "tpe", modes=(), tapes=_cell_tapes(args_check, root),
                 trials=1, profile="recommended", tape_minutes=1,
                 tape_split=args.tape_split if args.check_split is None
                 else args.check_split, params=("tail_age_ms",))
    result = dict(run_optimize(spec).result or {})
    table = [{"profile": c["reference"], "market": c["group"], "cells": c["cells"],
              "diff": c["diff"], "ci95": c["ci95"], "beats": c["beats"],
              "winner_pass_rate": c["winner_pass_rate"],
              "other_pass_rate": c["other_pass_rate"]}
             for c in (result.get("evidence") or {}).get("out_of_sample", [])
             if c["reference"] in GOAL_PROFILES]
    checks = _real_checks(_replay_rows(art / "studies" / "check", {}), "recommended")
    return {"values": values, "table": table, "checks": checks}


def _print_checks(checks: list[dict[str, Any]]) -> None:
    for row in checks:
        lo, hi = row["per_seed_ci95"]
        print(f"  {row['profile']:>12} {row['market']:>30}: per window {row['window_diffs']}"
              f" mean {num(row['mean'])} sd {num(row['sd'], '.5f')}, sign-flip p "
              f"{row['sign_flip_p']:.3f}, windows needed {row['windows_needed']}; "
              f"seeds as markets ({row['seeds']}): [{num(lo)}, {num(hi)}]")


def _violations(folder: Path) -> dict[str, int]:
    """How many complete trials break each constraint (market:KPI), most often first."""
    study = open_study(StudyStore(folder), read_only=True)
    counts: Counter[str] = Counter()
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        counts.update(k for k, v in (t.constraints or {}).items() if v > 0)
    return dict(counts.most_common())


def run_cells(args: Any, root: Path, out: dict[str, Any]) -> None:
    """Issue 26's first goal, at the size the flags give (see the module docstring)."""
    tapes = _cell_tapes(args, root)
    spec = study_spec(args, root / "cells", "cells", "tpe",
                 modes=tuple(m for m in args.cell_modes.split(",") if m), tapes=tapes,
                 tape_minutes=1, tape_split=args.tape_split, workers=args.workers)
    load_before = load_average()
    cpu0, children0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if args.workers == 1:
        result = run_optimize(spec)
    else:
        client, cluster = start_local_cluster(args.workers)
        try:
            result = run_optimize(spec, client)
        finally:
            close_local_cluster(client, cluster)
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = dict(result.result or {})
    table = [{"profile": c["reference"], "market": c["group"], "cells": c["cells"],
              "diff": c["diff"], "ci95": c["ci95"], "beats": c["beats"],
              "winner": c["winner"], "other": c["other"],
              "winner_pass_rate": c["winner_pass_rate"],
              "other_pass_rate": c["other_pass_rate"],
              "keeps_pass_rate": c["keeps_pass_rate"]}
             for c in (doc.get("evidence") or {}).get("out_of_sample", [])
             if c["group"] != ALL and TUNER not in c["reference"]]
    markets = _goal_markets(doc)
    replays = _replay_rows(root / "cells" / "studies" / "cells",
                           ((doc.get("evidence") or {}).get("winner") or {}).get("values")
                           or {})
    goal = [c for c in table if c["profile"] in GOAL_PROFILES and c["market"] in markets]
    others = [c for c in table if c["profile"] not in GOAL_PROFILES
              and c["market"] in markets]
    out["cells"] = {
        "summary": summary(doc), "markets": markets, "goal_cells": len(goal),
        "winner_values": ((doc.get("evidence") or {}).get("winner") or {}).get("values"),
        "goal_beats": sum(c["beats"] for c in goal),
        "goal_keeps_pass_rate": sum(c["keeps_pass_rate"] for c in goal),
        "goal_beats_and_keeps": sum(c["beats"] and c["keeps_pass_rate"] for c in goal),
        "other_cells": len(others), "other_beats": sum(c["beats"] for c in others),
        "table": table, "tapes": _tape_diagnostics(replays),
        "real_checks": _real_checks(replays, "recommended"),
        "violations": _violations(root / "cells" / "studies" / "cells"),
        "wall_s": round(wall, 1),
        "cpu_s": round(time.process_time() - cpu0 + children.ru_utime + children.ru_stime
                       - children0.ru_utime - children0.ru_stime, 1),
        "load_before": load_before, "load_after": load_average(), "workers": args.workers}
    c = out["cells"]
    if args.check_tapes:
        c["check"] = _check_on_tapes(args, root, doc)
    print(f"cells: {c['goal_beats']}/{c['goal_cells']} shipped-profile x market cells "
          f"beaten with a 95 % interval above 0 ({c['goal_beats_and_keeps']} also keeping "
          f"the pass rate; goal 10 of 12; markets {', '.join(markets)}); other profiles "
          f"{c['other_beats']}/{c['other_cells']}; verdict {c['summary']['verdict']}, DSR "
          f"{c['summary']['dsr']}, PBO {c['summary']['pbo']}; {wall:.0f} s wall, "
          f"{c['cpu_s']:.0f} s CPU, load {load_before:.1f} -> {c['load_after']:.1f}")
    for row in table:
        lo, hi = row["ci95"]
        print(f"  {row['profile']:>12} {row['market']:>34} ({row['cells']:>2} units): diff "
              f"{num(row['diff'])} [{num(lo)}, {num(hi)}] beats {row['beats']}, pass "
              f"{num(row['winner_pass_rate'], '.2f')} vs {num(row['other_pass_rate'], '.2f')}")
    print(f"  feasible {c['summary']['feasible']} of {args.trials} trials; constraints "
          "broken (trials): " + ", ".join(f"{k} {v}" for k, v in list(
              c["violations"].items())[:8]))
    _print_checks(c["real_checks"])
    for d in c["tapes"]:
        print(f"  {d['tape']} windows {d['windows']}, {d['config']}: fills "
              f"{d['fills']}, risk-adjusted P&L {d['risk_adjusted_pnl']}, P&L {d['pnl_usd']}")
    if c.get("check"):
        print(f"the recommendation on the held-back windows of {args.check_tapes}:")
        for row in c["check"]["table"]:
            lo, hi = row["ci95"]
            print(f"  {row['profile']:>12} {row['market']:>34} ({row['cells']:>2} units): diff "
                  f"{num(row['diff'])} [{num(lo)}, {num(hi)}] beats {row['beats']}")
        _print_checks(c["check"]["checks"])


def num(x: float | None, fmt: str = "+.5f") -> str:
    return "n/a" if x is None else format(x, fmt)
