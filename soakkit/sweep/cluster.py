"""Where a sweep runs: a Dask client for a given client, an existing cluster, or a local one.

Order: a ``client`` passed to :func:`~soakkit.sweep.run_sweep`; ``--scheduler ADDRESS``;
``--scheduler-file FILE`` (read by Dask's client); Dask's ``scheduler-address`` setting
(``DASK_SCHEDULER_ADDRESS``, or a Dask config file); else a
:class:`distributed.LocalCluster` on 127.0.0.1 with one single-threaded worker process
per core, whose numpy/BLAS/polars thread pools are pinned to one thread
(:data:`WORKER_THREAD_ENV`, set by the nannies before the workers start); with one local
worker (``--workers 1``, or a one-core machine), no cluster: the cells run in this process,
one batch after another (:data:`IN_PROCESS`), which costs no scheduler, nanny or worker
start-up and leaves no process behind. A scheduler that
cannot be reached, or does not complete Dask's handshake within the deadline
(:func:`handshake_deadline` of ``--connect-timeout``), is a
:class:`~soakkit.core.errors.UsageError` (exit code 2) raised before any work starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from soakkit.core.errors import JsonFormatError, SoakkitError, UsageError
from soakkit.core.json_strict import load_json_file
from soakkit.sweep.spec import SweepSpec

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DROPPED_WORKER_ENV", "IN_PROCESS", "LOCAL_CLUSTER_CONFIG", "SCHEDULER_CONFIG",
           "SCHEDULER_ENV", "WORKER_THREAD_ENV", "Connection", "SchedulerSource",
           "close_local_cluster", "connect", "handshake_deadline", "local_workers",
           "quiet_dask_logs", "runs_in_process", "scheduler_source", "silence_dask_logs",
           "start_local_cluster"]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Where a sweep with one local worker runs: in the client's process, cell after cell.
IN_PROCESS = "local process, 1 worker (no Dask cluster)"
#: Dask's setting for the address of an existing scheduler (the variable above sets it).
SCHEDULER_CONFIG = "scheduler-address"
_DASHBOARD_PROBE_S = 3.0
#: Environment of every local worker: one thread for numpy's BLAS, OpenMP and polars.
WORKER_THREAD_ENV: Mapping[str, str] = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}
#: Variables of Dask's worker environment a local sweep's workers go without, where the user
#: left Dask's value: glibc's trim threshold, once set, also pins its mmap threshold at
#: 128 KiB, so every numpy array above that is mapped and faulted in anew (a plain loop of
#: cells with it: +4–6 % time and 3–6× the page faults; docs/PERFORMANCE.md, "Sweeps").
DROPPED_WORKER_ENV = ("MALLOC_TRIM_THRESHOLD_",)
#: Dask settings of a local cluster, each applied only where the user left Dask's own default
#: (a Dask config file, a ``DASK_…`` variable, or ``dask.config.set`` to another value win; a
#: ``dask.config.set`` to Dask's own default value cannot be told from none): the scheduler's
#: and nannies' event-loop check every second instead of every 20 ms, the workers' profiler
#: off (it samples every thread every 10 ms; the dashboard's profile page stays empty) and
#: the system monitor every 2 s instead of 0.5 s. Together they cost a two-worker sweep on
#: two cores ~2 s of CPU per 13 s (docs/PERFORMANCE.md, "Sweeps").
LOCAL_CLUSTER_CONFIG: Mapping[str, object] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s"}


@dataclass
class Connection:
    """A connected client, what it is connected to, and its dashboard (if any); no client:
    the sweep runs in this process (one local worker)."""

    client: Client | None
    where: str  #: "local cluster, 2 workers" / "scheduler tcp://…" / "local process"
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


@dataclass(frozen=True)
class SchedulerSource:
    """The scheduler of an existing cluster: who named it, its address, and what Dask's
    :class:`~distributed.Client` is given for it (``address`` or ``scheduler_file``)."""

    named_by: str  #: "--scheduler", "--scheduler-file F", "DASK_SCHEDULER_ADDRESS", ...
    address: str
    client_kwargs: Mapping[str, str]

    @property
    def where(self) -> str:
        """``--scheduler tcp://…``; ``--scheduler-file F (scheduler tcp://…)``."""
        if "scheduler_file" in self.client_kwargs:
            return f"{self.named_by} (scheduler {self.address})"
        return f"{self.named_by} {self.address}"


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=repr)


def _checked_address(named_by: str, address: str) -> str:
    """``address`` if Dask can parse it as host and port (Dask's own parser), else one line."""
    from distributed.comm.addressing import get_address_host_port

    try:
        _, port = get_address_host_port(address)
    except ValueError as exc:
        raise UsageError(f"{named_by} {address}: not a scheduler address such as "
                         f"tcp://host:8786 ({exc})") from None
    if not 0 < port < 65536:
        raise UsageError(f"{named_by} {address}: port {port} is not 1..65535")
    return address


def _file_address(path: Path) -> str:
    """The address in a scheduler file, which must be a JSON object with an ``"address"``.

    Dask's own reader (the client's) reads the file again to connect; a file it cannot use
    would make it retry and then fail inside the client, so the file is checked first.
    """
    flag = f"--scheduler-file {path}"
    if not path.is_file():
        raise UsageError(f"{flag}: no such file" if not path.exists() else f"{flag}: not a file")
    try:
        doc = load_json_file(path)
    except JsonFormatError as exc:
        raise UsageError(f"--scheduler-file {exc}") from None
    except SoakkitError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if "address" not in doc:
        raise UsageError(f'{flag}: no "address" (a Dask scheduler file holds the address its '
                         "scheduler listens on)")
    address = doc["address"]
    if not isinstance(address, str) or not address.strip():
        raise UsageError(f'{flag}: "address" must be a string such as tcp://host:8786, not '
                         f"{_value_text(address)}")
    return _checked_address(flag + ": address", address)


def scheduler_source(spec: SweepSpec) -> SchedulerSource | None:
    """The existing cluster ``spec`` names, by Dask's conventions; ``None``: start a local one.

    ``--scheduler``, else ``--scheduler-file`` (read by Dask's client), else Dask's
    ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``, or a Dask config file).
    """
    import dask

    if spec.scheduler is not None:
        if not spec.scheduler.strip():
            raise UsageError("--scheduler is empty (give an address such as tcp://host:8786)")
        address = _checked_address("--scheduler", spec.scheduler)
        return SchedulerSource("--scheduler", address, {"address": address})
    if spec.scheduler_file is not None:
        return SchedulerSource(f"--scheduler-file {spec.scheduler_file}",
                               _file_address(spec.scheduler_file),
                               {"scheduler_file": str(spec.scheduler_file)})
    address = dask.config.get(SCHEDULER_CONFIG, default=None)
    if address is None:
        return None
    named_by = SCHEDULER_ENV if "scheduler_address" in dask.config.collect_env() else \
        f"Dask config {SCHEDULER_CONFIG}"
    if isinstance(address, str) and not address.strip():
        raise UsageError(f"{named_by} is empty (unset it to start a local cluster, or give an "
                         "address such as tcp://host:8786)")
    if not isinstance(address, str):
        raise UsageError(f"{named_by} {_value_text(address)}: not a scheduler address "
                         "(expected text such as tcp://host:8786)")
    return SchedulerSource(named_by, _checked_address(named_by, address), {"address": address})


def handshake_deadline(connect_timeout_s: float) -> float:
    """Seconds the whole start of a client may take: Dask's TCP connect gets
    ``connect_timeout_s`` (and says so when nothing accepts); the handshake the rest."""
    return connect_timeout_s * 1.1 + 1.0


@functools.cache
def _deadline_client() -> type[Client]:
    """:class:`distributed.Client` whose whole start has a deadline.

    Dask bounds the TCP connect by ``timeout`` but not the handshake that follows it, so a
    port that accepts and never answers in Dask's protocol (a web server, a silent service)
    would hang the client forever. Here reading the scheduler file, connecting, the
    handshake, the scheduler's identity and the client's registration share one deadline,
    :func:`handshake_deadline`. A client whose start fails is kept in ``failed`` for the
    caller to close (its constructor raised, so nobody else holds it).
    """
    from distributed import Client

    class DeadlineClient(Client):
        failed: ClassVar[list[Client]] = []

        async def _start(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await asyncio.wait_for(super()._start(*args, **kwargs),
                                              handshake_deadline(float(self._timeout)))
            except BaseException:
                DeadlineClient.failed.append(self)
                raise

    return DeadlineClient


def _close_failed(timeout_s: float) -> None:
    """Close the clients whose start failed: their event-loop thread ends with them."""
    failed = _deadline_client().failed  # type: ignore[attr-defined]
    while failed:
        client = failed.pop()
        with contextlib.suppress(Exception), quiet_dask_logs():
            client.close(timeout=handshake_deadline(timeout_s))
        # a start Dask itself gave up on is closed already, and close() then leaves the
        # client's event-loop thread running
        with contextlib.suppress(Exception):
            client._loop_runner.stop()


def _open_client(source: SchedulerSource, timeout_s: float) -> Client:
    """A client connected to ``source`` within the deadline, else one :class:`UsageError`."""
    try:
        return _deadline_client()(**source.client_kwargs, timeout=timeout_s)
    except TimeoutError:  # the deadline: it accepted, but the handshake never completed
        why = (f"no Dask scheduler answered within {timeout_s:g} s (something accepts "
               "connections there, but did not complete Dask's handshake)")
    except OSError as exc:  # refused, unreachable, or Dask's connect timeout
        why = ("cannot reach the Dask scheduler "
               f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    except Exception:  # it answered, but not in Dask's protocol (a banner, say)
        why = "not a Dask scheduler (it answered with something that is not Dask's protocol)"
    finally:
        _close_failed(timeout_s)
    raise UsageError(f"{source.where}: {why}")


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
    prefix = "distributed.nanny.pre-spawn-environ."
    for key in _unchanged_by_user({prefix + name: None for name in DROPPED_WORKER_ENV}):
        environ.pop(key.removeprefix(prefix), None)
    environ.update(WORKER_THREAD_ENV)
    settings = {**_unchanged_by_user(LOCAL_CLUSTER_CONFIG),
                "distributed.nanny.pre-spawn-environ": environ}
    with dask.config.set(settings), _children_ignore_ctrl_c():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.CRITICAL)
    return Client(cluster), cluster


def _unchanged_by_user(settings: Mapping[str, object]) -> dict[str, object]:
    """The items of ``settings`` the user did not set: not in a Dask config file or a
    ``DASK_…`` variable, and still at the value Dask ships (a ``dask.config.set`` to that
    same value looks like none)."""
    import dask

    user = dask.config.collect()  # the config files and DASK_ variables, not the defaults

    def shipped(key: str) -> object:
        for defaults in reversed(dask.config.defaults):  # later defaults win
            value = dask.config.get(key, None, config=defaults)
            if value is not None:
                return value
        return None

    return {key: value for key, value in settings.items()
            if dask.config.get(key, None, config=user) is None
            and dask.config.get(key, None) == shipped(key)}


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


def runs_in_process(spec: SweepSpec) -> bool:
    """True when ``spec`` runs without Dask: one local worker and no scheduler named (by a
    flag, ``DASK_SCHEDULER_ADDRESS`` or Dask's config)."""
    return (spec.workers or local_workers()) == 1 and scheduler_source(spec) is None


@contextlib.contextmanager
def connect(spec: SweepSpec, client: Client | None = None) -> Iterator[Connection]:
    """A :class:`Connection` for ``spec``; closes what it started on exit.

    Raises
    ------
    UsageError
        The named scheduler is missing, unreachable or not a Dask scheduler (one line naming
        the flag, file or setting and the address), within ``spec.connect_timeout_s``.
    """
    if client is not None:
        yield Connection(client, f"scheduler {_address(client)}", _dashboard(client))
        return
    source = scheduler_source(spec)
    if source is not None:
        remote = _open_client(source, spec.connect_timeout_s)
        where = f"scheduler {source.address}" + (
            f" (from {spec.scheduler_file})" if spec.scheduler_file is not None else "")
        try:
            yield Connection(remote, where, _dashboard(remote))
        finally:
            remote.close()
        return
    workers = spec.workers or local_workers()
    if workers == 1:  # one worker process would only add a scheduler and a nanny to it
        yield Connection(None, IN_PROCESS, None)
        return
    local, cluster = start_local_cluster(workers)
    try:
        yield Connection(local, f"local cluster, {workers} worker process(es)",
                         _dashboard(local, local=True))
    finally:
        close_local_cluster(local, cluster)
