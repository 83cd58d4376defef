"""Issue 13, class 10 (and issue 28): random argument vectors, random JSON documents, random
tapes, scheduler addresses and files, and names that are not UTF-8, at the CLI and config.

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

Issue 28 widens it: the artifacts folder holds names that are not UTF-8 (a stray file, a
run's file, a folder, a profile) and paths given may be non-UTF-8 or hold control
characters; random tapes (rows, encodings, gzip damage, ``tape.json``) go to every command
that reads a tape or a public data file, with numpy's ``RuntimeWarning`` an error (a bad
value must be refused before it is computed with); random scheduler addresses and files
go to ``sweep`` against peers that accept and say nothing, send a banner, or refuse.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
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
    for stray in (art / os.fsdecode(b"stray-\xfe"), run / os.fsdecode(b"notes-\xff.txt"),
                  art / "profiles" / os.fsdecode(b"\xff.json"),
                  art / "markets" / os.fsdecode(b"m\xff.json")):
        stray.write_text("{}")  # names that are not UTF-8, where every command reads
    (art / "runs" / os.fsdecode(b"bad-\xff")).mkdir()
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
         "target/" + "n" * 300, "target/a\x00b", "target/" + "/".join(["d" * 200] * 25),
         "target/" + os.fsdecode(b"art-\xff"), "target/a\nb", "target/\x1b[2J"]
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
    if out[:1] in (["sweep"], ["optimize"]):  # every check runs, then no scheduler answers
        out += ["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.2"]
    if out[:1] == ["soak"]:
        out = ["soak", "--sim-minutes", "1", "--iterations", "2", "--quiet", *out[1:]]
    return out


@PROPERTY
@given(argv=argv_strategy())
@pytest.mark.slow
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
@pytest.mark.slow
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
@pytest.mark.slow
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


# ------------------------------------------------------------------ random tapes (issue 28)
ORIGIN_NS = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z
TIMES = st.integers(0, 10**12).map(lambda dt: ORIGIN_NS + dt) | st.sampled_from(
    [2**62, -5, 0, 2**63 - 1, ORIGIN_NS // 1000, ORIGIN_NS + 8 * 86_400 * 10**9])
PRICES = st.sampled_from([50_000.0, 50_000.5, 49_999.5, 0.0, -1.0, 1e300, 1e13, 5e-10])
SIZES = st.sampled_from([0.0145, 1.0, 0.0001, 0.0, 1e300, 1e16, 3.3333333333])
GARBAGE = st.sampled_from(["", "x", "nan", "inf", "1,5", "\u00e9", "\x00", "1e999", " 7 "])


def _cell(value: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """A cell: usually a number of the column's kind, sometimes garbage."""
    return value.map(str) | GARBAGE


@st.composite
def tape_rows(draw: Any, columns: tuple[str, ...]) -> list[list[str]]:
    kinds = {"ts_ns": TIMES, "side": st.sampled_from([1, -1, 0, 2]),
             "price": PRICES, "bid_px": PRICES, "ask_px": PRICES}
    rows = draw(st.lists(st.tuples(*(_cell(kinds.get(c, SIZES)) for c in columns)),
                         max_size=12))
    if draw(st.booleans()):  # time order, as a tape needs it (garbage stays where it is)
        rows.sort(key=lambda r: int(r[0]) if r[0].lstrip("-").isdigit() else 0)
    return [list(r) for r in rows]


def _encoded(draw: Any, text: str) -> bytes:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    data = text.encode(encoding, "replace")
    return data + draw(st.sampled_from([b"", b"", b"\xff\xfe\x00", b"\n\n,,,\n"]))


def _compressed(draw: Any, data: bytes) -> tuple[str, bytes]:
    """The file's suffix and bytes: plain, gzip, or gzip damaged (truncated, flipped)."""
    how = draw(st.sampled_from(["plain", "plain", "gzip", "truncated", "flipped", "fake"]))
    if how == "plain":
        return ".csv", data
    packed = gzip.compress(data, mtime=0)
    if how == "truncated":
        packed = packed[:draw(st.integers(0, max(0, len(packed) - 1)))]
    elif how == "flipped" and len(packed) > 12:
        at = draw(st.integers(10, len(packed) - 1))
        packed = packed[:at] + bytes([packed[at] ^ 0xFF]) + packed[at + 1:]
    elif how == "fake":
        packed = data
    return ".csv.gz", packed


@st.composite
def tape_folder(draw: Any) -> dict[str, bytes]:
    """Files of a tape folder: trades and quotes tables, maybe a ``tape.json``."""
    files: dict[str, bytes] = {}
    for name, columns in (("trades", ("ts_ns", "price", "qty", "side")),
                          ("quotes", ("ts_ns", "bid_px", "bid_qty", "ask_px", "ask_qty"))):
        header = list(columns) if draw(st.integers(0, 9)) else list(columns[:-1])
        lines = [",".join(header)] + [",".join(r) for r in draw(tape_rows(columns))]
        suffix, data = _compressed(draw, _encoded(draw, "\n".join(lines) + "\n"))
        files[name + suffix] = data
    if draw(st.booleans()):
        files["tape.json"] = draw(DOCUMENT | st.sampled_from(
            [b'{"tick": 0.5, "lot": 0.0001}', b'{"tick": 1, "lot": 1}', b'{"tick": "x"}',
             b'{"tick": -1}', b'{"lot": true}', b'{"tick": 1e-300, "lot": 1e300}']))
    return files


@st.composite
def public_files(draw: Any) -> tuple[str, dict[str, tuple[str, bytes]]]:
    """Tardis or Binance CSVs with random rows (times in the source's unit)."""
    source = draw(st.sampled_from(["tardis", "binance"]))
    us = st.integers(0, 10**9).map(lambda d: ORIGIN_NS // 1000 + d) | st.sampled_from(
        [2**62, -5, ORIGIN_NS // 10**6, 9 * 10**18, 0])
    if source == "tardis":
        trades = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"] + [
            f"x,SYN,{t},{t},{i},{side},{p},{q}" for i, (t, side, p, q) in enumerate(draw(
                st.lists(st.tuples(_cell(us), st.sampled_from(["buy", "sell", "unknown", ""]),
                                   _cell(PRICES), _cell(SIZES)), max_size=10)))]
        quotes = ["exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,"
                  "bid_amount"] + [f"x,SYN,{t},{t},{aq},{a},{b},{bq}" for t, aq, a, b, bq in draw(
                      st.lists(st.tuples(_cell(us), _cell(SIZES), _cell(PRICES), _cell(PRICES),
                                         _cell(SIZES)), max_size=10))]
    else:
        ms = us.map(lambda v: v // 1000) | us
        trades = ["agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
                  "is_buyer_maker"] + [f"{i},{p},{q},{i},{i},{t},{m}" for i, (p, q, t, m) in
                                       enumerate(draw(st.lists(st.tuples(
                                           _cell(PRICES), _cell(SIZES), _cell(ms),
                                           st.sampled_from(["true", "false", "x"])),
                                           max_size=10)))]
        quotes = ["update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,"
                  "transaction_time,event_time"] + [f"{i},{b},{bq},{a},{aq},{t},{t}" for i, (
                      b, bq, a, aq, t) in enumerate(draw(st.lists(st.tuples(
                          _cell(PRICES), _cell(SIZES), _cell(PRICES), _cell(SIZES), _cell(ms)),
                          max_size=10)))]
    names = {"tardis": ("trades", "quotes"),  # Binance names its files SYMBOL-kind-DATE
             "binance": ("SYNUSDT-aggTrades-2024-08-09", "SYNUSDT-bookTicker-2024-08-09")}
    files = {}
    for role, name, lines in zip(("trades", "quotes"), names[source], (trades, quotes),
                                 strict=True):
        suffix, data = _compressed(draw, _encoded(draw, "\n".join(lines) + "\n"))
        files[role] = (name + suffix, data)
    return source, files


TAPE_COMMANDS = [["tape", "check", "target/tape"],
                 ["calibrate", "target/tape", "--name", "fitted"],
                 ["soak", "--market-data", "target/tape", "--iterations", "1",
                  "--sim-minutes", "1", "--quiet"]]
TAPE_PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])


def _no_numpy_warnings() -> contextlib.AbstractContextManager[None]:
    """numpy's RuntimeWarning (an overflow, a NaN) is an error: a bad value must be refused
    before anything computes with it."""
    guard = warnings.catch_warnings()

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        with guard:
            warnings.simplefilter("error", RuntimeWarning)
            yield
    return block()


@TAPE_PROPERTY
@given(files=tape_folder(), pick=st.integers(0, len(TAPE_COMMANDS) - 1))
@pytest.mark.slow
def test_random_tapes_never_crash(files: dict[str, bytes], pick: int) -> None:
    with _sandbox() as root:
        folder = root / "target" / "tape"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        _stamp(root)
        argv = TAPE_COMMANDS[pick]
        before = _outside(root)
        with _no_numpy_warnings():
            code, err = _run_in_process(root, argv, {"SOAKKIT_NOW": NOW})
        _check(root, argv, code, err, before)
        assert code in (0, 2), (argv, code, err)


@TAPE_PROPERTY
@given(public=public_files(), extra=st.sampled_from([[], ["--lot", "1"], ["--tick", "0.5"],
                                                     ["--force"]]))
@pytest.mark.slow
def test_random_public_files_never_crash(public: tuple[str, dict[str, tuple[str, bytes]]],
                                         extra: list[str]) -> None:
    source, files = public
    with _sandbox() as root:
        paths = {}
        for role, (name, data) in files.items():
            paths[role] = root / "target" / name
            paths[role].write_bytes(data)
        _stamp(root)
        argv = ["tape", "import", "--from", source, "--trades", str(paths["trades"]),
                "--quotes", str(paths["quotes"]), "--out", "target/out", *extra]
        argv = [a.replace(str(root) + "/", "") for a in argv]
        before = _outside(root)
        with _no_numpy_warnings():
            code, err = _run_in_process(root, argv, {"SOAKKIT_NOW": NOW})
        _check(root, argv, code, err, before)
        assert code in (0, 2), (argv, code, err)
        if code != 0:
            assert not (root / "target" / "out").exists(), err  # nothing half-written


# ------------------------------------------------------------------ scheduler addresses and files
class _Peers:
    """Peers on 127.0.0.1 a sweep may be pointed at: a port that accepts and says nothing,
    one that sends a banner, and one where nothing listens."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self.silent = self._listen(None)
        self.banner = self._listen(b"SSH-2.0-OpenSSH_9.2p1\r\n" * 8)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.closed = probe.getsockname()[1]

    def _listen(self, greeting: bytes | None) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        self._sockets.append(listener)

        def serve() -> None:
            while not self._stop.is_set():
                try:
                    peer, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                self._sockets.append(peer)
                if greeting:
                    with contextlib.suppress(OSError):
                        peer.sendall(greeting)

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    def close(self) -> None:
        self._stop.set()
        for s in self._sockets:
            s.close()


PEERS = _Peers()


@st.composite
def scheduler_address(draw: Any) -> Any:
    """An address: a scheme, a local host and a port that lead somewhere hostile, or text
    and values no address parser should take (no random host names: no DNS lookups)."""
    scheme = draw(st.sampled_from(["tcp://", "", "tls://", "ws://", "inproc://", "udp://",
                                   "TCP://", "tcp:/"]))
    host = draw(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "", "127.0.0.1."]))
    port = draw(st.sampled_from([PEERS.silent, PEERS.banner, PEERS.closed, 0, 65536, -1,
                                 "x", "", "8786/x"]))
    built = f"{scheme}{host}:{port}" if port != "" else f"{scheme}{host}"
    return draw(st.sampled_from([built]) | st.text(alphabet="abc/:\x00\n", max_size=10)
                | st.sampled_from([5, None, True, [1], {"a": 1}, "", " "]))


SCHEDULER_PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow])
SWEEP = ["sweep", "--seeds", "1", "--tune", "off", "--iterations", "1", "--sim-minutes", "1",
         "--quiet", "--connect-timeout", "0.2"]


@SCHEDULER_PROPERTY
@given(address=scheduler_address(), how=st.sampled_from(["flag", "file", "config"]),
       document=st.none() | DOCUMENT)
@pytest.mark.slow
def test_random_scheduler_addresses_and_files_never_crash(address: Any, how: str,
                                                          document: bytes | None) -> None:
    import dask

    assume(how != "config" or address is not None)  # no address at all: a local cluster
    with _sandbox() as root:
        argv = list(SWEEP)
        config: dict[str, Any] = {}
        if how == "flag" and isinstance(address, str) and "\x00" not in address:
            argv += ["--scheduler", address]
        elif how == "file" or how == "flag":
            file = root / "target" / "scheduler.json"
            file.write_bytes(document if document is not None else
                             json.dumps({"address": address, "type": "Scheduler"}).encode())
            argv += ["--scheduler-file", "target/scheduler.json"]
        else:
            config = {"scheduler-address": address}
        before = _outside(root)
        # Dask's websocket connector (ws://) leaves the sockets of a handshake it gave up on
        # to the garbage collector; collected here, their ResourceWarning is Dask's, not a
        # failure of this property (no traceback, a documented code, one line)
        with dask.config.set(config), warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            code, err = _run_in_process(root, argv, {"SOAKKIT_NOW": NOW})
            gc.collect()
        _check(root, argv, code, err, before)
        if address is not None or how != "config":
            assert code == ExitCode.USAGE, (argv, address, code, err)  # nothing ran
            assert not (root / "target" / "art" / "sweeps").exists()
