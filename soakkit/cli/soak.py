"""`soakkit soak`: run a seeded mini-soak."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from soakkit.cli._common import add_common_config, formatter

if TYPE_CHECKING:
    from soakkit.soak import IterationReport


def _progress_printer(enabled: bool) -> Callable[[IterationReport], None]:
    def show(report: IterationReport) -> None:
        if not enabled:
            return
        k = report.kpis
        tuned = ", ".join(f"{p}{d:+g}" for p, d in report.decision.deltas.items()) \
            if report.applied else (report.decision.skip_reason or "no change")
        print(f"[{report.iteration}/{report.total}] {report.verdict.verdict:<4} "
              f"net={k['net_bps']:+.2f}bps risk={k['risk_ratio']:.2f} rej={k['rejects']} "
              f"m/t={k['maker_taker_ratio'] or 0:.2f} p95={k['p95_latency_ms'] or 0:.0f}ms "
              f"| tune: {tuned}", file=sys.stderr, flush=True)
    return show


def _warn(line: str) -> None:
    print(f"soakkit: warning: {line}", file=sys.stderr, flush=True)


def _cmd_soak(args: argparse.Namespace) -> int:
    from soakkit.artifacts import resolve_artifacts
    from soakkit.errors import UsageError
    from soakkit.soak import SoakOptions, run_soak

    if args.mode is not None and args.market_data is not None:
        raise UsageError("--mode and --market-data exclude each other: a replay's regimes "
                         "come from the data")
    options = SoakOptions(
        profile=args.profile, iterations=args.iterations, mode=args.mode or "calm",
        seed=args.seed,
        sim_minutes=args.sim_minutes, gate=args.gate, sets=tuple(args.sets),
        artifacts=resolve_artifacts(args.artifacts, create=True), tune=not args.no_tune,
        sleep_seconds=args.sleep_seconds, now=args.now, market=args.market,
        market_data=args.market_data)
    interactive = sys.stderr.isatty() and not args.quiet
    observers = []
    if args.metrics_dir is not None:
        from soakkit.io import clock_from
        from soakkit.metrics import SoakMetrics, check_metrics_dir

        folder = check_metrics_dir(args.metrics_dir)
        observers.append(SoakMetrics(folder, clock=clock_from(args.now), warn=_warn))
    result = run_soak(options, resume=args.resume, progress=_progress_printer(interactive),
                      observers=observers)
    for warning in result.warnings:
        print(f"soakkit: warning: {warning}", file=sys.stderr)
    v = result.verdict
    print(f"run {result.run_id}: {result.status}, {result.iterations_done} iteration(s), "
          f"verdict {v.verdict}")
    for reason in v.reasons:
        print(f"  {reason}")
    print(f"artifacts: {result.run_dir}")
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.gate import RUN_GATES
    from soakkit.sim.regimes import MODES

    p = sub.add_parser(
        "soak", help="run a seeded mini-soak (simulated market, real KPIs, live tuner)",
        formatter_class=formatter,
        description="Each iteration simulates --sim-minutes of market with the current "
                    "parameters,\ncomputes the KPIs, judges them with --gate, lets the tuner "
                    "adjust the\nparameters, and writes ITER_SUMMARY_<n>.json, TUNING_REPORT.json "
                    "and RUN.json\nunder <artifacts>/runs/<run_id>/.",
        epilog="examples:\n  soakkit soak --profile steady_safe --iterations 3 --mode volatile "
               "--seed 7\n  soakkit soak --profile aggressive --iterations 24 --mode mixed "
               "--gate production\n  soakkit soak --market-data examples/tapes/sample "
               "--iterations 2 --sim-minutes 10\n  soakkit soak --market binance-btc --mode "
               "mixed   (a profile from `soakkit calibrate`)\n  soakkit soak --iterations 288 "
               "--sleep-seconds 300 --metrics-dir /var/lib/prometheus/node-exporter\n\n"
               "environment: SOAK_SLEEP_SECONDS (pause between iterations), SOAKKIT_NOW "
               "(frozen clock),\n  SOAKKIT_PARAM_<NAME>, "
               "SOAKKIT_OVERRIDES_JSON (pinned overrides)\n\n--metrics-dir DIR rewrites "
               "DIR/soakkit_soak.prom after every iteration (node_exporter\n  textfile "
               "collector; see docs/METRICS.md). A write that fails later warns once and the\n"
               "  soak goes on; RUN.json records it.\n\n"
               "exit codes: 0 PASS or WARN, 1 FAIL, 2 usage or configuration error (also a "
               "--metrics-dir\n  that is missing, a file or not writable; nothing is run), "
               "130 interrupted")
    add_common_config(p, profile_required=False)
    p.set_defaults(profile="steady_safe")
    p.add_argument("--iterations", type=int, default=3, metavar="N", help="default: %(default)s")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="synthetic market regime (default: calm)")
    p.add_argument("--market", default="default", metavar="NAME|FILE",
                   help="synthetic market profile: default, a NAME written by `soakkit "
                        "calibrate` (ARTIFACTS/markets/NAME.json) or a JSON file")
    p.add_argument("--market-data", type=Path, metavar="TAPE",
                   help="replay this recorded tape instead (iteration n = minutes "
                        "(n-1)*M..n*M of it; regimes labelled from the data; see `soakkit "
                        "tape --help`)")
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
    p.add_argument("--metrics-dir", type=Path, default=None, metavar="DIR",
                   help="write Prometheus metrics to DIR/soakkit_soak.prom (textfile collector)")
    p.set_defaults(func=_cmd_soak)

