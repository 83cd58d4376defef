"""`soakkit optimize`: search the parameter space for a configuration, check it out of sample,
measure the overfitting, and write it as a profile."""

from __future__ import annotations

import argparse
import sys

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, float_arg, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS

_EXAMPLES = """examples:
  soakkit optimize --profile steady_safe --modes calm,volatile --seeds 1-20 \\
                   --eval-seeds 70001-70020 --trials 200 --name calm-volatile
  soakkit optimize --params base_spread_bps_delta,tail_age_ms --trials 60 --name two-knobs
  soakkit optimize --modes "" --tapes examples/tapes/binance-spot-btcusdt --tape-minutes 1 \\
                   --seeds 1-8 --eval-seeds 101-108 --trials 40 --name btc-tape
  soakkit optimize ... --scheduler tcp://scheduler:8786      (an existing Dask cluster)

The search: Optuna's constrained TPE over the parameters' bounds (docs/CONFIG.md), maximising
the mean risk_adjusted_pnl per iteration on the calibration markets (--seeds, and the first
--tape-split of each tape's windows), subject to the gate: per market, the pass rate may not
fall below the starting profile's and every gated KPI must hold its threshold on average (or
be no worse than the profile's). Trial 0 is the profile itself. Then the best trials, every
shipped profile and the tuner run on the held-back markets (--eval-seeds, the later
windows), and the winner's deflated Sharpe ratio and PBO (CSCV) are measured. A supported
recommendation (DSR >= 0.95, PBO <= 0.2) is written to <artifacts>/profiles/<NAME>.json
with its provenance (`soakkit config show --profile NAME`).

Rerun the same command after a crash, kill or Ctrl-C: the study continues from its journal;
rerun it with more --trials to extend it. Results: <artifacts>/studies/<NAME>/ (study.json,
journal.log, trials/ and eval/ parquet, result.json). Replayed tapes are read by the workers
from their path (they share this file system).

environment: DASK_SCHEDULER_ADDRESS (an existing cluster when no --scheduler is given),
  SOAKKIT_NOW (frozen clock).

bounds: --trials 1..{max_trials}, --iterations 1..{max_iterations}, --sim-minutes and
  --tape-minutes 1..1440, seeds 0..4294967295 (at most 1,000,000 iterations per
  configuration and market set), --oos-top 1..100, --workers 1..1024, --window 1..1000,
  --tape-split between 0 and 1, --connect-timeout and --progress-interval more than 0 and
  at most 86400 seconds.

""" + exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE], {
    ExitCode.OK: "a recommendation the evidence supports",
    ExitCode.FAILED: "no supported recommendation (said on stdout: empty, infeasible, no "
                     "better than the profile, or DSR/PBO missed), a trial failed, or the "
                     "study is running elsewhere",
    ExitCode.USAGE: "usage or configuration error (nothing ran)"})


def _print_result(result: object) -> None:
    from soakkit.optimize import OptimizeResult

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
    cells = [c for c in (doc.get("evidence") or {}).get("out_of_sample", [])
             if c["group"] != "all" and "+" not in c["reference"]]
    if cells:
        print(f"  out of sample: beats {sum(c['beats'] for c in cells)} of {len(cells)} "
              "shipped profile x market cells with a 95 % interval above 0, pass rate kept "
              f"in {sum(c['keeps_pass_rate'] for c in cells)}")
    if doc["verdict"] == "supported":
        print("  verdict: the evidence supports the recommendation")
    else:
        print(f"  verdict: {doc['verdict']}: the evidence does not support a recommendation")
    for reason in doc.get("reasons") or []:
        print(f"    - {reason}")
    profile = doc.get("profile")
    print(f"  profile: {profile['path']}" if profile else "  profile: none written")
    print(f"results: {result.folder}")


def _cmd_optimize(args: argparse.Namespace) -> int:
    from soakkit.artifacts.layout import resolve_artifacts
    from soakkit.optimize import OptimizePrinter, OptimizeProgress, OptimizeSpec, run_optimize
    from soakkit.sweep.cluster import silence_dask_logs

    silence_dask_logs()  # for good: Dask logs a lost connection with a traceback
    spec = OptimizeSpec.from_text(
        modes=args.modes, seeds=args.seeds, eval_seeds=args.eval_seeds, params=args.params,
        tapes=args.tapes, profile=args.profile, strategy=args.strategy, market=args.market,
        tape_minutes=args.tape_minutes, tape_split=args.tape_split,
        iterations=args.iterations, sim_minutes=args.sim_minutes, gate=args.gate,
        sampler=args.sampler, seed=args.seed, oos_top=args.oos_top, trials=args.trials,
        artifacts=resolve_artifacts(args.artifacts, create=True), name=args.name,
        write_profile=args.write_profile, scheduler=args.scheduler,
        scheduler_file=args.scheduler_file, workers=args.workers, window=args.window,
        now=args.now, connect_timeout_s=args.connect_timeout)
    progress = OptimizeProgress() if args.quiet else \
        OptimizePrinter(sys.stderr, interval_s=args.progress_interval)
    result = run_optimize(spec, progress=progress)
    _print_result(result)
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.evidence.study import CALIBRATION_SEEDS, EVALUATION_SEEDS
    from soakkit.gate import RUN_GATES
    from soakkit.optimize.plan import SAMPLERS, WRITE_PROFILE
    from soakkit.optimize.spec import DEFAULT_TAPE_SPLIT, MAX_TRIALS
    from soakkit.sim.strategies import DEFAULT_STRATEGY
    from soakkit.sweep.spec import format_seeds

    p = sub.add_parser(
        "optimize", help=COMMANDS["optimize"], formatter_class=formatter,
        epilog=_EXAMPLES.replace("{max_trials}", str(MAX_TRIALS)).replace(
            "{max_iterations}", str(MAX_ITERATIONS)),
        description="Searches the parameters' bounds for the configuration with the best "
                    "risk-adjusted P&L the gate\nallows, trial by trial on a Dask cluster (a "
                    "local one unless --scheduler, --scheduler-file or\nDASK_SCHEDULER_ADDRESS "
                    "names one), checks it on held-back markets against every shipped\nprofile "
                    "and the tuner, and measures how much trying many configurations inflates "
                    "it.")
    what = p.add_argument_group("what to search")
    what.add_argument("--profile", default="steady_safe", metavar="NAME",
                      help="profile to start from: trial 0, and the values not searched "
                           "(default: %(default)s)")
    what.add_argument("--strategy", default=DEFAULT_STRATEGY, metavar="NAME",
                      help="strategy whose parameters are searched (default: %(default)s)")
    what.add_argument("--params", metavar="A,B",
                      help="parameters to search (default: every tunable one)")
    what.add_argument("--trials", type=int_arg(1, MAX_TRIALS), default=100, metavar="N",
                      help="trials to finish, trial 0 included (default: %(default)s)")
    what.add_argument("--sampler", choices=SAMPLERS, default="tpe",
                      help="tpe (constrained TPE), random, or grid (default: %(default)s)")
    what.add_argument("--seed", type=int_arg(0, 2**32 - 1), default=0, metavar="N",
                      help="seed of the sampler (default: %(default)s)")
    mk = p.add_argument_group("markets (calibration and held-back evaluation are disjoint)")
    mk.add_argument("--modes", default="mixed", metavar="A,B",
                    help='synthetic modes: calm, volatile, spike, mixed; "" with --tapes '
                         "only (default: %(default)s)")
    mk.add_argument("--market", default="default", metavar="NAME",
                    help="synthetic market profile: default or a calibrated one "
                         "(default: %(default)s)")
    mk.add_argument("--seeds", default=format_seeds(CALIBRATION_SEEDS), metavar="1-20",
                    help="calibration seeds (default: %(default)s)")
    mk.add_argument("--eval-seeds", default=format_seeds(EVALUATION_SEEDS), metavar="A-B",
                    help="evaluation seeds, disjoint from --seeds (default: %(default)s)")
    mk.add_argument("--iterations", type=int_arg(1, MAX_ITERATIONS), default=12, metavar="N",
                    help="iterations per synthetic cell (default: %(default)s)")
    mk.add_argument("--sim-minutes", type=int_arg(1, 1440), default=10, metavar="M",
                    help="simulated minutes per iteration (default: %(default)s)")
    mk.add_argument("--tapes", metavar="DIR,DIR", help="recorded tapes to replay too")
    mk.add_argument("--tape-minutes", type=int_arg(1, 1440), default=1, metavar="M",
                    help="minutes per replayed window (default: %(default)s)")
    mk.add_argument("--tape-split", type=float_arg(0, 1, lo_open=True),
                    default=DEFAULT_TAPE_SPLIT, metavar="F",
                    help="share of each tape's windows that calibrate; the later ones are "
                         "held back (default: %(default)s)")
    mk.add_argument("--gate", choices=RUN_GATES, default="production",
                    help="gate whose thresholds are the constraints (default: %(default)s)")
    out = p.add_argument_group("results")
    add_artifacts(out, "artifacts root; the study in DIR/studies/<NAME>/")
    out.add_argument("--name", metavar="NAME",
                     help="study (and recommended profile) name: a-z, 0-9, _ and - "
                          "(default: opt-<hash of the study>, so reruns resume)")
    out.add_argument("--oos-top", type=int_arg(1, 100), default=5, metavar="K",
                     help="best trials run on the held-back markets (default: %(default)s)")
    out.add_argument("--write-profile", choices=WRITE_PROFILE, default="supported",
                     help="when to write <artifacts>/profiles/<NAME>.json (default: "
                          "%(default)s)")
    out.add_argument("--now", metavar="ISO8601", help="freeze the clock (reproducible files)")
    run = p.add_argument_group("where and how it runs")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--scheduler-file", type=path_arg, metavar="FILE",
                     help="the scheduler file of an existing Dask cluster")
    run.add_argument("--workers", type=int_arg(1, 1024), metavar="N",
                     help="local cluster: worker processes (default: one per core)")
    run.add_argument("--window", type=int_arg(1, 1000), metavar="N",
                     help="trials in flight (default: 4; part of the study's history)")
    run.add_argument("--connect-timeout", type=float_arg(0, 86_400, lo_open=True),
                     default=10.0, metavar="SECONDS",
                     help="give up reaching the scheduler after this long (default: "
                          "%(default)s)")
    run.add_argument("--progress-interval", type=float_arg(0, 86_400, lo_open=True),
                     default=30.0, metavar="SECONDS",
                     help="not on a terminal: a progress line this often (default: "
                          "%(default)s)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_optimize)
