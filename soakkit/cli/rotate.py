"""``soakkit rotate`` and its legacy spelling ``python -m soakkit.rotation``: flags and output.

Both spellings share these definitions; the legacy one keeps the legacy tool's flags and
defaults (``--path``, now also ``--artifacts``, required, ``--ttl-days 7``, ``--keep-latest
100``, no budget).
Exit codes: 0 ok, 1 error, lock held or bad arguments, 2 over budget after rotation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import Parser, add_artifacts, add_now, formatter
from soakkit.core.errors import (
    ROTATE_EXIT_CODES,
    UsageError,
    exit_codes_help,
    printable,
    rotate_exit_code,
)
from soakkit.core.inputs import MAX_DAYS, MAX_WAIT_S, float_arg, int_arg, path_arg
from soakkit.core.io import canonical_json, clock_from
from soakkit.core.messages import error, warning
from soakkit.rotation.actions import action_lines, mib
from soakkit.rotation.policy import CODECS, MAX_KEEP_LATEST
from soakkit.rotation.policy import RotationPolicy as _Policy

#: Bound of --jobs (the TTL's is a century, MAX_DAYS; waiting for the lock: MAX_WAIT_S).
MAX_JOBS = 64
#: Scan processes when --jobs is not given (the legacy spelling has no --jobs).
DEFAULT_JOBS = 2
#: The policy's defaults (the legacy tool's), which --help states.
_DEFAULT = _Policy()

if TYPE_CHECKING:
    from soakkit.rotation.apply import RotationResult
    from soakkit.rotation.policy import RotationPolicy

__all__ = ["add_restore_arguments", "add_rotate_arguments", "build", "legacy_main", "run_restore",
           "run_rotate"]

EPILOG = """\
decisions (restic-style reasons):
  keep:latest(rank=3/100)            one of the N highest-numbered ITER_SUMMARY files of its folder
  delete:beyond_keep_latest(...)     older iterations; their run's iterations.jsonl holds them first
  compress:older_than_ttl(age_d=9.2) gzip in place (X.json -> X.json.gz), verified first
  keep:younger_than_ttl, keep:active_run, keep:protected, keep:future_mtime, skip:symlink, ...

metrics: --metrics-dir DIR writes DIR/soakkit_rotation.prom (node_exporter textfile collector;
  sizes before/after, budget, actions, errors, duration, last success; see docs/METRICS.md)

errors: a file rotation could not handle is a `soakkit: error:` line on stderr (exit 1); a
  --metrics-dir that is missing, a file or not writable is checked before anything changes
""" + exit_codes_help(list(ROTATE_EXIT_CODES), ROTATE_EXIT_CODES) + "\n"


def add_rotate_arguments(p: argparse.ArgumentParser, *, legacy: bool = False) -> None:
    """Rotation flags (``legacy`` only changes help text; defaults are the legacy tool's)."""
    add_artifacts(p, "artifacts folder to rotate, e.g. artifacts/soak, a real directory; "
                     "never guessed", required=True, aliases=("--path",))
    p.add_argument("--keep-latest", type=int_arg(0, MAX_KEEP_LATEST),
                   default=_DEFAULT.keep_latest, metavar="N",
                   help="ITER_SUMMARY files kept per run folder, highest numbers (default "
                        f"{_DEFAULT.keep_latest})")
    p.add_argument("--ttl-days", type=float_arg(0.0, MAX_DAYS), default=_DEFAULT.ttl_days,
                   metavar="D", help=f"compress files at least D days old (default "
                                     f"{_DEFAULT.ttl_days:g})")
    p.add_argument("--max-size-mb", type=float_arg(0.0, lo_open=True),
                   default=None, metavar="M",
                   help="disk budget in MiB of allocated blocks; exit 2 when over after rotation")
    p.add_argument("--dry-run", action="store_true",
                   help="print what a real run would do, counted per folder and reason "
                        "(files, bytes); change nothing")
    p.add_argument("--list", action="store_true",
                   help="with --dry-run: print every action, one line per file")
    if legacy:
        return
    p.add_argument("--explain", action="store_true",
                   help="print every decision, kept files included")
    add_now(p, "the instant ages are measured against")
    p.add_argument("--wait-lock", type=float_arg(0.0, MAX_WAIT_S), default=0.0,
                   metavar="SECONDS", help="wait for a concurrent rotation (default: fail)")
    p.add_argument("--json", action="store_true", help="print the log record as JSON")
    p.add_argument("--delete-to-budget", action="store_true",
                   help="opt in: delete the oldest compressed files until within the budget")
    p.add_argument("--allow-delete-all", action="store_true",
                   help="allow --keep-latest 0")
    p.add_argument("--codec", choices=CODECS, default=_DEFAULT.codec,
                   help=f"compression codec (zstd needs soakkit[zstd]; default "
                        f"{_DEFAULT.codec})")
    p.add_argument("--jobs", type=int_arg(1, MAX_JOBS), default=DEFAULT_JOBS, metavar="N",
                   help=f"processes for scanning a large tree (default {DEFAULT_JOBS})")
    p.add_argument("--metrics-dir", type=path_arg, default=None, metavar="DIR",
                   help="write Prometheus metrics to DIR/soakkit_rotation.prom")


def _policy_line(args: dict[str, Any]) -> str:
    budget = "no disk budget" if args["max_size_mb"] is None else \
        f"disk budget {args['max_size_mb']:g} MiB" + (
            ", deleting compressed files to meet it" if args["delete_to_budget"] else "")
    return (f"policy: keep the {args['keep_latest']} highest-numbered ITER_SUMMARY files of "
            f"each run, compress ({args['codec']}) files at least {args['ttl_days']:g} days "
            f"old, {budget}")


def _action_lines(result: RotationResult, listed: bool) -> str:
    """One line per action: ``would <verb>`` for a dry run with ``--list`` (else counts per
    folder and reason), ``<verb> ... -> <outcome>`` after a real one (from the plan's
    arrays: 200,000 actions print without a dict each)."""
    if result.results is None:
        return result.plan.dry_run_lines() if listed else result.plan.dry_run_summary()
    return "".join([action_lines(verb, [path], [reason], [result.outcome(phase, path)])
                    for phase, verb, path, reason, _ in result.plan.acting()])


def _render(result: RotationResult, explain_lines: list[str], listed: bool) -> str:
    summary = result.summary
    dry = summary["dry_run"]
    out = [f"rotation at {summary['now']}" + (" (dry run: nothing changed)" if dry else ""),
           _policy_line(summary["args"])]
    out.append(_action_lines(result, listed).removesuffix("\n") or "  nothing to do")
    out += explain_lines
    if summary["kept"]:
        out.append("kept: " + ", ".join(f"{k} {v}" for k, v in summary["kept"].items()))
    b, a = summary["before"], summary["after"]
    proj = " (projected; compression savings not counted)" if summary["after_is_projection"] \
        else ""
    out.append(f"size: {b['files']} files, apparent {mib(b['apparent_bytes'])} -> "
               f"{mib(a['apparent_bytes'])}, allocated {mib(b['allocated_bytes'])} -> "
               f"{mib(a['allocated_bytes'])}{proj}")
    if summary["budget_bytes"] is not None:
        state = "OVER BUDGET" if summary["over_budget"] else "within budget"
        out.append(f"budget: {mib(summary['budget_bytes'])} allocated: {state}")
    return "\n".join(out) + "\n"


def _problems(record: dict[str, Any]) -> None:
    """A rotation's warnings and per-file errors, one ``soakkit:`` line each, on stderr."""
    for line in record["warnings"]:
        warning(line)
    for line in record["scan_errors"] + record["errors"]:
        error(line)


def run_rotate(args: argparse.Namespace) -> int:
    """Run a rotation from parsed arguments; prints the outcome; returns the exit code."""
    from soakkit.rotation.apply import rotate
    from soakkit.rotation.policy import RotationPolicy

    if args.artifacts is None:
        raise UsageError("--artifacts DIR (or --path DIR) is required: the artifacts folder "
                         "to rotate")
    policy = RotationPolicy(
        keep_latest=args.keep_latest, ttl_days=args.ttl_days, max_size_mb=args.max_size_mb,
        allow_delete_all=getattr(args, "allow_delete_all", False),
        delete_to_budget=getattr(args, "delete_to_budget", False),
        codec=getattr(args, "codec", _DEFAULT.codec)).validate()
    jobs = getattr(args, "jobs", DEFAULT_JOBS)
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: expected an integer >= 1")
    now = clock_from(getattr(args, "now", None)).now()
    metrics_dir = getattr(args, "metrics_dir", None)
    if metrics_dir is not None:
        return _rotate_with_metrics(args, policy, now, jobs, metrics_dir)
    result = rotate(args.artifacts, policy, now=now, dry_run=args.dry_run,
                    wait_lock=getattr(args, "wait_lock", 0.0), jobs=jobs,
                    render=args.dry_run and getattr(args, "list", False)
                    and not getattr(args, "json", False))
    return _report(args, result)


def _rotate_with_metrics(args: argparse.Namespace, policy: RotationPolicy, now: datetime, jobs: int,
                         metrics_dir: Path) -> int:
    """Rotate, then write ``soakkit_rotation.prom`` (a rotation that cannot run is recorded)."""
    from soakkit.core.errors import RotationError, os_reason
    from soakkit.metrics import check_metrics_dir, export_rotation, export_rotation_failure
    from soakkit.rotation.apply import rotate

    if args.dry_run:
        raise UsageError("--metrics-dir with --dry-run: a dry run changes nothing and exports "
                         "no metrics")
    check_metrics_dir(metrics_dir)
    t0 = time.monotonic()
    try:
        result = rotate(args.artifacts, policy, now=now, wait_lock=args.wait_lock, jobs=jobs)
    except RotationError:
        try:
            export_rotation_failure(metrics_dir, now, duration_s=time.monotonic() - t0,
                                    mtime=now.timestamp())
        except OSError as exc:
            error(f"--metrics-dir {metrics_dir}: cannot write the failure: {os_reason(exc)}")
        raise
    try:
        export_rotation(metrics_dir, result.record, duration_s=time.monotonic() - t0,
                        mtime=now.timestamp())
    except OSError as exc:
        code = _report(args, result)
        raise RotationError(f"--metrics-dir {metrics_dir}: the rotation ran (exit code {code}) "
                            f"but its metrics could not be written: {os_reason(exc)}") from None
    return _report(args, result)


def _report(args: argparse.Namespace, result: RotationResult) -> int:
    """Print a rotation's outcome (text or ``--json``); its exit code."""
    if getattr(args, "json", False):
        sys.stdout.write(canonical_json(result.record))
        _problems(result.summary)
        return result.exit_code
    explain: list[str] = []
    if getattr(args, "explain", False):
        explain.append("every decision:")
        explain += [f"  {d.reason:<44} {d.path}" for d in
                    result.plan.decisions(include_keep=True)]
    # a name that is not UTF-8 (or holds a control character) is shown escaped: \xff
    sys.stdout.write("".join(printable(line) + "\n" for line in _render(
        result, explain, getattr(args, "list", False)).splitlines()))
    _problems(result.summary)
    return result.exit_code


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a compressed file (either name) or a run id")
    add_artifacts(p, "the artifacts folder the file belongs to", required=True,
                  aliases=("--path",))
    p.add_argument("--keep", action="store_true", help="keep the compressed file too")
    p.add_argument("--wait-lock", type=float_arg(0.0, MAX_WAIT_S), default=0.0,
                   metavar="SECONDS")


def run_restore(args: argparse.Namespace) -> int:
    from soakkit.rotation.restore import restore

    if args.artifacts is None:
        raise UsageError("--artifacts DIR (or --path DIR) is required: the artifacts folder "
                         "the file belongs to")
    result = restore(args.artifacts, args.target, keep=args.keep, wait_lock=args.wait_lock)
    for path in result.restored:
        print(f"restored {path} (sha256 verified against the manifest)")
    for problem in result.errors:
        error(problem)
    return result.exit_code


def legacy_main(argv: list[str] | None = None) -> int:
    """``python -m soakkit.rotation``: the legacy tool's command line."""
    from soakkit.core.signals import run_command

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(f"{self.prog}: {message}")

    parser = _Parser(prog="python -m soakkit.rotation",
                     description="Rotate soak artifacts (legacy spelling of `soakkit rotate`).",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rotate_arguments(parser, legacy=True)
    return run_command(lambda: run_rotate(parser.parse_args(argv)), codes=rotate_exit_code)


def _cmd_rotate(args: argparse.Namespace) -> int:
    if getattr(args, "rotate_command", None) == "restore":
        return run_restore(args)
    return run_rotate(args)


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "rotate", help=COMMANDS["rotate"], formatter_class=formatter, epilog=EPILOG,
        description="Plan, then apply: one scan of --artifacts and one captured --now give "
                    "every file a\ndecision with a reason; --dry-run counts what a real run "
                    "would do per folder and\nreason (--list: every file). An ITER_SUMMARY file "
                    "is deleted only once its run's\niteration log (iterations.jsonl) holds its "
                    "exact content; compression is\ncrash-safe and recorded in "
                    "rotation/MANIFEST.jsonl; every run appends one line to\n"
                    "rotation/ROTATION_LOG.jsonl.\n\n"
                    "  soakkit rotate restore FILE|RUN_ID --artifacts DIR   "
                    "decompress back and prove the hash")
    rsub = p.add_subparsers(dest="rotate_command", metavar="restore", parser_class=Parser)
    restore = rsub.add_parser("restore", help="decompress a file or a run back, verifying sha256")
    add_restore_arguments(restore)
    add_rotate_arguments(p)
    p.set_defaults(func=_cmd_rotate)


