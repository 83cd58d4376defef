"""The ``soakkit`` command line: parses arguments, calls the Python API, maps errors to exit codes.

One module per command (``soakkit/cli/<command>.py``), each with a ``build(sub)`` that adds
its parser and a handler that calls the Python API; a command may also set ``check``, a
function returning every problem with its arguments, so they are reported together.
Exit codes are :class:`soakkit.core.errors.ExitCode` (the README's table): 0 success; 1 a failed
verdict, a runtime error or a held lock; 2 bad usage, configuration or input (a path the
file system refuses included); 3/4 report timeout/dead kernel; 5 ok, with problems; 130
Ctrl-C; 143 SIGTERM. ``rotate`` keeps the legacy tool's codes (2 = over budget). Every
problem is one line ``soakkit: error: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from soakkit import __version__
from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import Parser, formatter, resolve_artifacts_arg
from soakkit.core import collector
from soakkit.core.errors import (
    ExitCode,
    SoakkitError,
    UsageError,
    exit_codes_help,
    rotate_exit_code,
)
from soakkit.core.signals import run_command
from soakkit.core.streams import null_for_closed_streams, standard_output

__all__ = ["COMMANDS", "build_parser", "console", "main"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``soakkit`` argument parser.

    ``only`` names the command being run: only its module is imported and its sub-parser
    built in full (building one imports what its options list, e.g. the market modes), so
    a light command such as ``rotate`` starts without the modules of the others; the rest
    get their one line from :data:`COMMANDS`. ``None`` builds every command.
    """
    parser = Parser(
        prog="soakkit", formatter_class=formatter,
        description="soakkit: seeded mini-soaks, one KPI gate, a guarded live-apply tuner,\n"
                    "crash-safe artifact rotation and papermill reports for a market-making "
                    "bot.",
        epilog="quick start:\n  soakkit demo                      short soak + KPI and disk "
               "reports\n  soakkit config show --profile steady_safe\n\n"
               "errors: one line each, `soakkit: error: <what and where>` (docs/ERRORS.md)\n"
               + exit_codes_help(list(ExitCode)) + "\n  (rotate keeps the legacy codes: "
               "1 error or lock held, 2 over budget)")
    parser.add_argument("--version", action="version", version=f"soakkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)
    for name, summary in COMMANDS.items():
        if only in (None, name):
            importlib.import_module(f"soakkit.cli.{name}").build(sub)
        else:
            sub.add_parser(name, help=summary, formatter_class=formatter)
    return parser


def _run(argv: list[str]) -> int:
    with collector.paused():  # imports and parsing make no garbage cycles
        args = _parsed(argv)
    return int(args.func(args))


def _parsed(argv: list[str]) -> argparse.Namespace:
    """Import the command, parse ``argv`` and check it (every problem at once)."""
    parser = build_parser(next((a for a in argv if a in COMMANDS), ""))
    args, extras = parser.parse_known_args(argv)
    problems = [f"soakkit {args.command}: unrecognized arguments: {' '.join(extras)}"] \
        if extras else []
    if getattr(args, "profile", "x") is None and hasattr(args, "profile_default"):
        args.profile = args.profile_default
    try:
        resolve_artifacts_arg(args)  # the edge: handlers get the artifacts root as a Path
    except SoakkitError as exc:
        raise UsageError("\n".join([*problems, str(exc)])) from None
    check = getattr(args, "check", None)
    if check is not None:
        problems += check(args)
    if problems:
        raise UsageError("\n".join(problems))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``soakkit`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # soakkit does no linear algebra; one BLAS thread keeps the process single-threaded,
    # so `rotate` may fork scan workers safely (numpy is imported lazily, after this)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    legacy = bool(argv) and argv[0] == "rotate"  # rotate keeps the legacy tool's codes
    null_for_closed_streams()
    with standard_output():
        return run_command(lambda: _run(argv), codes=rotate_exit_code if legacy else None)


def console() -> NoReturn:
    """The ``soakkit`` program (and ``python -m soakkit``): :func:`main`, then an exit without
    the interpreter's last garbage collection, which would visit every object left (most of
    them polars' and Dask's modules) only for the process to free its memory whole: 0.04 s
    of every command that imports polars. ``atexit`` handlers, ``weakref.finalize`` and the
    flushing of the standard streams still run; what is skipped is ``__del__`` of objects
    caught in reference cycles, which soakkit never relies on (its files are closed by
    ``with`` blocks, its temporary folders by finalizers)."""
    code = main()
    gc.freeze()  # the objects left are out of the last collection's reach
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
