"""The ``soakkit`` command line: parses arguments, calls the Python API, maps errors to exit codes.

One module per command (``soakkit/cli/<command>.py``), each with a ``build(sub)`` that adds
its parser and a handler that calls the Python API. Exit codes: 0 success; 1 a failed
verdict, a runtime error or a held lock; 2 bad usage or configuration. Commands document
their own additions (``rotate``: 2 = over budget; ``report``: one code per notebook
outcome). User errors print one line each on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from soakkit import __version__
from soakkit.cli import (
    calibrate,
    catalog,
    config,
    demo,
    metrics,
    report,
    rotate,
    soak,
    sweep,
    tape,
)
from soakkit.cli._common import Parser, formatter
from soakkit.errors import SoakkitError, UsageError

__all__ = ["build_parser", "main"]

#: Commands whose contract reports bad arguments with another code than 2.
USAGE_EXIT_CODES = {"rotate": 1}
#: Command modules, in the order ``soakkit --help`` lists them.
COMMANDS = (demo, soak, sweep, report, catalog, rotate, metrics, config, tape, calibrate)


def build_parser() -> argparse.ArgumentParser:
    """The full ``soakkit`` argument parser."""
    parser = Parser(
        prog="soakkit", formatter_class=formatter,
        description="soakkit: seeded mini-soaks, one KPI gate, a guarded live-apply tuner,\n"
                    "crash-safe artifact rotation and papermill reports for a market-making "
                    "bot.",
        epilog="quick start:\n  soakkit demo                      short soak + KPI and disk "
               "reports\n  soakkit config show --profile steady_safe\n\nexit codes: 0 ok, "
               "1 FAIL verdict or runtime error, 2 usage or configuration error")
    parser.add_argument("--version", action="version", version=f"soakkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)
    for command in COMMANDS:
        command.build(sub)
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
