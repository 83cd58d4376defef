"""Where a sweep runs: a Dask client for a given client, an existing cluster, or a local one.

Order: a ``client`` passed to :func:`~soakkit.sweep.run_sweep`; ``--scheduler ADDRESS``;
``--scheduler-file FILE``; ``DASK_SCHEDULER_ADDRESS``; else a
:class:`distributed.LocalCluster` on 127.0.0.1 with one single-threaded worker process
per core, whose numpy/BLAS/polars thread pools are pinned to one thread
(:data:`WORKER_THREAD_ENV`, set by the nannies before the workers start); with one local
worker (``--workers 1``, or a one-core machine), no cluster: the cells run in this process,
one batch after another (:data:`IN_PROCESS`), which costs no scheduler, nanny or worker
start-up and leaves no process behind. A scheduler that
cannot be reached is a :class:`~soakkit.core.errors.UsageError` (exit code 2) raised before
any work starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soakkit.core.errors import UsageError
from soakkit.sweep.spec import SweepSpec

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["IN_PROCESS", "SCHEDULER_ENV", "WORKER_THREAD_ENV", "Connection",
           "close_local_cluster", "connect", "local_workers", "quiet_dask_logs",
           "runs_in_process", "silence_dask_logs", "start_local_cluster"]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Where a sweep with one local worker runs: in the client's process, cell after cell.
IN_PROCESS = "local process, 1 worker (no Dask cluster)"
_DASHBOARD_PROBE_S = 3.0
#: Environment of every local worker: one thread for numpy's BLAS, OpenMP and polars.
WORKER_THREAD_ENV: Mapping[str, str] = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}


@dataclass
class Connection:
    """A connected client, what it is connected to, and its dashboard (if any); no client:
    the sweep runs in this process (one local worker)."""

    client: Client | None
    where: str  #: "local cluster, 2 workers" / "scheduler tcp://…" / "this process"
    dashboard: str | None

    def threads(self) -> int:
        """Worker threads the scheduler knows of now (0 while none has joined)."""
        if self.client is None:
            return 1
        try:
            return int(sum(self.client.nthreads().values()))
        except Exception:  # a transient scheduler hiccup must not end a sweep
            return 0


def local_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _address(client: Client) -> str:
    return str(getattr(client.scheduler, "address", "?"))


def _dashboard(client: Client, *, local: bool = False) -> str | None:
    """The dashboard's address when one is there (a local cluster's: when bokeh is)."""
    if local:
        return str(client.dashboard_link) if importlib.util.find_spec("bokeh") else None
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # a dashboard is optional
        return None
    if "dashboard" not in services:
        return None
    link = client.dashboard_link
    if not link:
        return None
    # the scheduler's web server runs without a dashboard too (--no-dashboard, no bokeh):
    # then /status is not found; a slow answer is still a dashboard
    try:
        with urllib.request.urlopen(str(link), timeout=_DASHBOARD_PROBE_S) as response:
            return str(link) if response.status == 200 else None
    except TimeoutError:
        return str(link)
    except urllib.error.URLError as exc:
        return str(link) if isinstance(exc.reason, TimeoutError) else None
    except (OSError, ValueError):
        return None


def _connect_remote(spec: SweepSpec, env: Mapping[str, str]) -> tuple[Client, str]:
    from distributed import Client

    timeout = f"{spec.connect_timeout_s}s"
    if spec.scheduler is not None:
        flag, address = "--scheduler", spec.scheduler
    elif spec.scheduler_file is not None:
        path = spec.scheduler_file
        if not path.is_file():
            raise UsageError(f"--scheduler-file {path}: no such file")
        try:
            client = Client(scheduler_file=str(path), timeout=timeout)
        except (OSError, ValueError, TimeoutError) as exc:
            raise UsageError(f"--scheduler-file {path}: cannot reach the Dask scheduler "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                             ) from None
        return client, f"scheduler {_address(client)} (from {path})"
    else:
        flag, address = SCHEDULER_ENV, env[SCHEDULER_ENV]
    try:
        client = Client(address, timeout=timeout)
    except (OSError, ValueError, TimeoutError, TypeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{flag} {address}: cannot reach the Dask scheduler ({why})") from None
    return client, f"scheduler {address}"


@contextlib.contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """Processes started in the block ignore SIGINT: a Ctrl-C on the terminal reaches the
    whole process group, and the client, not each worker, decides what it means."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start_local_cluster(workers: int) -> tuple[Client, object]:
    """A client and the :class:`~distributed.LocalCluster` it runs on, as a sweep starts it."""
    import dask
    from distributed import Client, LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))
    environ.update(WORKER_THREAD_ENV)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
            _children_ignore_ctrl_c():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.CRITICAL)
    return Client(cluster), cluster


def silence_dask_logs() -> Callable[[], None]:
    """Set Dask's loggers to CRITICAL; returns what sets them back.

    Dask logs a lost connection with a traceback at INFO level, and closing a local cluster
    loses several (the scheduler's streams to workers that already left): normal shutdown,
    not news. ``LocalCluster(silence_logs=...)`` restores the levels early in its close.
    """
    import distributed  # noqa: F401 - applies Dask's logging config, which sets the levels

    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "distributed" or name.startswith("distributed.")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)

    def restore() -> None:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

    return restore


@contextlib.contextmanager
def quiet_dask_logs() -> Iterator[None]:
    """:func:`silence_dask_logs` inside the block only."""
    restore = silence_dask_logs()
    try:
        yield
    finally:
        restore()


def close_local_cluster(client: Client, cluster: object) -> None:
    """Close what :func:`start_local_cluster` started, client first, without log noise."""
    with quiet_dask_logs():
        client.close()
        cluster.close()  # type: ignore[attr-defined]


def runs_in_process(spec: SweepSpec, env: Mapping[str, str]) -> bool:
    """True when ``spec`` runs without Dask: no scheduler given and one local worker."""
    return not (spec.scheduler or spec.scheduler_file or env.get(SCHEDULER_ENV)) and \
        (spec.workers or local_workers()) == 1


@contextlib.contextmanager
def connect(spec: SweepSpec, client: Client | None = None,
            env: Mapping[str, str] | None = None) -> Iterator[Connection]:
    """A :class:`Connection` for ``spec``; closes what it started on exit."""
    env = os.environ if env is None else env
    if client is not None:
        yield Connection(client, f"scheduler {_address(client)}", _dashboard(client))
        return
    if runs_in_process(spec, env):  # one worker process would only add a scheduler and a nanny
        yield Connection(None, IN_PROCESS, None)
        return
    if spec.scheduler or spec.scheduler_file or env.get(SCHEDULER_ENV):
        remote, where = _connect_remote(spec, env)
        try:
            yield Connection(remote, where, _dashboard(remote))
        finally:
            remote.close()
        return
    workers = spec.workers or local_workers()
    local, cluster = start_local_cluster(workers)
    try:
        yield Connection(local, f"local cluster, {workers} worker process(es)",
                         _dashboard(local, local=True))
    finally:
        close_local_cluster(local, cluster)
