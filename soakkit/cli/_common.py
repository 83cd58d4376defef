"""What every ``soakkit`` command shares: the parser class, help layout, common flags and the
argument types every flag uses (one strict number parser, one path check)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from soakkit.core.errors import UsageError
from soakkit.core.inputs import MAX_WAIT_S, MAX_WORKERS, float_arg, int_arg, path_arg
from soakkit.core.io import MAX_UTC, MIN_UTC

__all__ = ["ARTIFACTS_HELP", "MAX_WORKERS", "STRATEGY_HELP", "Parser", "add_artifacts",
           "add_common_config", "add_dask_options", "add_now", "add_wait_options",
           "bounds_help", "float_arg", "formatter", "int_arg", "path_arg",
           "resolve_artifacts_arg", "terminal_columns"]

#: How ``--artifacts`` defaults (soakkit.artifacts.layout.resolve_artifacts).
ARTIFACTS_HELP = "default: $SOAKKIT_ARTIFACTS, else the nearest artifacts/soak above here"
#: What ``--strategy`` takes (soakkit.strategy.registry; docs/STRATEGIES.md).
STRATEGY_HELP = ("the bot: legacy (default), avellaneda-stoikov, glft, module:Class, an "
                 "installed entry point, or exec:PROGRAM (a program speaking the JSON-lines "
                 "protocol of docs/STRATEGIES.md; answer deadline $SOAKKIT_EXEC_TIMEOUT_S, "
                 "0.05-3600 s, default 10)")


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def bounds_help(bounds: Sequence[str], after: str = "") -> str:
    """The ``bounds:`` paragraph of an epilog, from the bounds' one definition: ``bounds``
    are ``--flag lo..hi`` items; ``after`` follows them (wrapped, indented lines)."""
    import textwrap

    text = "bounds: " + ", ".join(bounds) + (f"; {after}" if after else ".")
    return textwrap.fill(text, width=92, subsequent_indent="  ", break_on_hyphens=False)


def terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it (``$COLUMNS``, else
    the terminal of ``sys.__stdout__``, else 80), without importing shutil when stdout is
    not a terminal: shutil imports bz2 and lzma (~2 ms of every command's start-up)."""
    if not os.environ.get("COLUMNS"):
        try:
            if sys.__stdout__ is None or not sys.__stdout__.isatty():
                return 80
        except (AttributeError, ValueError, OSError):  # replaced, closed: as shutil falls back
            return 80
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def formatter(prog: str) -> argparse.HelpFormatter:
    """Help text keeps its own line breaks (descriptions and epilogs are laid out by hand)."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32,
                                                width=terminal_columns() - 2)


def add_common_config(p: argparse.ArgumentParser, *, profile_required: bool) -> None:
    """``--profile``, ``--set`` and ``--artifacts``, as every config-reading command takes them."""
    p.add_argument("--profile", required=profile_required, metavar="NAME",
                   help="profile to start from (see `soakkit config list-profiles`)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="override one parameter; repeatable; pins the key against the tuner")
    p.add_argument("--strategy", default=None, metavar="NAME", help=STRATEGY_HELP)
    add_artifacts(p, "artifacts root holding profiles/ and runs/", create=True)


def add_artifacts(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str, *,
                  create: bool = False, required: bool = False,
                  aliases: Sequence[str] = ()) -> None:
    """``--artifacts DIR``, the one name of the artifacts root in every command.

    ``aliases`` are older spellings that keep working (``--path``). Unless ``required``, the
    flag defaults as :func:`soakkit.artifacts.layout.resolve_artifacts` says, with ``create``
    for commands that write runs; :func:`resolve_artifacts_arg` resolves it once, before the
    command runs, and the handler gets a :class:`~pathlib.Path`.
    """
    p.add_argument("--artifacts", *aliases, dest="artifacts", type=path_arg, default=None,
                   metavar="DIR",
                   help=f"{what} ({'required' if required else ARTIFACTS_HELP})")
    if not required:
        p.set_defaults(artifacts_create=create)


def resolve_artifacts_arg(args: argparse.Namespace) -> None:
    """The one resolution of ``--artifacts`` (the command line is the edge): ``args.artifacts``
    becomes the root as a :class:`~pathlib.Path`, or an :class:`ArtifactError` says how to
    point at it. Commands whose flag is required take it as given."""
    create = getattr(args, "artifacts_create", None)
    if create is not None:
        from soakkit.artifacts.layout import resolve_artifacts

        args.artifacts = resolve_artifacts(args.artifacts, create=create)


def add_now(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> None:
    """``--now ISO8601`` (also ``SOAKKIT_NOW``), bounded like every instant soakkit takes."""
    p.add_argument("--now", metavar="ISO8601",
                   help=f"{what}; a UTC time within {MIN_UTC:%Y-%m-%d}..{MAX_UTC:%Y-%m-%d} "
                        "(run ids have four-digit years, file times fit in int64 ns)")


def add_dask_options(group: argparse._ArgumentGroup,
                     workers_help: str = "default: one per core") -> None:
    """Where a Dask command runs: ``--scheduler``, ``--scheduler-file``, ``--workers``
    (``sweep``, ``optimize``; :func:`soakkit.sweep.cluster.connect` reads them)."""
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://host:8786")
    group.add_argument("--scheduler-file", type=path_arg, metavar="FILE",
                       help="the scheduler file of an existing Dask cluster")
    group.add_argument("--workers", type=int_arg(1, MAX_WORKERS), metavar="N",
                       help=f"local cluster: worker processes ({workers_help})")


def add_wait_options(group: argparse._ArgumentGroup, connect_timeout_s: float) -> None:
    """``--connect-timeout``, ``--progress-interval`` and ``--quiet`` of a Dask command."""
    group.add_argument("--connect-timeout", type=float_arg(0, MAX_WAIT_S, lo_open=True),
                       default=connect_timeout_s, metavar="SECONDS",
                       help="give up reaching the scheduler after this long; the handshake "
                            "gets a little more (default: %(default)s)")
    group.add_argument("--progress-interval", type=float_arg(0, MAX_WAIT_S, lo_open=True),
                       default=30.0, metavar="SECONDS",
                       help="not on a terminal: a progress line this often (default: "
                            "%(default)s)")
    group.add_argument("--quiet", action="store_true", help="no progress output")
