"""`soakkit sweep`: a grid of mini-soaks on Dask (a local cluster or an existing one)."""

from __future__ import annotations

import argparse
import os
import sys

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, float_arg, formatter, int_arg, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS

_EXAMPLES = """examples:
  soakkit sweep --profiles steady_safe,ultra_safe --modes volatile,mixed --seeds 1-20 \\
                --tune both --iterations 12 --sim-minutes 10 --gate production
  soakkit sweep --profiles steady_safe --seeds 1-200 --set tail_age_ms=500,620,800 --name tails
  soakkit sweep ... --scheduler tcp://scheduler:8786      (an existing Dask cluster)
  soakkit report sweep -p sweep latest -p baseline "profile=steady_safe,tune=off"

Rerun the same command after a crash or Ctrl-C: only the missing cells run (and the cells
that failed). Results: <artifacts>/sweeps/<sweep_id>/ (sweep.json, one parquet per batch).

environment: DASK_SCHEDULER_ADDRESS (an existing cluster when no --scheduler is given),
  SOAKKIT_NOW (frozen clock). SOAKKIT_PARAM_* and SOAKKIT_OVERRIDES_JSON do not apply to
  sweep cells: sweep or pin parameters with --set.

bounds: --iterations 1..100000, --sim-minutes 1..1440, seeds 0..4294967295, --workers
  1..1024, --batch-size and --window 1..1000000, --connect-timeout and --progress-interval
  more than 0 and at most 86400 seconds.

""" + exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE], {
    ExitCode.OK: "every cell ran",
    ExitCode.FAILED: "a cell failed (its error is in the results) or the sweep is running "
                     "elsewhere",
    ExitCode.USAGE: "usage or configuration error (nothing ran)"})


def _cmd_sweep(args: argparse.Namespace) -> int:
    from soakkit.artifacts.layout import resolve_artifacts
    from soakkit.sweep import ProgressPrinter, SweepProgress, SweepSpec, run_sweep
    from soakkit.sweep.cluster import runs_in_process, silence_dask_logs

    spec = SweepSpec.from_text(
        profiles=args.profiles, modes=args.modes, seeds=args.seeds, tune=args.tune,
        sets=args.sets, iterations=args.iterations, sim_minutes=args.sim_minutes,
        gate=args.gate, artifacts=resolve_artifacts(args.artifacts, create=True),
        name=args.name, scheduler=args.scheduler,
        scheduler_file=args.scheduler_file, workers=args.workers, batch_size=args.batch_size,
        window=args.window, write_runs=args.write_runs, now=args.now,
        connect_timeout_s=args.connect_timeout)
    if not runs_in_process(spec, os.environ):  # no Dask to import otherwise
        silence_dask_logs()  # for good: Dask logs a lost connection with a traceback; the
        # sweep reports it in one line
    progress = SweepProgress() if args.quiet else \
        ProgressPrinter(sys.stderr, interval_s=args.progress_interval)
    result = run_sweep(spec, progress=progress)
    for warning in result.warnings:
        print(f"soakkit: warning: {warning}", file=sys.stderr)
    print(f"sweep {result.sweep_id}: {result.status}, {result.cells} cells: "
          f"{result.done_before} done earlier, {result.ran} run now, {result.failed} failed, "
          f"{result.missing} missing")
    for failure in result.failures:
        print(f"  failed: {failure}")
    if result.missing:
        print("  rerun the same command to run the missing cells")
    print(f"results: {result.folder}")
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.gate import RUN_GATES

    p = sub.add_parser(
        "sweep", help=COMMANDS["sweep"],
        formatter_class=formatter, epilog=_EXAMPLES,
        description="Runs every cell of the grid --profiles x --modes x --tune x --set values x "
                    "--seeds as one\nmini-soak, in batches on a Dask cluster: a local one (one "
                    "single-threaded worker\nprocess per core) unless --scheduler, "
                    "--scheduler-file or DASK_SCHEDULER_ADDRESS names one.\nEach batch's rows "
                    "(one per cell x iteration: KPIs, verdicts) land in one parquet file.")
    grid = p.add_argument_group("grid")
    grid.add_argument("--profiles", default="steady_safe", metavar="A,B",
                      help="profiles (default: %(default)s)")
    grid.add_argument("--modes", default="mixed", metavar="A,B",
                      help="market modes: calm, volatile, spike, mixed (default: %(default)s)")
    grid.add_argument("--seeds", default="1-20", metavar="1-20",
                      help="seeds: N, A-B, or a comma-separated list of both "
                           "(default: %(default)s)")
    grid.add_argument("--tune", default="both", choices=("on", "off", "both"),
                      help="run with the tuner, without it, or both (default: %(default)s)")
    grid.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=V1,V2",
                      help="a parameter axis; repeatable; pins the parameter against the tuner")
    grid.add_argument("--iterations", type=int_arg(1, MAX_ITERATIONS), default=12, metavar="N",
                      help="iterations per cell (default: %(default)s)")
    grid.add_argument("--sim-minutes", type=int_arg(1, 1440), default=10, metavar="M",
                      help="simulated minutes per iteration (default: %(default)s)")
    grid.add_argument("--gate", choices=RUN_GATES, default="production",
                      help="gate judging every iteration (default: %(default)s)")
    out = p.add_argument_group("results")
    add_artifacts(out, "artifacts root; results in DIR/sweeps/<id>/")
    out.add_argument("--name", metavar="NAME",
                     help="sweep id (default: sw-<hash of the grid>, so reruns resume)")
    out.add_argument("--write-runs", action="store_true",
                     help="also keep every cell's run folder (workers must share this "
                          "file system)")
    out.add_argument("--now", metavar="ISO8601", help="freeze the clock (reproducible files)")
    run = p.add_argument_group("where and how it runs")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--scheduler-file", type=path_arg, metavar="FILE",
                     help="the scheduler file of an existing Dask cluster")
    run.add_argument("--workers", type=int_arg(1, 1024), metavar="N",
                     help="local cluster: worker processes (default: one per core; 1: "
                          "no cluster, the cells run in this process)")
    run.add_argument("--batch-size", type=int_arg(1, 1_000_000), metavar="N",
                     help="cells per task (default: about 2 s of work, at least 4 tasks "
                          "per worker)")
    run.add_argument("--window", type=int_arg(1, 1_000_000), metavar="N",
                     help="tasks in flight (default: 2 per worker thread + 1)")
    run.add_argument("--connect-timeout", type=float_arg(0, 86_400, lo_open=True),
                     default=10.0, metavar="SECONDS",
                     help="give up reaching the scheduler after this long (default: "
                          "%(default)s)")
    run.add_argument("--progress-interval", type=float_arg(0, 86_400, lo_open=True),
                     default=30.0, metavar="SECONDS",
                     help="not on a terminal: a progress line this often (default: "
                          "%(default)s)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_sweep)
