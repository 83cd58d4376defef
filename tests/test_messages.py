"""One message path (soakkit.core.messages) and one exit-code table (soakkit.core.errors)."""

from __future__ import annotations

import ast
import re

import pytest

from soakkit.core import messages
from soakkit.core.errors import (
    EXIT_CODE_MEANINGS,
    REPORT_STATUS_CODES,
    ROTATE_EXIT_CODES,
    ROTATE_OVER_BUDGET,
    ArtifactError,
    ExitCode,
    LockedError,
    rotate_exit_code,
)
from soakkit.core.signals import print_error, run_command
from soakkit.notebooks import EXIT_CODES

from .conftest import REPO


def test_every_kind_is_one_prefixed_line_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    messages.error("runs/x: no such run")
    messages.warning("two\nlines")
    messages.note("the cache was stale")
    messages.interrupted("SIGTERM", "run r stopped after 2 iteration(s)")
    messages.interrupted("SIGINT")
    messages.progress("[1/3] PASS net=+1.00bps")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "soakkit: error: runs/x: no such run",
        "soakkit: warning: two", "soakkit: warning: lines",
        "soakkit: note: the cache was stale",
        "soakkit: interrupted (SIGTERM): run r stopped after 2 iteration(s)",
        "soakkit: interrupted (SIGINT)",
        "[1/3] PASS net=+1.00bps"]


def test_print_error_and_run_command_use_the_same_path(capsys: pytest.CaptureFixture[str]) -> None:
    print_error(ArtifactError(""))
    assert capsys.readouterr().err == "soakkit: error: ArtifactError\n"

    def locked() -> int:
        raise LockedError("rotation/.lock", "rotation of x")

    assert run_command(locked) == ExitCode.FAILED
    assert capsys.readouterr().err == \
        "soakkit: error: locked: rotation of x (rotation/.lock) is held by another process\n"


def _stderr_by_hand(path: str, source: str) -> list[str]:
    """``print(..., file=sys.stderr)``, ``sys.stderr.write`` and ``"soakkit: error:"``
    literals in ``source`` (the message module itself excepted)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text == "sys.stderr.write" or (text == "print" and any(
                    k.arg == "file" and ast.unparse(k.value) == "sys.stderr"
                    for k in node.keywords)):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)[:60]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(
                r"soakkit: (error|warning|note): ", node.value):
            found.append(f"{path}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_module_prints_to_stderr_by_hand() -> None:
    offences = []
    for path in sorted((REPO / "soakkit").rglob("*.py")):
        if path != REPO / "soakkit" / "core" / "messages.py":
            offences += _stderr_by_hand(str(path.relative_to(REPO)), path.read_text())
    assert not offences, "use soakkit.core.messages:\n" + "\n".join(offences)


def test_the_check_sees_what_it_looks_for() -> None:
    source = ('import sys\nprint("x", file=sys.stderr)\nsys.stderr.write("y")\n'
              'print(f"soakkit: warning: {1}")\nprint("soakkit: error: z")\n')
    assert len(_stderr_by_hand("m.py", source)) == 4  # f-strings too
    assert _stderr_by_hand("m.py", 'print("progress", flush=True)\n') == []


def test_report_and_rotate_codes_come_from_the_one_table() -> None:
    assert dict(EXIT_CODES) == dict(REPORT_STATUS_CODES)
    assert all(isinstance(code, ExitCode) for code in REPORT_STATUS_CODES.values())
    # rotate: ExitCode's codes, with its own 2 (over budget); a usage error is 1 there
    assert set(ROTATE_EXIT_CODES) == {ExitCode.OK, ExitCode.FAILED, ROTATE_OVER_BUDGET,
                                      ExitCode.SIGINT, ExitCode.SIGTERM}
    assert rotate_exit_code(ExitCode.USAGE) == ExitCode.FAILED
    for code in (ExitCode.OK, ExitCode.FAILED, ExitCode.SIGINT, ExitCode.SIGTERM):
        assert rotate_exit_code(code) == code
    assert all(code in EXIT_CODE_MEANINGS for code in ROTATE_EXIT_CODES
               if code != ROTATE_OVER_BUDGET)
