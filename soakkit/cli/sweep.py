"""`soakkit sweep`: a grid of mini-soaks on Dask (a local cluster or an existing one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import (
    MAX_WORKERS,
    add_artifacts,
    add_dask_options,
    add_now,
    add_wait_options,
    bounds_help,
    formatter,
    int_arg,
)
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.inputs import MAX_ITERATIONS, MAX_SEED, MAX_SIM_MINUTES, MAX_WAIT_S
from soakkit.core.messages import warning
from soakkit.sweep.spec import MAX_CELLS

_EXAMPLES = """examples:
  soakkit sweep --profiles steady_safe,ultra_safe --modes volatile,mixed --seeds 1-20 \\
                --tune both --iterations 12 --sim-minutes 10 --gate production
  soakkit sweep --profiles steady_safe --seeds 1-200 --set tail_age_ms=500,620,800 --name tails
  soakkit sweep --strategies legacy,avellaneda-stoikov,glft --modes calm,volatile --seeds 1-20
  soakkit sweep ... --scheduler tcp://scheduler:8786      (an existing Dask cluster)
  soakkit report sweep -p sweep latest -p baseline "profile=steady_safe,tune=off"

Rerun the same command after a crash or Ctrl-C: only the missing cells run (and the cells
that failed). Results: <artifacts>/sweeps/<sweep_id>/ (sweep.json, one parquet per batch).

environment: DASK_SCHEDULER_ADDRESS (Dask's scheduler-address setting: an existing cluster
  when neither --scheduler nor --scheduler-file is given),
  SOAKKIT_NOW (frozen clock). SOAKKIT_PARAM_* and SOAKKIT_OVERRIDES_JSON do not apply to
  sweep cells: sweep or pin parameters with --set.

""" + bounds_help([f"--iterations 1..{MAX_ITERATIONS}", f"--sim-minutes 1..{MAX_SIM_MINUTES}",
                  f"seeds 0..{MAX_SEED}", f"at most {MAX_CELLS:,} cells (profiles x modes x "
                  "tuner settings x --set values x seeds)", f"--workers 1..{MAX_WORKERS}",
                  f"--batch-size and --window 1..{MAX_CELLS:,}",
                  "--connect-timeout and --progress-interval more than 0 and at most "
                  f"{MAX_WAIT_S} seconds"]) + """

""" + exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE], {
    ExitCode.OK: "every cell ran",
    ExitCode.FAILED: "a cell failed (its error is in the results) or the sweep is running "
                     "elsewhere",
    ExitCode.USAGE: "usage or configuration error (nothing ran)"})


def _cmd_sweep(args: argparse.Namespace) -> int:
    from soakkit.sweep import ProgressPrinter, SweepProgress, SweepSpec, run_sweep
    from soakkit.sweep.cluster import runs_in_process, silence_dask_logs

    spec = SweepSpec.from_text(
        profiles=args.profiles, modes=args.modes, seeds=args.seeds, tune=args.tune,
        sets=args.sets, strategies=args.strategies, iterations=args.iterations,
        sim_minutes=args.sim_minutes, gate=args.gate, artifacts=args.artifacts,
        name=args.name, scheduler=args.scheduler,
        scheduler_file=args.scheduler_file, workers=args.workers, batch_size=args.batch_size,
        window=args.window, write_runs=args.write_runs, now=args.now,
        connect_timeout_s=args.connect_timeout)
    if not runs_in_process(spec):  # no Dask to import otherwise
        silence_dask_logs()  # for good: Dask logs a lost connection with a traceback; the
        # sweep reports it in one line
    progress = SweepProgress() if args.quiet else \
        ProgressPrinter(sys.stderr, interval_s=args.progress_interval)
    result = run_sweep(spec, progress=progress)
    for line in result.warnings:
        warning(line)
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
    from soakkit.sweep.spec import TUNE_CHOICES, SweepSpec, format_seeds

    default = SweepSpec(artifacts=Path())  # the one source of every default below
    tune = next(name for name, value in TUNE_CHOICES.items() if value == default.tune)

    p = sub.add_parser(
        "sweep", help=COMMANDS["sweep"],
        formatter_class=formatter, epilog=_EXAMPLES,
        description="Runs every cell of the grid --profiles x --modes x --tune x --set values x "
                    "--seeds as one\nmini-soak, in batches on a Dask cluster: a local one (one "
                    "single-threaded worker\nprocess per core) unless --scheduler, "
                    "--scheduler-file or DASK_SCHEDULER_ADDRESS names one.\nEach batch's rows "
                    "(one per cell x iteration: KPIs, verdicts) land in one parquet file.")
    grid = p.add_argument_group("grid")
    grid.add_argument("--profiles", default=",".join(default.profiles), metavar="A,B",
                      help="profiles (default: %(default)s)")
    grid.add_argument("--strategies", default=",".join(default.strategies), metavar="A,B",
                      help="strategies (--strategy names; separate with ';' when one holds "
                           "a comma); more than legacy adds a strategy axis (default: "
                           "%(default)s)")
    grid.add_argument("--modes", default=",".join(default.modes), metavar="A,B",
                      help="market modes: calm, volatile, spike, mixed (default: %(default)s)")
    grid.add_argument("--seeds", default=format_seeds(default.seeds), metavar="1-20",
                      help="seeds: N, A-B, or a comma-separated list of both "
                           "(default: %(default)s)")
    grid.add_argument("--tune", default=tune, choices=list(TUNE_CHOICES),
                      help="run with the tuner, without it, or both (default: %(default)s)")
    grid.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=V1,V2",
                      help="a parameter axis; repeatable; pins the parameter against the tuner")
    grid.add_argument("--iterations", type=int_arg(1, MAX_ITERATIONS),
                      default=default.iterations, metavar="N",
                      help="iterations per cell (default: %(default)s)")
    grid.add_argument("--sim-minutes", type=int_arg(1, MAX_SIM_MINUTES),
                      default=default.sim_minutes, metavar="M",
                      help="simulated minutes per iteration (default: %(default)s)")
    grid.add_argument("--gate", choices=RUN_GATES, default=default.gate,
                      help="gate judging every iteration (default: %(default)s)")
    out = p.add_argument_group("results")
    add_artifacts(out, "artifacts root; results in DIR/sweeps/<id>/", create=True)
    out.add_argument("--name", metavar="NAME",
                     help="sweep id (default: sw-<hash of the grid>, so reruns resume)")
    out.add_argument("--write-runs", action="store_true",
                     help="also keep every cell's run folder (workers must share this "
                          "file system)")
    add_now(out, "freeze the clock (reproducible files)")
    run = p.add_argument_group("where and how it runs")
    add_dask_options(run, "default: one per core; 1: no cluster, the cells run in this "
                          "process")
    run.add_argument("--batch-size", type=int_arg(1, MAX_CELLS), metavar="N",
                     help="cells per task, fixed (default: about 2 s of work, at least 4 "
                          "tasks per worker, shrinking to 1 cell towards the end on a "
                          "cluster)")
    run.add_argument("--window", type=int_arg(1, MAX_CELLS), metavar="N",
                     help="tasks in flight (default: 2 per worker thread + 1)")
    add_wait_options(run, default.connect_timeout_s)
    p.set_defaults(func=_cmd_sweep)
