"""How values typed by a user enter soakkit: one strict parser for numbers, one check for paths.

Every number soakkit reads as text (command-line flags, ``--set``, environment variables,
report parameters) and every number in a JSON document it reads goes through
:func:`parse_int` / :func:`parse_float` (JSON documents through :func:`json_int` /
:func:`json_float`, the hooks :func:`soakkit.core.json_strict.loads_strict` gives :mod:`json`).
A number is written the way JSON writes it, or it is refused, never coerced:

* no sign but ``-`` (``+700`` is refused), no leading zeros (``0700``), no whitespace
  (``" 7 "``), ASCII digits only (full-width ``７`` is refused), no ``_`` separators;
* an integer has no fraction or exponent (``7.0``, ``1e2`` are refused where an int is
  meant); ``nan``, ``inf`` and numbers that overflow a float are refused;
* at most :data:`MAX_DIGITS` characters.

Every path a user gives goes through :func:`check_user_path`: an empty path is refused
(``Path("")`` would silently mean the current folder), as are NUL bytes and names longer
than the operating system allows (a clean message instead of ``ENAMETOOLONG``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from soakkit.core.errors import UsageError, printable

__all__ = [
    "MAX_DAYS",
    "MAX_DIGITS",
    "MAX_ITERATIONS",
    "MAX_NAME_BYTES",
    "MAX_PATH_BYTES",
    "MAX_SEED",
    "MAX_SIM_MINUTES",
    "MAX_WAIT_S",
    "MAX_WORKERS",
    "check_bounds",
    "check_int_option",
    "check_user_path",
    "choice_problem",
    "float_arg",
    "int_arg",
    "json_float",
    "json_int",
    "parse_float",
    "parse_int",
    "path_arg",
    "show_value",
]

#: Longest number text accepted anywhere (a float's 17 significant digits and exponent fit).
MAX_DIGITS = 40
#: Seeds are 0..2**32-1 (numpy's legacy seed range; every run id stays short).
MAX_SEED = 2**32 - 1
#: Iterations of one soak (a year of 5-minute iterations fits; ``ITER_SUMMARY`` names stay short).
MAX_ITERATIONS = 100_000
#: Simulated (or replayed) market minutes of one iteration or one sample tape: a day.
MAX_SIM_MINUTES = 1_440
#: Longest wait or pause a user may ask for, in seconds (sleeps, timeouts, locks): a day.
MAX_WAIT_S = 86_400
#: Longest age a user may name, in days (TTLs, report windows): a century.
MAX_DAYS = 36_500
#: The most worker processes of a local Dask cluster (``--workers`` of sweep and optimize).
MAX_WORKERS = 1024
#: Linux limits: a whole path (``PATH_MAX`` less the final NUL) and one name (``NAME_MAX``).
MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255

_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _why_not_number(text: str, integer: bool) -> str:
    """The reason ``text`` is refused, naming the rule it breaks."""
    kind = "an integer" if integer else "a number"
    if text == "":
        return "empty value"
    if len(text) > MAX_DIGITS:
        return f"expected {kind}, got {len(text)} characters (at most {MAX_DIGITS})"
    if text != text.strip():
        return f"{text!r} has surrounding whitespace"
    if any(c.isdigit() and not ("0" <= c <= "9") for c in text):
        return f"expected {kind} in ASCII digits, got {text!r}"
    if text.startswith("+"):
        return f"expected {kind} without a leading '+', got {text!r}"
    body = text.lstrip("-")
    if len(body) > 1 and body[0] == "0" and body[1].isdigit():
        return f"expected {kind} without leading zeros, got {text!r}"
    if integer and _FLOAT_RE.fullmatch(text):
        return f"expected an integer, got {text!r}"
    if not integer and text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return f"expected a finite number, got {text!r}"
    return f"expected {kind}, got {text!r}"


def _num(x: float) -> str:
    """A bound as people write it: ``1000000000``, ``0.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_bounds(value: int | float, lo: float | None, hi: float | None,
                 lo_open: bool = False) -> None:
    """Raise :class:`ValueError` (``expected a value 1..100000``) when ``value`` is out of
    ``[lo, hi]`` (``lo_open``: ``(lo, hi]``); ``None`` is no bound."""
    low = lo is not None and (value < lo or (lo_open and value == lo))
    if low or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            wanted = f"{_num(lo)}..{_num(hi)}" + (f" (more than {_num(lo)})" if lo_open else "")
        elif lo is not None:
            wanted = f"{'>' if lo_open else '>='} {_num(lo)}"
        else:
            wanted = f"<= {_num(hi or 0)}"
        raise ValueError(f"expected a value {wanted}")


def check_int_option(name: str, value: object, lo: int, hi: int) -> None:
    """Raise :class:`UsageError` (``--trials 0: expected an integer in 1..10000``) unless
    ``value``, an option given through the Python API, is an integer (not a bool) within
    ``[lo, hi]``; the command line's :func:`int_arg` checks the same bounds."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UsageError(f"{name} {value!r}: expected an integer in {lo}..{hi}")


def show_value(text: str) -> str:
    """``text`` as an error message shows it: bare when plain, else quoted and shortened."""
    if text and len(text) <= 40 and text.isprintable() and not any(c.isspace() for c in text):
        return text
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown) if shown.isprintable() else f"'{printable(shown)}'"


def parse_int(text: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer written as JSON writes it, within ``[lo, hi]``.

    Raises :class:`ValueError` with a one-line reason (the caller adds where the value
    came from: the flag, key or environment variable).
    """
    if len(text) > MAX_DIGITS or not _INT_RE.fullmatch(text):
        raise ValueError(_why_not_number(text, integer=True))
    value = int(text)
    check_bounds(value, lo, hi)
    return value


def parse_float(text: str, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    """A finite number written as JSON writes it, within ``[lo, hi]`` (``(lo, hi]``)."""
    if len(text) > MAX_DIGITS or not _FLOAT_RE.fullmatch(text):
        raise ValueError(_why_not_number(text, integer=False))
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{show_value(text)} is out of the range of a number")
    check_bounds(value, lo, hi, lo_open)
    return value


def json_int(text: str) -> int:
    """:mod:`json`'s ``parse_int`` hook: the JSON grammar already holds; bound the length."""
    if len(text) > MAX_DIGITS:
        raise ValueError(f"an integer has {len(text)} digits (at most {MAX_DIGITS})")
    return int(text)


def json_float(text: str) -> float:
    """:mod:`json`'s ``parse_float`` hook: refuses a number that overflows (``1e999``)."""
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number has {len(text)} characters (at most {MAX_DIGITS})")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a number")
    return value


def check_user_path(text: str) -> str | None:
    """Why ``text`` cannot be a path a user means, or ``None`` if it can.

    Refused: the empty string (it would mean the current folder), a NUL byte, a path
    longer than :data:`MAX_PATH_BYTES` or a name longer than :data:`MAX_NAME_BYTES`
    (encoded as the file system encodes it).
    """
    if text == "" or text.isspace():
        return "empty path (give a folder or file name; '.' for the current folder)"
    if "\0" in text:
        return "path contains a NUL byte"
    if control := next((c for c in text if ord(c) < 0x20 or ord(c) == 0x7F), None):
        return (f"path contains a control character ({printable(control)}): it would break "
                "the lines soakkit prints and logs")
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return "path is not valid text"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return (f"path '{printable(text)}' is not valid UTF-8: soakkit keeps paths as text "
                "in its tables, logs and reports; rename it")
    if len(raw) > MAX_PATH_BYTES:
        return f"path too long ({len(raw)} bytes; the limit is {MAX_PATH_BYTES})"
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > MAX_NAME_BYTES:
        return (f"a name in the path is too long ({len(longest)} bytes; the limit is "
                f"{MAX_NAME_BYTES})")
    return None


def _arg_error(why: str) -> Exception:
    """argparse's error for a flag's value (argparse is imported here, where a command line
    is being read: a library caller of this module never pays for it)."""
    import argparse

    return argparse.ArgumentTypeError(why)


# argparse types: every flag of every command reads its value through these
def path_arg(text: str) -> Path:
    """argparse type of every path flag: an empty path is an error, never the current folder."""
    why = check_user_path(text)
    if why:
        raise _arg_error(why)
    return Path(text)


def int_arg(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: a strict integer (:func:`parse_int`) within ``[lo, hi]``."""
    def parse(text: str) -> int:
        try:
            return parse_int(text, lo=lo, hi=hi)
        except ValueError as exc:
            raise _arg_error(f"{show_value(text)}: {exc}") from None
    parse.__name__ = "integer"
    return parse


def float_arg(lo: float | None = None, hi: float | None = None, *,
              lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a strict finite number (:func:`soakkit.core.inputs.parse_float`)."""
    def parse(text: str) -> float:
        try:
            return parse_float(text, lo=lo, hi=hi, lo_open=lo_open)
        except ValueError as exc:
            raise _arg_error(f"{show_value(text)}: {exc}") from None
    parse.__name__ = "number"
    return parse


def choice_problem(label: str, value: object, choices: Iterable[str]) -> str | None:
    """``<label> 'x': expected one of a, b`` when ``value`` is none of ``choices``, else
    ``None``: the one wording of every named choice (gates, modes, codecs)."""
    names = list(choices)
    if isinstance(value, str) and value in names:
        return None
    return f"{label} {value!r}: expected one of {', '.join(names)}"
