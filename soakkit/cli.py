"""The ``soakkit`` command line: parses arguments, calls the Python API, maps errors to exit codes.

Exit codes: 0 success; 1 a failed verdict, a runtime error or a held lock; 2 bad usage or
configuration. Commands document their own additions (``rotate``: 2 = over budget;
``report``: one code per notebook outcome). User errors print one line each on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from soakkit import __version__
from soakkit.errors import SoakkitError, UsageError

__all__ = ["main"]

DEFAULT_ARTIFACTS = Path("artifacts/soak")
#: Commands whose contract reports bad arguments with another code than 2.
USAGE_EXIT_CODES = {"rotate": 1}


class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_common_config(p: argparse.ArgumentParser, *, profile_required: bool) -> None:
    p.add_argument("--profile", required=profile_required, metavar="NAME",
                   help="profile to start from (see `soakkit config list-profiles`)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="override one parameter; repeatable; pins the key against the tuner")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="artifacts root holding profiles/ and runs/ (default: %(default)s)")


# --------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------
def _config_resolve(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from soakkit.config.layers import resolve

    runtime = args.runtime_overrides
    if runtime is None and getattr(args, "run", None):
        from soakkit.artifacts import resolve_run_dir
        from soakkit.config.runtime import RUNTIME_FILE

        runtime = resolve_run_dir(args.artifacts, args.run) / RUNTIME_FILE
    cfg = resolve(args.profile, artifacts=args.artifacts, sets=args.sets,
                  runtime_path=runtime)
    for warning in cfg.warnings:
        print(f"soakkit: warning: {warning}", file=sys.stderr)
    return cfg


def _cmd_config_show(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_show
    from soakkit.io import canonical_json

    cfg = _config_resolve(args)
    sys.stdout.write(canonical_json(cfg.to_json()) if args.json else render_show(cfg))
    return 0


def _cmd_config_explain(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_explain

    cfg = _config_resolve(args)
    sys.stdout.write(render_explain(cfg, args.key))
    return 0


def _cmd_config_list(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_profiles
    from soakkit.config.profiles import list_profiles

    infos = list_profiles(args.artifacts)
    if args.json:
        payload = [{"name": i.name, "builtin": i.builtin, "path": str(i.path),
                    "shadows_builtin": i.shadows_builtin} for i in infos]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(render_profiles(infos))
    return 0


def _cmd_config_precedence(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_precedence

    sys.stdout.write(render_precedence())
    return 0


def _cmd_config_migrate(args: argparse.Namespace) -> int:
    from soakkit.config.migrate import apply_migration, plan_migration
    from soakkit.io import clock_from

    plan = plan_migration(args.path, base_profile=args.base_profile)
    sys.stdout.write(plan.render())
    if args.dry_run:
        return 2 if plan.errors or plan.conflicts else 0
    backup = apply_migration(plan, clock_from(None))
    if backup is not None:
        print(f"migrated; originals backed up under {backup}")
    return 0


def _build_config(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = sub.add_parser(
        "config", help="show, explain and migrate configuration", formatter_class=_formatter,
        description="Inspect the layered configuration: defaults < profile < runtime "
                    "overrides < env < --set.\nEvery value carries its origin.")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")

    show = csub.add_parser("show", help="the resolved parameters and where each came from",
                           formatter_class=_formatter,
                           epilog="example:\n  soakkit config show --profile steady_safe "
                                  "--set min_interval_ms=78 --json")
    _add_common_config(show, profile_required=True)
    show.add_argument("--runtime-overrides", type=Path, metavar="FILE",
                      help="use this runtime_overrides.json as the runtime layer")
    show.add_argument("--run", metavar="RUN_ID",
                      help="use the runtime overrides of this run (or 'latest')")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_cmd_config_show)

    explain = csub.add_parser("explain", help="every layer's value for one parameter",
                              formatter_class=_formatter)
    explain.add_argument("key", help="parameter name, e.g. min_interval_ms")
    _add_common_config(explain, profile_required=False)
    explain.add_argument("--runtime-overrides", type=Path, metavar="FILE")
    explain.add_argument("--run", metavar="RUN_ID")
    explain.set_defaults(func=_cmd_config_explain, profile_default="steady_safe")

    lp = csub.add_parser("list-profiles", help="built-in and user profiles")
    lp.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=_cmd_config_list)

    prec = csub.add_parser("precedence", help="the order of the configuration layers")
    prec.set_defaults(func=_cmd_config_precedence)

    mig = csub.add_parser(
        "migrate", help="convert the legacy toolkit's config files", formatter_class=_formatter,
        description="Converts steady_safe_overrides.json, ultra_safe_overrides.json, "
                    "steady_overrides.json,\napplied_profile.json, legacy profiles/*.json and a "
                    "legacy runtime_overrides.json.\nPrints the plan as a diff first, backs up "
                    "every file it replaces or removes,\nrefuses to overwrite a differing "
                    "profile, and does nothing on a second run.")
    mig.add_argument("--path", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                     help="legacy artifacts folder (default: %(default)s)")
    mig.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    mig.add_argument("--base-profile", default="steady_safe", metavar="NAME",
                     help="built-in profile a legacy runtime_overrides.json was based on")
    mig.set_defaults(func=_cmd_config_migrate)


# --------------------------------------------------------------------------------------
# soak
# --------------------------------------------------------------------------------------
def _progress_printer(enabled: bool):  # type: ignore[no-untyped-def]
    def show(report) -> None:  # type: ignore[no-untyped-def]
        if not enabled:
            return
        k = report.kpis
        tuned = ", ".join(f"{p}{d:+g}" for p, d in report.decision.deltas.items()) \
            if report.applied else (report.decision.skip_reason or "no change")
        print(f"[{report.iteration}/{report.total}] {report.verdict.verdict:<4} "
              f"net={k['net_bps']:+.2f}bps risk={k['risk_ratio']:.2f} "
              f"m/t={k['maker_taker_ratio'] or 0:.2f} p95={k['p95_latency_ms'] or 0:.0f}ms "
              f"| tune: {tuned}", file=sys.stderr, flush=True)
    return show


def _cmd_soak(args: argparse.Namespace) -> int:
    from soakkit.soak import SoakOptions, run_soak

    options = SoakOptions(
        profile=args.profile, iterations=args.iterations, mode=args.mode, seed=args.seed,
        sim_minutes=args.sim_minutes, gate=args.gate, sets=tuple(args.sets),
        artifacts=args.artifacts, tune=not args.no_tune, sleep_seconds=args.sleep_seconds,
        now=args.now)
    interactive = sys.stderr.isatty() and not args.quiet
    result = run_soak(options, resume=args.resume, progress=_progress_printer(interactive))
    for warning in result.warnings:
        print(f"soakkit: warning: {warning}", file=sys.stderr)
    v = result.verdict
    print(f"run {result.run_id}: {result.status}, {result.iterations_done} iteration(s), "
          f"verdict {v.verdict}")
    for reason in v.reasons:
        print(f"  {reason}")
    print(f"artifacts: {result.run_dir}")
    return result.exit_code


def _build_soak(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.gate import RUN_GATES
    from soakkit.sim.regimes import MODES

    p = sub.add_parser(
        "soak", help="run a seeded mini-soak (simulated market, real KPIs, live tuner)",
        formatter_class=_formatter,
        description="Each iteration simulates --sim-minutes of market with the current "
                    "parameters,\ncomputes the KPIs, judges them with --gate, lets the tuner "
                    "adjust the\nparameters, and writes ITER_SUMMARY_<n>.json, TUNING_REPORT.json "
                    "and RUN.json\nunder <artifacts>/runs/<run_id>/.",
        epilog="examples:\n  soakkit soak --profile steady_safe --iterations 3 --mode volatile "
               "--seed 7\n  soakkit soak --profile aggressive --iterations 24 --mode mixed "
               "--gate production\n\nenvironment: SOAK_SLEEP_SECONDS (pause between "
               "iterations), SOAKKIT_NOW (frozen clock),\n  SOAKKIT_PARAM_<NAME>, "
               "SOAKKIT_OVERRIDES_JSON (pinned overrides)\nexit codes: 0 PASS or WARN, 1 FAIL, "
               "2 usage or configuration error, 130 interrupted")
    _add_common_config(p, profile_required=False)
    p.set_defaults(profile="steady_safe")
    p.add_argument("--iterations", type=int, default=3, metavar="N", help="default: %(default)s")
    p.add_argument("--mode", choices=MODES, default="calm", help="market regime (default: calm)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="default: %(default)s")
    p.add_argument("--sim-minutes", type=int, default=10, metavar="M",
                   help="simulated market minutes per iteration (default: %(default)s)")
    p.add_argument("--sleep-seconds", type=float, default=None, metavar="X",
                   help="pause between iterations (default: $SOAK_SLEEP_SECONDS or 0)")
    p.add_argument("--gate", choices=RUN_GATES, default="smoke", help="default: smoke")
    p.add_argument("--no-tune", action="store_true", help="run without the live-apply tuner")
    p.add_argument("--now", metavar="ISO8601", help="freeze the clock (reproducible files)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted or crashed run")
    p.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")
    p.set_defaults(func=_cmd_soak)


# --------------------------------------------------------------------------------------
# rotate
# --------------------------------------------------------------------------------------
def _cmd_rotate(args: argparse.Namespace) -> int:
    from soakkit.rotation.command import run_restore, run_rotate

    if getattr(args, "rotate_command", None) == "restore":
        return run_restore(args)
    return run_rotate(args)


def _build_rotate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.rotation.command import EPILOG, add_restore_arguments, add_rotate_arguments

    p = sub.add_parser(
        "rotate", help="free disk: keep the latest iterations, compress old files, watch the "
                       "budget", formatter_class=_formatter, epilog=EPILOG,
        description="Plan, then apply: one scan of --path and one captured --now give every file "
                    "a decision\nwith a reason; --dry-run prints exactly what a real run would "
                    "do. Deleted ITER_SUMMARY\nfiles are preserved in their run's "
                    "iterations.jsonl.gz first; compression is crash-safe\nand recorded in "
                    "rotation/MANIFEST.jsonl; every run appends one line to\n"
                    "rotation/ROTATION_LOG.jsonl.\n\n  soakkit rotate restore FILE|RUN_ID --path "
                    "DIR   decompress back and prove the hash")
    rsub = p.add_subparsers(dest="rotate_command", metavar="restore", parser_class=_Parser)
    restore = rsub.add_parser("restore", help="decompress a file or a run back, verifying sha256")
    add_restore_arguments(restore)
    add_rotate_arguments(p)
    p.set_defaults(func=_cmd_rotate)


# --------------------------------------------------------------------------------------
# report, catalog, demo
# --------------------------------------------------------------------------------------
def _print_report(result) -> None:  # type: ignore[no-untyped-def]
    """One line per report: where it is (stdout), or what failed and where (stderr)."""
    if result.status == "ok":
        print(f"report {result.name}: ok -> {result.html}")
        return
    where = f" in cell {result.failing_cell}" if result.failing_cell is not None else ""
    print(f"soakkit: error: report {result.name} failed ({result.status}){where}: "
          f"{result.ename}: {result.evalue} (notebook kept in {result.output_dir})",
          file=sys.stderr)


def _cmd_report(args: argparse.Namespace) -> int:
    from soakkit.io import clock_from
    from soakkit.notebooks import run

    params = dict(args.params or [])
    result = run(args.name, params, args.out, params_are_text=True, kernel=args.kernel,
                 cell_timeout=args.cell_timeout, clock=clock_from(args.now))
    _print_report(result)
    return result.exit_code


def _build_report(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.notebooks import NOTEBOOKS

    p = sub.add_parser(
        "report", help="run a report notebook with papermill (HTML, figures, kpis.json)",
        formatter_class=_formatter,
        description="Runs notebooks/<name>.ipynb with papermill after checking every -p against "
                    "the notebook's\nparameters cell (unknown names are errors, values are cast "
                    "to the annotated types),\nand writes <out>/<YYYY-MM-DD>/<name>-<run_id>/: "
                    "report.ipynb, report.html, figures (PNG),\nkpis.json, manifest.json. "
                    "<out>/latest/<name> points at the newest successful report.",
        epilog="examples:\n  soakkit report kpi -p run latest -p gate production\n"
               "  soakkit report disk -p artifacts artifacts/soak -p budget_mb 900\n"
               "  soakkit report soak -p iterations 6 -p mode volatile\n\n"
               "exit codes: 0 ok, 1 a cell failed, 2 bad parameters or missing kernel, "
               "3 cell timeout, 4 dead kernel")
    p.add_argument("name", choices=list(NOTEBOOKS), help="which report")
    p.add_argument("-p", "--param", dest="params", nargs=2, action="append",
                   metavar=("NAME", "VALUE"), help="a notebook parameter; repeatable")
    p.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                   help="reports root (default: %(default)s)")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel (default: %(default)s)")
    p.add_argument("--cell-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="per-cell timeout (default: %(default)s)")
    p.add_argument("--now", metavar="ISO8601", help="freeze the clock (run id, manifest times)")
    p.set_defaults(func=_cmd_report)


def _cmd_catalog(args: argparse.Namespace) -> int:
    from soakkit.catalog import load_catalog, to_records

    catalog = load_catalog(args.artifacts, cache=not args.no_cache, refresh=args.refresh)
    for problem in catalog.problems:
        print(f"soakkit: warning: {problem}", file=sys.stderr)
    frame = catalog.frame
    if args.csv:
        import polars as pl

        flat = frame.with_columns(pl.col(c).list.join(";") for c, t in frame.schema.items()
                                  if isinstance(t, pl.List))
        sys.stdout.write(flat.write_csv())
    elif args.json:
        sys.stdout.write(json.dumps(to_records(frame), indent=1, default=str) + "\n")
    else:
        import polars as pl

        with pl.Config(tbl_rows=40, tbl_cols=10):
            print(frame.select("run_id", "iteration", "source", "profile", "mode", "verdict",
                               "net_bps", "risk_ratio", "maker_taker_ratio", "p95_latency_ms"))
    return 0


def _build_catalog(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "catalog", help="every run x iteration as one table (JSON or CSV for scripts)",
        formatter_class=_formatter,
        description="Loads new-layout runs, the legacy latest/ folder, compressed iteration files "
                    "and rotated\nhistory into one table, with an incremental cache (see "
                    "soakkit.catalog). Corrupt files\nare reported on stderr and skipped.")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="artifacts root (default: artifacts/soak)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array of rows")
    fmt.add_argument("--csv", action="store_true", help="CSV (list columns joined with ';')")
    p.add_argument("--refresh", action="store_true", help="re-read every file")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=_cmd_catalog)


def _cmd_demo(args: argparse.Namespace) -> int:
    from soakkit.demo import demo

    result = demo(args.artifacts, args.out, seed=args.seed, iterations=args.iterations)
    for report in result.reports:
        _print_report(report)
    if result.exit_code == 0:
        print(f"open the reports in a browser: {args.out}/latest/soak/report.html, "
              f"{args.out}/latest/kpi/report.html, {args.out}/latest/disk/report.html")
    return result.exit_code


def _build_demo(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help="short mini-soak, then the KPI and disk reports (about 10 s)",
        formatter_class=_formatter,
        description="Runs a tuned mini-soak with the soak notebook, the same market without the "
                    "tuner as a\nbaseline, one rotation, then the KPI report (tuned vs untuned) "
                    "and the disk report,\nand prints where the HTML reports are.")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="where the two runs are written (default: artifacts/soak)")
    p.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                   help="reports root (default: reports)")
    p.add_argument("--seed", type=int, default=7, help="market seed (default: 7)")
    p.add_argument("--iterations", type=int, default=12, metavar="N",
                   help="iterations per run, 10 simulated minutes each (default: 12)")
    p.set_defaults(func=_cmd_demo)


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------
_BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    _build_demo,
    _build_soak,
    _build_report,
    _build_catalog,
    _build_rotate,
    _build_config,
]


def build_parser() -> argparse.ArgumentParser:
    """The full ``soakkit`` argument parser."""
    parser = _Parser(
        prog="soakkit", formatter_class=_formatter,
        description="soakkit: seeded mini-soaks, one KPI gate, a guarded live-apply tuner,\n"
                    "crash-safe artifact rotation and papermill reports for a market-making "
                    "bot.",
        epilog="quick start:\n  soakkit demo                      short soak + KPI and disk "
               "reports\n  soakkit config show --profile steady_safe\n\nexit codes: 0 ok, "
               "1 FAIL verdict or runtime error, 2 usage or configuration error")
    parser.add_argument("--version", action="version", version=f"soakkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for build in _BUILDERS:
        build(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``soakkit`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # soakkit does no linear algebra; one BLAS thread keeps the process single-threaded,
    # so `rotate` may fork scan workers safely (numpy is imported lazily, after this)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "profile", "x") is None and hasattr(args, "profile_default"):
            args.profile = args.profile_default
        code: int = args.func(args)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except SoakkitError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"soakkit: error: {line}", file=sys.stderr)
        if isinstance(exc, UsageError) and argv and argv[0] in USAGE_EXIT_CODES:
            return USAGE_EXIT_CODES[argv[0]]
        return exc.exit_code
    except KeyboardInterrupt:
        print("soakkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
