"""Issue 28, case 1: a sweep's scheduler connection has one deadline, handshake included.

Real peers on 127.0.0.1, each on a port the OS picks: an HTTP server (accepts, reads, never
speaks Dask), a server that sends a banner (an SSH greeting) and one that accepts and stays
silent. Each ends in one line naming the flag and the address and exit code 2, before any
work starts; nothing waits past ``--connect-timeout`` plus the start-up of the command (the
subprocesses get a generous guard, not a timed assertion). Scheduler files that are not
JSON, lack an address or hold a number get a one-line error naming the file. The address
comes from Dask's own configuration (``DASK_SCHEDULER_ADDRESS`` is read by ``dask.config``).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CliResult, assert_one_line_error, subprocess_env

pytestmark = pytest.mark.slow  # each test starts whole processes: the full suite runs them

SMALL = ["sweep", "--profiles", "steady_safe", "--modes", "calm", "--seeds", "1", "--tune",
         "off", "--iterations", "1", "--sim-minutes", "1", "--quiet"]
#: A hang guard for the whole command, far above any deadline these tests set.
HANG_GUARD_S = 240


def _sweep(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> CliResult:
    proc = subprocess.run([sys.executable, "-m", "soakkit", *SMALL, "--artifacts",
                           str(tmp_path / "a"), *argv], capture_output=True, text=True,
                          env=subprocess_env(env), timeout=HANG_GUARD_S, check=False)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _refused(result: CliResult, tmp_path: Path, *fragments: str) -> None:
    assert result.code == 2, result
    assert_one_line_error(result, *fragments)
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "a" / "sweeps").exists()


@contextlib.contextmanager
def _server(greeting: bytes | None) -> Iterator[str]:
    """A TCP server on a free port: sends ``greeting`` to each peer (``None``: nothing),
    then keeps the connection open, reading what comes, until the test ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    peers: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            peers.append(peer)
            if greeting:
                with contextlib.suppress(OSError):
                    peer.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=10)
        for peer in peers:
            peer.close()
        listener.close()


@contextlib.contextmanager
def _http_server(tmp_path: Path) -> Iterator[str]:
    """``python -m http.server`` on a free port (the case in the issue)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # it says nothing until it serves; wait until it accepts
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"http.server did not start (exit code {proc.returncode})")
            threading.Event().wait(0.05)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_port_that_accepts_but_is_not_dask_ends_at_the_deadline(tmp_path: Path) -> None:
    with _http_server(tmp_path) as address:
        result = _sweep(tmp_path, "--scheduler", address, "--connect-timeout", "2")
    _refused(result, tmp_path, f"--scheduler {address}:", "no Dask scheduler answered "
             "within 2 s")


def test_a_silent_port_ends_at_the_deadline(tmp_path: Path) -> None:
    with _server(None) as address:
        result = _sweep(tmp_path, "--scheduler", address, "--connect-timeout", "1.5")
    _refused(result, tmp_path, f"--scheduler {address}:", "within 1.5 s")


def test_a_port_that_sends_a_banner_is_not_dask(tmp_path: Path) -> None:
    with _server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" * 4) as address:
        result = _sweep(tmp_path, "--scheduler", address, "--connect-timeout", "5")
    _refused(result, tmp_path, f"--scheduler {address}:", "not a Dask scheduler")
    assert "EiB" not in result.err and "allocate" not in result.err


@pytest.mark.parametrize(("content", "fragment"), [
    (b"{bad", "scheduler.json:1:2: Expecting property name"), (b"{}", "no \"address\""),
    (b'{"address": 5}', "\"address\" must be a string such as tcp://host:8786"),
    (b'{"address": ""}', "\"address\" must be a string such as tcp://host:8786"),
    (b"[1, 2]", "top level must be a JSON object"), (b"", "empty document"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"address": "tcp://127.0.0.1:9", "address": "x"}', "duplicate key 'address'")])
def test_a_bad_scheduler_file_is_one_line(tmp_path: Path, content: bytes,
                                          fragment: str) -> None:
    file = tmp_path / "scheduler.json"
    file.write_bytes(content)
    result = _sweep(tmp_path, "--scheduler-file", str(file), "--connect-timeout", "1")
    _refused(result, tmp_path, f"--scheduler-file {file}", fragment)


def test_a_scheduler_file_naming_a_port_that_is_not_dask(tmp_path: Path) -> None:
    file = tmp_path / "scheduler.json"
    with _server(None) as address:
        file.write_text(f'{{"address": "{address}", "type": "Scheduler"}}')
        result = _sweep(tmp_path, "--scheduler-file", str(file), "--connect-timeout", "1")
    _refused(result, tmp_path, f"--scheduler-file {file}", f"scheduler {address}",
             "within 1 s")


@pytest.mark.parametrize(("value", "fragment"), [
    ("5", "DASK_SCHEDULER_ADDRESS 5: not a scheduler address"),
    ("", "DASK_SCHEDULER_ADDRESS is empty"),
    ("[1]", "DASK_SCHEDULER_ADDRESS [1]: not a scheduler address")])
def test_a_bad_environment_address_is_one_line(tmp_path: Path, value: str,
                                               fragment: str) -> None:
    result = _sweep(tmp_path, "--connect-timeout", "1", env={"DASK_SCHEDULER_ADDRESS": value})
    _refused(result, tmp_path, fragment)


def test_the_environment_address_goes_through_dask_config(tmp_path: Path) -> None:
    """DASK_SCHEDULER_ADDRESS is Dask's ``scheduler-address`` setting: a Dask config file
    setting it is honoured the same way (and named as such)."""
    config = tmp_path / "dask-config"
    config.mkdir()
    with _server(None) as address:
        (config / "soak.yaml").write_text(f"scheduler-address: {address}\n")
        result = _sweep(tmp_path, "--connect-timeout", "1", env={"DASK_CONFIG": str(config)})
    _refused(result, tmp_path, f"Dask config scheduler-address {address}:", "within 1 s")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--scheduler", "nonsense"], "--scheduler nonsense: not a scheduler address such as "
                                  "tcp://host:8786 (missing port number"),
    (["--scheduler", "tcp://127.0.0.1:99999"], "port 99999 is not 1..65535"),
    (["--scheduler", ""], "--scheduler is empty"),
    (["--scheduler", "inproc://x"], "--scheduler inproc://x: not a scheduler address")])
def test_an_address_dask_cannot_parse_is_refused_before_connecting(tmp_path: Path,
                                                                   argv: list[str],
                                                                   fragment: str) -> None:
    _refused(_sweep(tmp_path, *argv, "--connect-timeout", "1"), tmp_path, fragment)
