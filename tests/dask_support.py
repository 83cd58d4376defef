"""A real Dask cluster for the tests: a `dask scheduler` and `dask worker` processes.

Everything listens on 127.0.0.1 on ports the OS picks (``--port 0``; the address comes
from the scheduler file), keeps its files in the test's temporary folder, and runs in its
own process group so a test can kill a worker (nanny and worker process together, like a
lost node) and the fixture can stop everything at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from soakkit.sweep.cluster import WORKER_THREAD_ENV

DASK = str(Path(sys.executable).with_name("dask"))
#: Upper bound for a process to come up on a loaded 2-core machine (not a timing test).
START_TIMEOUT_S = 120.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env.update(WORKER_THREAD_ENV)
    return env


def wait_for(predicate, what: str, timeout_s: float = START_TIMEOUT_S,  # type: ignore[no-untyped-def]
             poll_s: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


class DaskCluster:
    """A scheduler and named workers started as separate processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = folder / "scheduler.json"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.address = ""

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=_env(),
                                cwd=self.folder, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def start(self, workers: int = 2) -> DaskCluster:
        self._spawn("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file",
                                  str(self.scheduler_file)])

        def address() -> str | None:
            try:
                return str(json.loads(self.scheduler_file.read_text())["address"])
            except (OSError, ValueError, KeyError):
                return None

        self.address = wait_for(address, "the scheduler file")
        for i in range(workers):
            self.add_worker(f"w{i}")
        return self

    def add_worker(self, name: str) -> None:
        log = self.folder / f"{name}.log"
        before = log.read_text(errors="replace").count("Registered to:") if log.exists() else 0
        self._spawn(name, [DASK, "worker", self.address, "--name", name, "--nthreads", "1",
                           "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                           "--local-directory", str(self.folder / name), "--death-timeout",
                           "60"])
        wait_for(lambda: self.log(name).count("Registered to:") > before,
                 f"worker {name} to register")

    def alive(self, name: str) -> bool:
        return name in self.procs and self.procs[name].poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (a lost node: nanny and worker at once)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=20)
