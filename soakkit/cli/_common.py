"""What every ``soakkit`` command shares: the parser class, help layout, common flags and the
argument types every flag uses (one strict number parser, one path check)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from soakkit.errors import UsageError
from soakkit.inputs import check_user_path, parse_float, parse_int, show_value

__all__ = ["DEFAULT_ARTIFACTS", "Parser", "add_common_config", "float_arg", "formatter",
           "int_arg", "path_arg"]

DEFAULT_ARTIFACTS = Path("artifacts/soak")


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def formatter(prog: str) -> argparse.HelpFormatter:
    """Help text keeps its own line breaks (descriptions and epilogs are laid out by hand)."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def path_arg(text: str) -> Path:
    """argparse type of every path flag: an empty path is an error, never the current folder."""
    why = check_user_path(text)
    if why:
        raise argparse.ArgumentTypeError(why)
    return Path(text)


def int_arg(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: a strict integer (:func:`soakkit.inputs.parse_int`) within ``[lo, hi]``."""
    def parse(text: str) -> int:
        try:
            return parse_int(text, lo=lo, hi=hi)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{show_value(text)}: {exc}") from None
    parse.__name__ = "integer"
    return parse


def float_arg(lo: float | None = None, hi: float | None = None, *,
              lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a strict finite number (:func:`soakkit.inputs.parse_float`)."""
    def parse(text: str) -> float:
        try:
            return parse_float(text, lo=lo, hi=hi, lo_open=lo_open)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{show_value(text)}: {exc}") from None
    parse.__name__ = "number"
    return parse


def add_common_config(p: argparse.ArgumentParser, *, profile_required: bool) -> None:
    """``--profile``, ``--set`` and ``--artifacts``, as every config-reading command takes them."""
    p.add_argument("--profile", required=profile_required, metavar="NAME",
                   help="profile to start from (see `soakkit config list-profiles`)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="override one parameter; repeatable; pins the key against the tuner")
    p.add_argument("--artifacts", type=path_arg, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="artifacts root holding profiles/ and runs/ (default: %(default)s)")
