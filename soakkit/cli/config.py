"""`soakkit config`: show, explain, list, precedence and migrate the layered configuration."""

from __future__ import annotations

import argparse
import json
import sys

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, add_common_config, formatter, path_arg
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help
from soakkit.core.messages import error, warning


def _config_resolve(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from soakkit.config.layers import resolve

    runtime, run = args.runtime_overrides, getattr(args, "run", None)
    if run is not None and not run.strip():
        raise UsageError("--run: empty run id (give a run id, or 'latest')")
    if run is not None and runtime is not None:
        raise UsageError("--run and --runtime-overrides both name the runtime layer; give one")
    if run is not None:
        from soakkit.artifacts.layout import resolve_run_dir
        from soakkit.config.runtime import RUNTIME_FILE

        runtime = resolve_run_dir(args.artifacts, run) / RUNTIME_FILE
    from soakkit.config.params import DEFAULT_STRATEGY
    from soakkit.strategy.registry import load_strategy

    strategy = load_strategy(args.strategy or DEFAULT_STRATEGY)
    cfg = resolve(args.profile, artifacts=args.artifacts, sets=args.sets,
                  runtime_path=runtime, params=strategy.params)
    for line in cfg.warnings:
        warning(line)
    return cfg


def _cmd_config_show(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_show
    from soakkit.core.io import canonical_json

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

    infos = list_profiles(args.artifacts, check=True)
    if args.json:
        payload = [{"name": i.name, "builtin": i.builtin, "path": str(i.path),
                    "shadows_builtin": i.shadows_builtin, "problems": list(i.problems)}
                   for i in infos]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(render_profiles(infos))
    for info in infos:
        for problem in info.problems:
            warning(f"profile {info.name} ({info.path}) does not load: {problem}")
    return ExitCode.PROBLEMS if any(i.problems for i in infos) else ExitCode.OK


def _cmd_config_precedence(args: argparse.Namespace) -> int:
    from soakkit.config.explain import render_precedence

    sys.stdout.write(render_precedence())
    return 0


def _cmd_config_migrate(args: argparse.Namespace) -> int:
    from soakkit.config.migrate import apply_migration, plan_migration
    from soakkit.core.io import clock_from

    plan = plan_migration(args.artifacts, base_profile=args.base_profile)
    sys.stdout.write(plan.render())
    if args.dry_run:
        for problem in plan.problems():
            error(problem)
        return ExitCode.USAGE if plan.problems() else ExitCode.OK
    backup = apply_migration(plan, clock_from(None))
    if backup is not None:
        print(f"migrated; originals backed up under {backup}")
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = sub.add_parser(
        "config", help=COMMANDS["config"], formatter_class=formatter,
        description="Inspect the layered configuration: defaults < profile < runtime "
                    "overrides < env < --set.\nEvery value carries its origin; every problem "
                    "is one line naming its layer and source.",
        epilog=exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.PROBLEMS],
                               {ExitCode.FAILED: "a lock is held, or another writer changed "
                                                 "the runtime overrides first",
                                ExitCode.PROBLEMS: "list-profiles: listed, but a profile does "
                                                   "not load (marked INVALID)"}))
    csub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")

    show = csub.add_parser("show", help="the resolved parameters and where each came from",
                           formatter_class=formatter,
                           epilog="example:\n  soakkit config show --profile steady_safe "
                                  "--set min_interval_ms=78 --json")
    add_common_config(show, profile_required=True)
    show.add_argument("--runtime-overrides", type=path_arg, metavar="FILE",
                      help="use this runtime_overrides.json as the runtime layer")
    show.add_argument("--run", metavar="RUN_ID",
                      help="use the runtime overrides of this run (or 'latest')")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_cmd_config_show)

    explain = csub.add_parser("explain", help="every layer's value for one parameter",
                              formatter_class=formatter)
    explain.add_argument("key", help="parameter name, e.g. min_interval_ms")
    add_common_config(explain, profile_required=False)
    explain.add_argument("--runtime-overrides", type=path_arg, metavar="FILE")
    explain.add_argument("--run", metavar="RUN_ID")
    explain.set_defaults(func=_cmd_config_explain, profile_default="steady_safe")

    lp = csub.add_parser("list-profiles", help="built-in and user profiles")
    add_artifacts(lp, "artifacts root holding profiles/", create=True)
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=_cmd_config_list)

    prec = csub.add_parser("precedence", help="the order of the configuration layers")
    prec.set_defaults(func=_cmd_config_precedence)

    mig = csub.add_parser(
        "migrate", help="convert the legacy toolkit's config files", formatter_class=formatter,
        description="Converts steady_safe_overrides.json, ultra_safe_overrides.json, "
                    "steady_overrides.json,\napplied_profile.json, legacy profiles/*.json and a "
                    "legacy runtime_overrides.json.\nPrints the plan as a diff first, backs up "
                    "every file it replaces or removes,\nrefuses to overwrite a differing "
                    "profile, and does nothing on a second run.\nTwo legacy files for one "
                    "profile with different values, or a file with an unknown\n(newer) "
                    "schema_version, are refused and listed; nothing is changed.",
        epilog=exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
            ExitCode.USAGE: "bad path, conflict or unreadable file (nothing changed)"}))
    add_artifacts(mig, "legacy artifacts folder", create=True, aliases=("--path",))
    mig.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    mig.add_argument("--base-profile", default="steady_safe", metavar="NAME",
                     help="built-in profile a legacy runtime_overrides.json was based on")
    mig.set_defaults(func=_cmd_config_migrate)

