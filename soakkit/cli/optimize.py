"""`soakkit optimize`: search the parameter space for a configuration, check it out of sample,
measure the overfitting, and write it as a profile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import (
    MAX_WORKERS,
    STRATEGY_HELP,
    add_artifacts,
    add_dask_options,
    add_now,
    add_wait_options,
    bounds_help,
    float_arg,
    formatter,
    int_arg,
)
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS, MAX_SEED, MAX_SIM_MINUTES, MAX_WAIT_S

_EXAMPLES = """examples:
  soakkit optimize --profile steady_safe --modes calm,volatile --seeds 1-20 \\
                   --eval-seeds 70001-70020 --trials 200 --name calm-volatile
  soakkit optimize --params base_spread_bps_delta,tail_age_ms --trials 60 --name two-knobs
  soakkit optimize --modes "" --tapes examples/tapes/binance-spot-btcusdt --tape-minutes 1 \\
                   --seeds 1-8 --eval-seeds 101-108 --trials 40 --name btc-tape
  soakkit optimize --modes calm,volatile --tapes spot-btc/,usdm-eth/,coinm-eth/ ...
                   (several captures, from `soakkit tape import --from binance-capture`)
  soakkit optimize ... --tapes spot-btc/ --eval-tapes spot-btc-next-day/
                   (a capture the search never sees, judged whole)
  soakkit optimize ... --scheduler tcp://scheduler:8786      (an existing Dask cluster)
  soakkit report optimize -p study calm-volatile             (the report)

The search: Optuna's constrained TPE over the parameters' bounds (docs/CONFIG.md), maximising
the mean risk_adjusted_pnl per iteration on the calibration markets (--seeds, and the first
--tape-split of each tape's windows), subject to the gate: per market, the pass rate may not
fall below the starting profile's and every gated KPI must hold its threshold on average (or
be no worse than the profile's). Trial 0 is the profile itself. Then the best trials, every
shipped profile and the tuner run on the held-back markets (--eval-seeds, the later
windows, every window of --eval-tapes), and the winner's deflated Sharpe ratio and PBO
(CSCV) are measured. The 95 % intervals resample the seeds of a synthetic mode but the
held-back windows of a tape (its seeds only redraw latency over the same recording). A
supported recommendation (DSR >= 0.95, PBO <= 0.2) is written to
<artifacts>/profiles/<NAME>.json with its provenance (`soakkit config show --profile
NAME`).

Rerun the same command after a crash, kill or Ctrl-C: the study continues from its journal;
rerun it with more --trials to extend it. Results: <artifacts>/studies/<NAME>/ (study.json,
journal.log, trials/ and eval/ parquet, result.json). Replayed tapes are read by the workers
from their path (they share this file system).

environment: DASK_SCHEDULER_ADDRESS (an existing cluster when no --scheduler is given),
  SOAKKIT_NOW (frozen clock).

"""


def _epilog() -> str:
    """Examples, bounds (from their one definition) and exit codes."""
    from soakkit.optimize.markets import MAX_TRIAL_ITERATIONS
    from soakkit.optimize.spec import MAX_OOS_TOP, MAX_TRIALS, MAX_WINDOW

    return _EXAMPLES + bounds_help([
        f"--trials 1..{MAX_TRIALS}", f"--iterations 1..{MAX_ITERATIONS}",
        f"--sim-minutes and --tape-minutes 1..{MAX_SIM_MINUTES}", f"seeds 0..{MAX_SEED}",
        f"at most {MAX_TRIAL_ITERATIONS:,} iterations per configuration and market set",
        f"--oos-top 1..{MAX_OOS_TOP}", f"--workers 1..{MAX_WORKERS}",
        f"--window 1..{MAX_WINDOW}", "--tape-split between 0 and 1",
        "--connect-timeout and --progress-interval more than 0 and at most "
        f"{MAX_WAIT_S} seconds"]) + "\n\n" + exit_codes_help(
        [ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE], {
            ExitCode.OK: "a recommendation the evidence supports",
            ExitCode.FAILED: "no supported recommendation (said on stdout: empty, infeasible, "
                             "no better than the profile, or DSR/PBO missed), a trial "
                             "failed, or the study is running elsewhere",
            ExitCode.USAGE: "usage or configuration error (nothing ran)"})


def _print_result(result: object) -> None:
    from soakkit.optimize import OptimizeResult
    from soakkit.optimize.evaluate import POOLED

    assert isinstance(result, OptimizeResult)
    print(f"study {result.name}: {result.status}, {result.trials} trials: "
          f"{result.done_before} done earlier, {result.ran} run now, {result.failed} failed")
    for note in result.notes:
        print(f"  {note}")
    doc = result.result
    if doc is None:
        if result.status == "interrupted":
            print("  rerun the same command to continue")
        print(f"results: {result.folder}")
        return
    winner = (doc.get("evidence") or {}).get("winner")
    if winner:
        print(f"  best feasible: trial {winner['trial']}, risk_adjusted_pnl "
              f"{winner['objective']:.4g} in sample")
    overfit = (doc.get("evidence") or {}).get("overfitting")
    if overfit:
        dsr, pbo = overfit.get("dsr"), overfit["pbo"].get("pbo")
        print(f"  deflated Sharpe ratio {'n/a' if dsr is None else f'{dsr:.3f}'}, PBO "
              f"{'n/a' if pbo is None else f'{pbo:.3f}'} over {overfit['trials']} trials")
    untuned = [c for c in (doc.get("evidence") or {}).get("out_of_sample", [])
               if "+" not in c["reference"]]
    cells = [c for c in untuned if c["group"] not in POOLED]  # as the profile's provenance
    if cells:
        print(f"  out of sample: beats {sum(c['beats'] for c in cells)} of {len(cells)} "
              "shipped profile x market cells with a 95 % interval above 0, pass rate kept "
              f"in {sum(c['keeps_pass_rate'] for c in cells)}")
    _print_recorded(untuned)
    if doc["verdict"] == "supported":
        print("  verdict: the evidence supports the recommendation")
    else:
        print(f"  verdict: {doc['verdict']}: the evidence does not support a recommendation")
    for reason in doc.get("reasons") or []:
        print(f"    - {reason}")
    profile = doc.get("profile")
    print(f"  profile: {profile['path']}" if profile else "  profile: none written")
    print(f"results: {result.folder}")


def _print_recorded(cells: list[dict[str, Any]]) -> None:
    """The real market's share of the comparisons, when the study replayed tapes: the tapes
    pooled (or the one tape), against each shipped profile untuned. ``cells``: every
    comparison of the untuned profiles, the pooled ones too (a study of tapes alone pools
    them in ``all``, not ``tapes``)."""
    from soakkit.optimize.evaluate import ALL, ALL_TAPES, POOLED

    markets = {c["group"] for c in cells if c["group"] not in POOLED}
    tapes = sorted(g for g in markets if g.startswith("tape:"))
    group = (tapes[0] if len(tapes) == 1 else None if not tapes
             else ALL if len(tapes) == len(markets) else ALL_TAPES)
    recorded = [c for c in cells if c["group"] == group]
    if not recorded:
        return
    print(f"  on the recorded markets ({group}, {recorded[0]['cells']} held-back windows): "
          f"beats {sum(c['beats'] for c in recorded)} of {len(recorded)} shipped profiles")
    for c in recorded:
        lo, hi = c["ci95"]
        if c["beats"]:
            continue
        if None in (c["diff"], lo, hi):  # no paired window, or no interval over them
            print(f"    - not shown better than {c['reference']}: no interval")
        else:
            print(f"    - not shown better than {c['reference']}: {c['diff']:+.4g} "
                  f"[{lo:+.4g}, {hi:+.4g}]")


def _cmd_optimize(args: argparse.Namespace) -> int:
    from soakkit.optimize import OptimizePrinter, OptimizeProgress, OptimizeSpec, run_optimize
    from soakkit.sweep.cluster import silence_dask_logs

    silence_dask_logs()  # for good: Dask logs a lost connection with a traceback
    spec = OptimizeSpec.from_text(
        modes=args.modes, seeds=args.seeds, eval_seeds=args.eval_seeds, params=args.params,
        tapes=args.tapes, eval_tapes=args.eval_tapes, profile=args.profile,
        strategy=args.strategy, market=args.market,
        tape_minutes=args.tape_minutes, tape_split=args.tape_split,
        iterations=args.iterations, sim_minutes=args.sim_minutes, gate=args.gate,
        sampler=args.sampler, seed=args.seed, oos_top=args.oos_top, trials=args.trials,
        artifacts=args.artifacts, name=args.name,
        write_profile=args.write_profile, scheduler=args.scheduler,
        scheduler_file=args.scheduler_file, workers=args.workers, window=args.window,
        now=args.now, connect_timeout_s=args.connect_timeout)
    progress = OptimizeProgress() if args.quiet else \
        OptimizePrinter(sys.stderr, interval_s=args.progress_interval)
    result = run_optimize(spec, progress=progress)
    _print_result(result)
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.gate import RUN_GATES
    from soakkit.optimize.plan import SAMPLERS, WRITE_PROFILE
    from soakkit.optimize.spec import MAX_OOS_TOP, MAX_TRIALS, MAX_WINDOW, OptimizeSpec
    from soakkit.sweep.spec import format_seeds

    default = OptimizeSpec(artifacts=Path())  # the one source of every default below
    p = sub.add_parser(
        "optimize", help=COMMANDS["optimize"], formatter_class=formatter, epilog=_epilog(),
        description="Searches the parameters' bounds for the configuration with the best "
                    "risk-adjusted P&L the gate\nallows, trial by trial on a Dask cluster (a "
                    "local one unless --scheduler, --scheduler-file or\nDASK_SCHEDULER_ADDRESS "
                    "names one), checks it on held-back markets against every shipped\nprofile "
                    "and the tuner, and measures how much trying many configurations inflates "
                    "it.")
    what = p.add_argument_group("what to search")
    what.add_argument("--profile", default=default.profile, metavar="NAME",
                      help="profile to start from: trial 0, and the values not searched "
                           "(default: %(default)s)")
    what.add_argument("--strategy", default=default.strategy, metavar="NAME",
                      help="whose parameters are searched (the engine's and its own): "
                           + STRATEGY_HELP)
    what.add_argument("--params", metavar="A,B",
                      help="parameters to search (default: every tunable one)")
    what.add_argument("--trials", type=int_arg(1, MAX_TRIALS), default=default.trials,
                      metavar="N", help="trials to finish, trial 0 included (default: "
                                        "%(default)s)")
    what.add_argument("--sampler", choices=SAMPLERS, default=default.sampler,
                      help="tpe (constrained TPE), random, or grid (default: %(default)s)")
    what.add_argument("--seed", type=int_arg(0, MAX_SEED), default=default.seed, metavar="N",
                      help="seed of the sampler (default: %(default)s)")
    mk = p.add_argument_group("markets (calibration and held-back evaluation are disjoint)")
    mk.add_argument("--modes", default=",".join(default.modes), metavar="A,B",
                    help='synthetic modes: calm, volatile, spike, mixed; "" with --tapes '
                         "only (default: %(default)s)")
    mk.add_argument("--market", default=default.market, metavar="NAME",
                    help="synthetic market profile: default or a calibrated one "
                         "(default: %(default)s)")
    mk.add_argument("--seeds", default=format_seeds(default.seeds), metavar="1-20",
                    help="calibration seeds (default: %(default)s)")
    mk.add_argument("--eval-seeds", default=format_seeds(default.eval_seeds), metavar="A-B",
                    help="evaluation seeds, disjoint from --seeds (default: %(default)s)")
    mk.add_argument("--iterations", type=int_arg(1, MAX_ITERATIONS),
                    default=default.iterations, metavar="N",
                    help="iterations per synthetic cell (default: %(default)s)")
    mk.add_argument("--sim-minutes", type=int_arg(1, MAX_SIM_MINUTES),
                    default=default.sim_minutes, metavar="M",
                    help="simulated minutes per iteration (default: %(default)s)")
    mk.add_argument("--tapes", metavar="DIR,DIR",
                    help="recorded tapes to replay too, each split walk-forward; with "
                         "several, their held-back windows are also compared pooled "
                         "('tapes')")
    mk.add_argument("--eval-tapes", metavar="DIR,DIR",
                    help="recorded tapes held back whole: every window evaluates, none "
                         "calibrates (other captures of the market, for the out-of-sample "
                         "comparisons; pooled with the other tapes' held-back windows)")
    mk.add_argument("--tape-minutes", type=int_arg(1, MAX_SIM_MINUTES),
                    default=default.tape_minutes, metavar="M",
                    help="minutes per replayed window (default: %(default)s)")
    mk.add_argument("--tape-split", type=float_arg(0, 1, lo_open=True),
                    default=default.tape_split, metavar="F",
                    help="share of each tape's windows that calibrate; the later ones are "
                         "held back (default: %(default)s)")
    mk.add_argument("--gate", choices=RUN_GATES, default=default.gate,
                    help="gate whose thresholds are the constraints (default: %(default)s)")
    out = p.add_argument_group("results")
    add_artifacts(out, "artifacts root; the study in DIR/studies/<NAME>/", create=True)
    out.add_argument("--name", metavar="NAME",
                     help="study (and recommended profile) name: a-z, 0-9, _ and - "
                          "(default: opt-<hash of the study>, so reruns resume)")
    out.add_argument("--oos-top", type=int_arg(1, MAX_OOS_TOP), default=default.oos_top,
                     metavar="K",
                     help="best trials run on the held-back markets (default: %(default)s)")
    out.add_argument("--write-profile", choices=WRITE_PROFILE, default=default.write_profile,
                     help="when to write <artifacts>/profiles/<NAME>.json (default: "
                          "%(default)s)")
    add_now(out, "freeze the clock (reproducible files)")
    run = p.add_argument_group("where and how it runs")
    add_dask_options(run)
    run.add_argument("--window", type=int_arg(1, MAX_WINDOW), metavar="N",
                     help="trials in flight (default: 4; part of the study's history)")
    add_wait_options(run, default.connect_timeout_s)
    p.set_defaults(func=_cmd_optimize)
