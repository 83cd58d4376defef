"""What every benchmark shares: its command line and writing its measurements."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit.core.io import atomic_write_json


def save(path: Path | None, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` (``--out``) as canonical JSON, atomically; no-op for None."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, data)


@contextlib.contextmanager
def bytecode_cache() -> Iterator[Path]:
    """Inside the block, child processes run soakkit as an installed package runs: from
    bytecode, cached in a temporary ``PYTHONPYCACHEPREFIX`` (the first run of a command
    fills it: time a warm-up first; the source tree stays clean).

    numpy and polars load the bytecode pip compiled when it installed them. soakkit, an
    editable install without ``__pycache__``, would otherwise be compiled from source in
    every process where ``PYTHONDONTWRITEBYTECODE=1`` is set (as on the machine of
    docs/PERFORMANCE.md): about 0.1 s of a soak's start-up, 0.02 s of a dry run's, which
    no user's install pays."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="soakkit-bench-pyc-") as cache:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = cache
        try:
            yield Path(cache)
        finally:
            os.environ.clear()
            os.environ.update(saved)


#: The environment a baseline source tree runs with (``PYTHONPATH=DIR``) also needs: with
#: ``python -c`` and ``-m`` the working folder comes first on ``sys.path``, so run from the
#: repository the repository's ``soakkit`` would be imported instead of the baseline's
#: (Python 3.11's ``PYTHONSAFEPATH`` leaves it out).
SAFE_PATH = {"PYTHONSAFEPATH": "1"}


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """A command line described by the benchmark's docstring, with ``--out FILE``."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the measurements here as JSON")
    return p


def tape_market_parser(doc: str | None) -> argparse.ArgumentParser:
    """:func:`make_parser` for a benchmark that compares a real TAPE with its calibrated
    market (``--market``, ``--artifacts``) over ``--seeds`` synthetic windows of
    ``--minutes``."""
    p = make_parser(doc)
    p.add_argument("tape", type=Path, help="a tape folder (soakkit tape import ...)")
    p.add_argument("--market", required=True, help="the calibrated market's name")
    p.add_argument("--artifacts", type=Path, required=True,
                   help="where the market is (DIR/markets/NAME.json)")
    p.add_argument("--seeds", type=int, default=8, help="synthetic windows (seeds 0..N-1)")
    p.add_argument("--minutes", type=int, default=5, help="minutes per synthetic window")
    return p


@dataclass(frozen=True)
class Child:
    """A finished child process as a user meets it: wall seconds, CPU seconds (user and
    system, its waited-for descendants included: ``wait4`` reports both), peak RSS."""

    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kib: int
    stdout: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_child(cmd: list[str], *, check: bool = True, **kw: Any) -> Child:
    """Run ``cmd`` (stdout captured unless ``kw`` says where it goes) and measure it."""
    kw.setdefault("stdout", subprocess.PIPE)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)
    out = proc.stdout.read() if proc.stdout is not None else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stdout is not None:
        proc.stdout.close()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]}... exited with {proc.returncode}")
    return Child(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss,
                 out.decode(errors="replace") if isinstance(out, bytes) else "")


def load_average() -> float:
    """The 1-minute load average (printed beside every figure: the machine is shared)."""
    return os.getloadavg()[0]
