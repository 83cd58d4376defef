"""`soakkit rotate`: retention, crash-safe compression and the disk budget."""

from __future__ import annotations

import argparse

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import Parser, formatter


def _cmd_rotate(args: argparse.Namespace) -> int:
    from soakkit.rotation.command import run_restore, run_rotate

    if getattr(args, "rotate_command", None) == "restore":
        return run_restore(args)
    return run_rotate(args)


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from soakkit.rotation.command import EPILOG, add_restore_arguments, add_rotate_arguments

    p = sub.add_parser(
        "rotate", help=COMMANDS["rotate"], formatter_class=formatter, epilog=EPILOG,
        description="Plan, then apply: one scan of --path and one captured --now give every file "
                    "a decision\nwith a reason; --dry-run prints exactly what a real run would "
                    "do. An ITER_SUMMARY\nfile is deleted only once its run's "
                    "iteration log (iterations.jsonl) holds its exact\ncontent; compression is "
                    "crash-safe and recorded in rotation/MANIFEST.jsonl;\nevery run appends one "
                    "line to rotation/ROTATION_LOG.jsonl.\n\n"
                    "  soakkit rotate restore FILE|RUN_ID --path DIR   "
                    "decompress back and prove the hash")
    rsub = p.add_subparsers(dest="rotate_command", metavar="restore", parser_class=Parser)
    restore = rsub.add_parser("restore", help="decompress a file or a run back, verifying sha256")
    add_restore_arguments(restore)
    add_rotate_arguments(p)
    p.set_defaults(func=_cmd_rotate)


