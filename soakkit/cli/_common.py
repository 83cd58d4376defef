"""What every ``soakkit`` command shares: the parser class, help layout, common flags and the
argument types every flag uses (one strict number parser, one path check)."""

from __future__ import annotations

import argparse

from soakkit.core.errors import UsageError
from soakkit.core.inputs import float_arg, int_arg, path_arg

__all__ = ["ARTIFACTS_HELP", "STRATEGY_HELP", "Parser", "add_artifacts", "add_common_config",
           "float_arg", "formatter", "int_arg", "path_arg"]

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


def formatter(prog: str) -> argparse.HelpFormatter:
    """Help text keeps its own line breaks (descriptions and epilogs are laid out by hand)."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_common_config(p: argparse.ArgumentParser, *, profile_required: bool) -> None:
    """``--profile``, ``--set`` and ``--artifacts``, as every config-reading command takes them."""
    p.add_argument("--profile", required=profile_required, metavar="NAME",
                   help="profile to start from (see `soakkit config list-profiles`)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="override one parameter; repeatable; pins the key against the tuner")
    p.add_argument("--strategy", default=None, metavar="NAME", help=STRATEGY_HELP)
    add_artifacts(p, "artifacts root holding profiles/ and runs/")


def add_artifacts(p: argparse.ArgumentParser, what: str) -> None:
    """``--artifacts DIR``; handlers resolve ``None`` with :func:`resolve_artifacts`."""
    p.add_argument("--artifacts", type=path_arg, default=None, metavar="DIR",
                   help=f"{what} ({ARTIFACTS_HELP})")
