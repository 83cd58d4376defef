"""`soakkit config`: show, explain, list, precedence and migrate the layered configuration."""

from __future__ import annotations

import argparse
import json
import sys

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, add_common_config, formatter, path_arg
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.messages import error, warning


def _config_resolve(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from soakkit.config.layers import resolve

    runtime = args.runtime_overrides
    if runtime is None and getattr(args, "run", None):
        from soakkit.artifacts.layout import resolve_run_dir
        from soakkit.config.runtime import RUNTIME_FILE

        runtime = resolve_run_dir(args.artifacts, args.run) / RUNTIME_FILE
    cfg = resolve(args.profile, artifacts=args.artifacts, sets=args.sets,
                  runtime_path=runtime)
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
        epilog=exit_codes_help([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE],
                               {ExitCode.FAILED: "a runtime overrides file soakkit refuses"}))
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

