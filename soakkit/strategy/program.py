"""A strategy program's process: started in its own session, spoken to over two pipes, each
exchange against a deadline a watchdog thread enforces, stopped with what it did quoted.

:mod:`soakkit.strategy.external` speaks the protocol over it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from soakkit.core.errors import StrategyError, UsageError
from soakkit.core.inputs import parse_float
from soakkit.sim.tape import NS
from soakkit.strategy import engine

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_TIMEOUT_S", "TIMEOUT_ENV", "Program", "exec_timeout",
           "shown"]

TIMEOUT_ENV = "SOAKKIT_EXEC_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 3600.0
_MAX_LINE = 64 * 1024 * 1024  #: longest answer read (a bigger one is junk)
_SHOWN = 80


def exec_timeout(env: Mapping[str, str]) -> float:
    """The answer deadline in seconds: ``SOAKKIT_EXEC_TIMEOUT_S`` (0.05..3600), default 10."""
    text = env.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        return parse_float(text, lo=0.05, hi=MAX_TIMEOUT_S)
    except ValueError as exc:
        raise UsageError(f"{TIMEOUT_ENV}={text!r}: {exc}") from None


def shown(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


class _Watchdog(threading.Thread):
    """Kills the program when an exchange with it outlasts the deadline.

    The engine reads and writes with plain blocking pipes (a lockstep round trip costs
    what the pipes cost: ``select`` before every read costs as much again); this thread
    looks at the deadline the engine sets before each exchange, a few times per deadline.
    """

    def __init__(self, program: Program) -> None:
        super().__init__(name=f"soakkit-watchdog-{program.proc.pid}", daemon=True)
        self.program = program
        self.deadline: float | None = None  #: monotonic time the current exchange must end by
        self.fired = False
        self.stop = threading.Event()
        self.poll_s = max(0.005, min(program.timeout / 10.0, 0.25))

    def run(self) -> None:
        while not self.stop.wait(self.poll_s):
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline:
                self.fired = True
                _kill(self.program.proc)
                return


class Program:
    """A running program and its two pipes, read and written against a deadline."""

    def __init__(self, argv: Sequence[str], label: str, timeout: float) -> None:
        self.label = label
        self.timeout = timeout
        self.errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.errors,
                                         start_new_session=True)
        except OSError as exc:
            self.errors.close()
            raise StrategyError(f"strategy {label}: cannot start {argv[0]!r}: "
                                f"{exc.strerror or exc}") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.where = "at start"
        self.step_at: tuple[int, int] | None = None  #: (step, ns): where, built if it fails
        self.watchdog = _Watchdog(self)
        self.watchdog.start()

    def fail(self, what: str) -> StrategyError:
        """Stop the program; the one line saying what it did."""
        self.watchdog.stop.set()
        if self.proc.poll() is None:
            _kill(self.proc)
        told = self._stderr()
        self.close(kill=True)
        if self.step_at is not None:
            step, ns = self.step_at
            self.where = f"at step {step} (t={ns / NS:.3f} s {engine.WINDOW})"
        return StrategyError(f"strategy {self.label} {what} {self.where}{told}")

    def _stderr(self) -> str:
        try:
            self.errors.seek(0, os.SEEK_END)
            self.errors.seek(max(0, self.errors.tell() - 4096))
            lines = [x for x in self.errors.read().decode("utf-8", "replace").splitlines()
                     if x.strip()]
        except (OSError, ValueError):
            return ""
        return f"; its stderr ends: {lines[-1].strip()[:200]!r}" if lines else ""

    def _dead(self, writing: bool) -> StrategyError:
        code = self.proc.wait()
        if self.watchdog.fired:
            return self.fail(f"stopped reading its input for {self.timeout:g} s" if writing
                             else f"did not answer within {self.timeout:g} s")
        how = (f"was killed by signal {-code}" if code < 0 else f"exited with status {code}")
        return self.fail(how)

    def send(self, message: Mapping[str, Any] | str) -> None:
        data = (message if isinstance(message, str) else
                json.dumps(message, separators=(",", ":"))).encode() + b"\n"
        self.watchdog.deadline = time.monotonic() + self.timeout
        try:
            self.stdin.write(data)
            self.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._dead(writing=True) from None
        finally:
            self.watchdog.deadline = None

    def receive(self) -> Any:
        self.watchdog.deadline = time.monotonic() + self.timeout
        try:
            line = self.stdout.readline(_MAX_LINE + 1)
        except (OSError, ValueError):
            line = b""
        finally:
            self.watchdog.deadline = None
        return self._decode(line)

    def exchange(self, data: bytes) -> Any:
        """Send one message (a JSON line, newline included) and read the answer: one
        deadline for both (a step's round trip)."""
        watchdog = self.watchdog
        watchdog.deadline = time.monotonic() + self.timeout
        try:
            self.stdin.write(data)
            self.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            watchdog.deadline = None
            raise self._dead(writing=True) from None
        try:
            line = self.stdout.readline(_MAX_LINE + 1)
        except (OSError, ValueError):
            line = b""
        finally:
            watchdog.deadline = None
        return self._decode(line)

    def _decode(self, line: bytes) -> Any:
        if not line.endswith(b"\n"):
            if len(line) > _MAX_LINE:
                raise self.fail(f"wrote a line longer than {_MAX_LINE} bytes")
            raise self._dead(writing=False)
        try:
            return json.loads(line)
        except ValueError:
            raise self.fail(f"wrote junk (not a JSON line: {shown(line)})") from None

    def close(self, kill: bool = False) -> None:
        self.watchdog.stop.set()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # type: ignore[union-attr]
            if kill:
                _kill(self.proc)
            else:
                try:
                    self.proc.wait(timeout=min(self.timeout, 5.0))
                except subprocess.TimeoutExpired:
                    _kill(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):
                    stream.close()
        self.errors.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the program and whatever it started
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
