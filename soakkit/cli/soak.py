"""`soakkit soak`: run a seeded mini-soak."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_common_config, add_now, bounds_help, formatter, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.messages import interrupted, progress, warning

if TYPE_CHECKING:
    from soakkit.soak import IterationReport, SoakOptions




def _progress_printer(enabled: bool) -> Callable[[IterationReport], None]:
    def show(report: IterationReport) -> None:
        if not enabled:
            return
        k = report.kpis
        tuned = ", ".join(f"{p}{d:+g}" for p, d in report.decision.deltas.items()) \
            if report.applied else (report.decision.skip_reason or "no change")
        progress(f"[{report.iteration}/{report.total}] {report.verdict.verdict:<4} "
                 f"net={k['net_bps']:+.2f}bps risk={k['risk_ratio']:.2f} rej={k['rejects']} "
                 f"m/t={k['maker_taker_ratio'] or 0:.2f} p95={k['p95_latency_ms'] or 0:.0f}ms "
                 f"| tune: {tuned}")
    return show


#: Flags whose value is checked by soakkit.soak.options (all problems reported together).
_NUMBER_FLAGS = ("iterations", "seed", "sim_minutes", "sleep_seconds")
#: Options a resumed run takes from its RUN.json: flags default to None (not given), and
#: SoakOptions' own defaults fill in for a new run.
_DEFAULTED = ("profile", "iterations", "mode", "seed", "sim_minutes", "gate", "market",
              "strategy")


def _options(args: argparse.Namespace) -> tuple[SoakOptions, dict[str, Any], list[str]]:
    """The options, those given explicitly, and every problem with their text."""
    from soakkit.soak import SoakOptions
    from soakkit.soak.options import default_mode, option_defaults, options_from_text

    numbers, problems = options_from_text({k: getattr(args, k) for k in _NUMBER_FLAGS})
    given: dict[str, Any] = {k: getattr(args, k)
                             for k in ("profile", "mode", "gate", "market", "strategy")
                             if getattr(args, k) is not None}
    if args.market_data is not None:
        given["market_data"] = str(args.market_data)
    given.update(numbers)
    if args.sets:
        given["sets"] = list(args.sets)
    if args.no_tune:
        given["tune"] = False
    defaults = option_defaults()
    values = {**{k: defaults[k] for k in _DEFAULTED}, **given}
    if "mode" not in given:  # a calibrated market runs its fitted regime mix
        values["mode"] = default_mode(values["market"])
    options = SoakOptions(
        profile=values["profile"], iterations=values["iterations"], mode=values["mode"],
        seed=values["seed"], sim_minutes=values["sim_minutes"], gate=values["gate"],
        sets=tuple(args.sets), artifacts=args.artifacts,
        tune=not args.no_tune, sleep_seconds=numbers.get("sleep_seconds"), now=args.now,
        market=values["market"], market_data=args.market_data, baseline=args.baseline,
        strategy=values["strategy"])
    given.pop("sleep_seconds", None)
    return options, given, problems


def _check_soak(args: argparse.Namespace) -> list[str]:
    """Every problem of the options and configuration, before anything runs."""
    import os

    from soakkit.config.layers import resolve
    from soakkit.core.errors import ConfigError, SoakkitError
    from soakkit.core.io import clock_from
    from soakkit.soak import option_problems
    from soakkit.soak.options import strategy_problems
    from soakkit.strategy.registry import load_strategy

    options, _, problems = _options(args)  # a bad number falls back to its valid default
    if args.mode is not None and args.market_data is not None:
        problems.append("--mode and --market-data exclude each other: a replay's regimes "
                        "come from the data")
    if args.resume is not None:
        return problems
    problems += option_problems(options)
    unusable = strategy_problems(options, os.environ)
    problems += unusable
    try:
        if not unusable:
            resolve(options.profile, artifacts=options.artifacts, sets=options.sets,
                    params=load_strategy(options.strategy).params)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    for check in (lambda: clock_from(args.now), _sleep_env):
        try:
            check()
        except SoakkitError as exc:
            problems.append(str(exc))
    return problems


def _sleep_env() -> None:
    import os

    from soakkit.soak import sleep_from_env

    sleep_from_env(os.environ)


def _cmd_soak(args: argparse.Namespace) -> int:
    from soakkit.soak import run_soak

    options, given, _ = _options(args)
    interactive = sys.stderr.isatty() and not args.quiet
    observers = []
    if args.metrics_dir is not None:
        from soakkit.core.io import clock_from
        from soakkit.metrics import SoakMetrics, check_metrics_dir

        folder = check_metrics_dir(args.metrics_dir)
        observers.append(SoakMetrics(folder, clock=clock_from(args.now), warn=warning))
    result = run_soak(options, resume=args.resume, progress=_progress_printer(interactive),
                      observers=observers, requested=given)
    for line in result.warnings:
        warning(line)
    v = result.verdict
    if result.status == "interrupted":
        interrupted(result.interrupted_by or "SIGINT",
                    f"run {result.run_id} stopped after {result.iterations_done} "
                    f"iteration(s); RUN.json says interrupted; continue with: soakkit soak "
                    f"--resume {result.run_id} --artifacts {options.artifacts}")
        return result.exit_code
    print(f"run {result.run_id}: {result.status}, {result.iterations_done} iteration(s), "
          f"verdict {v.verdict}")
    for reason in v.reasons:
        print(f"  {reason}")
    print(f"artifacts: {result.run_dir}")
    return result.exit_code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.gate import RUN_GATES
    from soakkit.sim.regimes import MODES
    from soakkit.soak.options import NUMBER_OPTIONS, option_defaults

    default = option_defaults()
    bounds = bounds_help([f"{o.flag} {o.bounds}" for o in NUMBER_OPTIONS.values()],
                         "every problem with the options and the configuration is reported "
                         "together.")
    p = sub.add_parser(
        "soak", help=COMMANDS["soak"],
        formatter_class=formatter,
        description="Each iteration simulates --sim-minutes of market with the current "
                    "parameters,\ncomputes the KPIs, judges them with --gate, lets the tuner "
                    "adjust the\nparameters, and writes ITER_SUMMARY_<n>.json, TUNING_REPORT.json "
                    "and RUN.json\nunder <artifacts>/runs/<run_id>/.",
        epilog="examples:\n  soakkit soak --profile steady_safe --iterations 3 --mode volatile "
               "--seed 7\n  soakkit soak --profile aggressive --iterations 24 --mode mixed "
               "--gate production\n  soakkit soak --strategy glft --mode volatile --iterations 3"
               "\n  soakkit soak --strategy 'exec:python3 examples/exec_bot.py' --iterations 2\n"
               "  soakkit soak --market-data examples/tapes/sample "
               "--iterations 2 --sim-minutes 10\n  soakkit soak --market binance-btc --mode "
               "mixed   (a profile from `soakkit calibrate`)\n  soakkit soak --iterations 288 "
               "--sleep-seconds 300 --metrics-dir /var/lib/prometheus/node-exporter\n\n"
               "environment: SOAK_SLEEP_SECONDS (pause between iterations), SOAKKIT_NOW "
               "(frozen clock),\n  SOAKKIT_PARAM_<NAME>, "
               "SOAKKIT_OVERRIDES_JSON (pinned overrides)\n\n--metrics-dir DIR rewrites "
               "DIR/soakkit_soak.prom after every iteration (node_exporter\n  textfile "
               "collector; see docs/METRICS.md). A write that fails later warns once and the\n"
               "  soak goes on; RUN.json records it.\n\n"
               + bounds + "\n"
               "--resume RUN_ID keeps the run's own options: giving another --iterations, "
               "--mode, --seed,\n  --sim-minutes, --gate, --profile, --set, --no-tune, "
               "--market, --market-data or\n  --strategy is refused, naming the conflict; the "
               "run keeps its --baseline too.\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE], {
                   ExitCode.OK: "PASS or WARN",
                   ExitCode.FAILED: "FAIL verdict, or the strategy crashed, hung or wrote junk "
                                    "(one line says what and when; RUN.json says failed)",
                   ExitCode.USAGE: "usage, configuration or file-system error (nothing is "
                                   "run, or the run stops resumable)",
                   ExitCode.SIGINT: "interrupted (Ctrl-C; RUN.json says interrupted)"}))
    add_common_config(p, profile_required=False)
    p.set_defaults(profile=None)
    p.add_argument("--iterations", metavar="N", help=f"default: {default['iterations']}")
    p.add_argument("--mode", metavar="{" + ",".join(MODES) + "}",
                   help=f"synthetic market regime (default: {default['mode']}; with --market "
                        "NAME, mixed: the regime mix it was fitted on)")
    p.add_argument("--market", metavar="NAME|FILE",
                   help="synthetic market profile: default, a NAME written by `soakkit "
                        "calibrate` (ARTIFACTS/markets/NAME.json) or a JSON file")
    p.add_argument("--market-data", type=path_arg, metavar="TAPE",
                   help="replay this recorded tape instead (iteration n = minutes "
                        "(n-1)*M..n*M of it; regimes labelled from the data; see `soakkit "
                        "tape --help`)")
    p.add_argument("--seed", metavar="S", help=f"default: {default['seed']}")
    p.add_argument("--sim-minutes", metavar="M",
                   help=f"simulated market minutes per iteration (default: "
                        f"{default['sim_minutes']}; the tuner judges a change on 4 window "
                        f"pairs of minutes, so it changes nothing below 4)")
    p.add_argument("--sleep-seconds", metavar="X",
                   help="pause between iterations (default: $SOAK_SLEEP_SECONDS or 0)")
    p.add_argument("--gate", metavar="{" + ",".join(RUN_GATES) + "}",
                   help=f"default: {default['gate']}")
    p.add_argument("--no-tune", action="store_true", help="run without the live-apply tuner")
    p.add_argument("--baseline", metavar="RUN_ID",
                   help="link this run to a baseline run (recorded in RUN.json; `soakkit "
                        "report kpi` compares with it by default)")
    add_now(p, "freeze the clock (reproducible files)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted or crashed run")
    p.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")
    p.add_argument("--metrics-dir", type=path_arg, default=None, metavar="DIR",
                   help="write Prometheus metrics to DIR/soakkit_soak.prom (textfile collector)")
    p.set_defaults(check=_check_soak)
    p.set_defaults(func=_cmd_soak)

