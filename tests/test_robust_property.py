"""Issue 13, class 10: random argument vectors and random JSON documents at the CLI and config.

Whatever hypothesis throws (a real command with random flags and values, random JSON in every
file and variable soakkit reads), soakkit never prints a traceback, always exits with a
documented code, writes every stderr line as ``soakkit: ...``, and never changes a file
outside the paths the command was given. In-process (``soakkit.cli.main``) for speed, with a
small sample run as real processes. Reproducible and bounded for CI: derandomized, a fixed
number of examples, no deadline (the shared CI machine is slow, speed is not the property).

Work is kept small without hiding anything: a report gets ``--kernel`` of a kernel that does
not exist appended (every check runs, no kernel starts); ``demo`` gets an ``--out`` that is a
file appended (its checks run, then it stops before a kernel); a ``sweep`` gets a scheduler
address where nothing listens (its checks run, then it stops before a cluster); a soak's
iteration count, minutes and sleep are capped, and so are a sample tape's minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soakkit.cli import build_parser, main
from soakkit.core.errors import ROTATE_EXIT_CODES, ExitCode
from soakkit.core.inputs import path_arg

from .conftest import subprocess_env
from .rotation_helpers import NOW_ISO as NOW
from .rotation_helpers import stamp

DOCUMENTED = {int(c) for c in ExitCode}
PARSER = build_parser()
ROTATE_CODES = {int(c) for c in ROTATE_EXIT_CODES}
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------ the sandbox
@contextlib.contextmanager
def _sandbox() -> Iterator[Path]:
    """cwd for a command: ``target/`` (what commands may touch) and ``outside/`` (never)."""
    with tempfile.TemporaryDirectory(prefix="soakkit-prop-") as name:
        root = Path(name)
        _populate(root)
        yield root


def _populate(root: Path) -> None:
    art = root / "target" / "art"
    run = art / "runs" / "20261124T120000Z-steady_safe-calm-s1-tuned"
    run.mkdir(parents=True)
    (art / "profiles").mkdir()
    (art / "markets").mkdir()
    (root / "target" / "file").write_text("not a folder")
    (root / "outside").mkdir()
    (root / "outside" / "keep.json").write_text('{"keep": 1}')
    _stamp(root)


def _stamp(root: Path) -> None:
    """Files are as old as the injected clock says (tests/clock_guard.py)."""
    for path in root.rglob("*"):
        stamp(path, 0.5)


def _outside(root: Path) -> dict[str, bytes | None]:
    """Everything in the sandbox except ``target/`` (and the catalog cache's own folder)."""
    out: dict[str, bytes | None] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] == "target":
            continue
        out[str(rel)] = path.read_bytes() if path.is_file() else None
    return out


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_in_process(root: Path, argv: list[str], env: Mapping[str, str]) -> tuple[int, str]:
    err = io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with _environment({"SOAKKIT_ARTIFACTS": "target/art", **env}), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def _help_codes(argv: list[str]) -> set[int]:
    """The exit codes the ``--help`` of the command ``argv`` names lists (its own paragraph,
    else its parent's): a code a command returns must be one its help documents."""
    parser, codes = PARSER, set()
    for word in ["", *argv]:
        if word:
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not subs or word not in subs[0].choices:
                break
            parser = subs[0].choices[word]
        paragraph = (parser.epilog or "").partition("exit codes:")[2]
        if paragraph:
            codes = {int(c) for c in re.findall(r"(?:^|,)\s*(\d+) ", paragraph, re.M)}
    return codes


def _check(root: Path, argv: list[str], code: int, err: str,
           before: Mapping[str, bytes | None]) -> None:
    assert "Traceback" not in err, (argv, err)
    allowed = ROTATE_CODES if argv[:1] == ["rotate"] else DOCUMENTED
    assert code in allowed, (argv, code, err)
    assert code in _help_codes(argv), (argv, code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert all(line.startswith("soakkit: ") for line in lines), (argv, err)
    assert _outside(root) == before, argv


# ------------------------------------------------------------------ random argument vectors
PATHS = ["target/art", "target/out", "target/file", "target/missing/deeper", "", "", " ",
         "target/" + "n" * 300, "target/a\x00b", "target/" + "/".join(["d" * 200] * 25)]
NUMBERS = ["0", "1", "2", "-1", "0700", "+7", " 7", "7.0", "2.5", "1e3", "nan", "inf", "\uff17",
           "99999999999999999999999", "", "4294967296", "1" * 50]
WORDS = ["steady_safe", "aggressive", "calm", "mixed", "smoke", "production", "latest", "x",
         "../p", "min_interval_ms=70", "tail_age_ms=0700", "noon", NOW, "gzip", "zstd",
         "soak", "kpi", "disk", "explore", "iterations", "gate", "artifacts", "run", "days",
         "20261124T120000Z-steady_safe-calm-s1-tuned", "--", "-x", "\u00e9\u00e9"]
#: Any value; a path flag draws from PATHS only (a random word would be a path the user
#: named, outside the sandbox's target).
VALUES = st.sampled_from(PATHS + NUMBERS + WORDS) | st.text(max_size=12)


def _commands() -> list[tuple[list[str], list[argparse.Action]]]:
    found = []

    def visit(parser: argparse.ArgumentParser, words: list[str]) -> None:
        actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
        subs = [a for a in actions if isinstance(a, argparse._SubParsersAction)]
        found.append((words, [a for a in actions if a not in subs]))
        for sub in subs:
            for name, child in sub.choices.items():
                visit(child, [*words, name])
    visit(build_parser(), [])
    return found


COMMANDS = _commands()


@st.composite
def argv_strategy(draw: Any) -> list[str]:
    words, actions = draw(st.sampled_from(COMMANDS))
    argv = list(words)
    for action in draw(st.lists(st.sampled_from(actions), max_size=4)) if actions else []:
        if action.option_strings:
            argv.append(draw(st.sampled_from(action.option_strings)))
        nargs = 0 if action.nargs == 0 else (action.nargs if isinstance(action.nargs, int)
                                             else 1)
        choices = list(action.choices) if action.choices else None
        values = st.sampled_from(PATHS) if action.type is path_arg else VALUES
        for _ in range(nargs):
            argv.append(draw(st.sampled_from(choices) | values) if choices else draw(values))
    positional_path = any(a.type is path_arg and not a.option_strings for a in actions)
    if draw(st.booleans()) and not positional_path:  # a stray word there would be a path
        argv.insert(draw(st.integers(0, len(argv))), draw(VALUES))
    return _bounded(argv)


def _bounded(argv: list[str]) -> list[str]:
    """Keep the work small (see the module docstring); every check still runs."""
    out = list(argv)
    caps = {"--iterations": "2", "--sim-minutes": "1", "--sleep-seconds": "0", "--minutes": "1"}
    for i, token in enumerate(out[:-1]):
        if token in caps and out[:1] != ["catalog"]:
            text = out[i + 1]
            if text.isascii() and text.isdigit() and int(text) > 2:
                out[i + 1] = caps[token]
            elif token == "--sleep-seconds" and text.replace(".", "", 1).isdigit():
                out[i + 1] = "0"
        if token == "-p" and i + 2 < len(out) and out[i + 1] in ("iterations", "sim_minutes"):
            out[i + 2] = "1" if out[i + 2].isdigit() else out[i + 2]
    if out[:1] == ["report"]:
        out += ["--kernel", "soakkit-no-such-kernel"]
    if out[:1] == ["demo"]:
        out += ["--out", "target/file"]
    if out[:1] == ["sweep"]:  # every check runs, then no scheduler answers (no cluster starts)
        out += ["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.2"]
    if out[:1] == ["soak"]:
        out = ["soak", "--sim-minutes", "1", "--iterations", "2", "--quiet", *out[1:]]
    return out


@PROPERTY
@given(argv=argv_strategy())
def test_random_command_lines_never_crash(argv: list[str]) -> None:
    with _sandbox() as root:
        before = _outside(root)
        code, err = _run_in_process(root, argv, {"SOAKKIT_NOW": NOW})
        _check(root, argv, code, err, before)


# ------------------------------------------------------------------ random JSON documents
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["schema_version", "params", "values", "revision",
                                       "base_profile", "base_profile_sha256", "applied",
                                       "iteration", "run_id", "summary", "gate", "options",
                                       "status", "tail_age_ms", "min_interval_ms", "engine",
                                       "_sources", "profile", "regimes", "transitions",
                                       "calm", "mid0", "tick", "lot", "fit"])
                      | st.text(max_size=6),
                      children, max_size=5),
    max_leaves=20)
DOCUMENT = JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=60) | st.sampled_from(
    [b"", b"\xef\xbb\xbf{}", b'{"a": NaN}', b'{"a": 1, "a": 2}', b"[" * 5000,
     b'{"schema_version": 1.0, "params": {}}', b'{"tail_age_ms": 1e999}'])

FILES = {  # where a document goes -> the commands that read it
    "target/art/profiles/p.json": [["config", "show", "--profile", "p"],
                                   ["config", "list-profiles", "--json"],
                                   ["soak", "--profile", "p", "--iterations", "1",
                                    "--sim-minutes", "1", "--quiet"]],
    "target/art/runtime_overrides.json": [
        ["config", "show", "--profile", "steady_safe", "--runtime-overrides",
         "target/art/runtime_overrides.json"], ["config", "migrate", "--path", "target/art"]],
    "target/art/runs/20261124T120000Z-steady_safe-calm-s1-tuned/RUN.json": [
        ["soak", "--resume", "20261124T120000Z-steady_safe-calm-s1-tuned", "--quiet"],
        ["config", "show", "--profile", "steady_safe", "--run", "latest"]],
    "target/art/runs/20261124T120000Z-steady_safe-calm-s1-tuned/ITER_SUMMARY_1.json": [
        ["catalog", "--json", "--no-cache"], ["metrics", "--out", "target/out", "--no-cache"],
        ["rotate", "--path", "target/art", "--dry-run", "--now", NOW]],
    "target/art/markets/m.json": [["soak", "--market", "m", "--iterations", "1",
                                   "--sim-minutes", "1", "--quiet"],
                                  ["soak", "--market", "target/art/markets/m.json", "--quiet",
                                   "--iterations", "1", "--sim-minutes", "1"]],
    "target/art/steady_safe_overrides.json": [["config", "migrate", "--path", "target/art",
                                               "--dry-run"],
                                              ["config", "migrate", "--path", "target/art"]],
}
ENV_VARS = ["SOAKKIT_OVERRIDES_JSON", "MM_RUNTIME_OVERRIDES_JSON"]


@PROPERTY
@given(where=st.sampled_from(sorted(FILES)), document=DOCUMENT, pick=st.integers(0, 2),
       env_doc=st.none() | JSON.map(json.dumps), env_var=st.sampled_from(ENV_VARS))
def test_random_documents_never_crash(where: str, document: bytes, pick: int,
                                      env_doc: str | None, env_var: str) -> None:
    with _sandbox() as root:
        (root / "target" / "out").mkdir()
        (root / where).write_bytes(document)
        stamp(root / where, 0.5)
        argv = FILES[where][pick % len(FILES[where])]
        before = _outside(root)
        env = {"SOAKKIT_NOW": NOW, **({env_var: env_doc} if env_doc is not None else {})}
        code, err = _run_in_process(root, argv, env)
        _check(root, argv, code, err, before)


# ------------------------------------------------------------------ a sample as real processes
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(argv=argv_strategy())
def test_a_sample_as_real_processes(argv: list[str]) -> None:
    argv = [a for a in argv if "\x00" not in a]  # a command line cannot hold NUL
    with _sandbox() as root:
        before = _outside(root)
        proc = subprocess.run([sys.executable, "-m", "soakkit", *argv], cwd=root, text=True,
                              capture_output=True, check=False, timeout=300,
                              env=subprocess_env({"SOAKKIT_NOW": NOW,
                                                  "SOAKKIT_ARTIFACTS": "target/art"}))
        _check(root, argv, proc.returncode, proc.stderr, before)
