"""Run a sweep on Dask: validate, connect, then keep a bounded window of batches in flight.

The client submits at most ``window`` tasks at a time (each a batch of cells), writes each
finished batch as one parquet file, releases its future and submits the next. Neither
the client nor the scheduler ever holds the whole grid: batches are generated lazily and
the scheduler sees one window of tasks. A worker that dies costs a retry of its tasks
(Dask reschedules them); a task that fails as a whole (its worker died too often, say)
records every cell of its batch as failed. Ctrl-C cancels what is in flight; the batches
written so far stay, and the same command continues.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soakkit.config.layers import ENV_JSON, ENV_LEGACY_JSON, ENV_PARAM_PREFIX
from soakkit.core.errors import ClusterError
from soakkit.core.io import Clock, clock_from, format_utc
from soakkit.core.signals import signal_name
from soakkit.sweep.cluster import Connection, connect
from soakkit.sweep.grid import Grid, build_grid, set_column
from soakkit.sweep.plan import Batch, batch_size, batches, payload, window_size
from soakkit.sweep.progress import StartInfo, SweepProgress
from soakkit.sweep.result import SweepResult
from soakkit.sweep.rows import Columns, add_cell, cell_identity, new_columns
from soakkit.sweep.spec import SweepSpec
from soakkit.sweep.store import SweepStore, frame_of, sweeps_root
from soakkit.sweep.task import run_batch

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["run_sweep"]

_REFRESH_THREADS_S = 5.0
_SHOWN_FAILURES = 10
_POLL_S = 0.02


class _LostCluster(Exception):
    """The client lost its scheduler: what is in flight will not come back."""


def _failed_batch(grid: Grid, batch: Batch, exc: BaseException) -> Columns:
    """Rows recording every cell of ``batch`` as failed with ``exc``."""
    set_columns = tuple(map(set_column, grid.set_names))
    axis = grid.spec.strategy_axis
    columns = new_columns(set_columns, axis)
    why = f"task failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:600]
    for c in batch.cells:
        identity = cell_identity(c.key, c.strategy if axis else None, c.profile, c.mode,
                                 c.tune, set_columns, c.sets, c.seed)
        add_cell(columns, identity, [], None, why)
    return columns


def _ignored_env(env: Mapping[str, str]) -> list[str]:
    names = sorted(n for n in env if n.startswith(ENV_PARAM_PREFIX)
                   or n in (ENV_JSON, ENV_LEGACY_JSON))
    return [f"{n} is not applied to sweep cells (use --set NAME=V1,V2 to sweep or pin a "
            "parameter)" for n in names]


class _Execution:
    """One session of a sweep: the window of futures and what to do with their results."""

    def __init__(self, grid: Grid, conn: Connection, store: SweepStore, session: int,
                 now: str, clock: Clock, progress: SweepProgress) -> None:
        self.grid, self.conn, self.store, self.session = grid, conn, store, session
        self.now, self.clock, self.progress = now, clock, progress
        self.runs_dir = str(store.folder.resolve()) if grid.spec.write_runs else None
        self.ran = self.failed = 0
        self.failures: list[str] = []  #: the first few failed cells, for messages
        self.pending: dict[str, tuple[Any, Batch]] = {}

    def _submit(self, client: Client, batch: Batch, queue: Any) -> None:
        from distributed.client import ClosedClientError

        key = f"soakkit-sweep-{self.grid.sweep_id}-{self.session}-{batch.index}-" \
              f"{uuid.uuid4().hex[:8]}"
        try:
            future = client.submit(run_batch, payload(self.grid, batch, self.now,
                                                      self.runs_dir), key=key, pure=False)
        except ClosedClientError as exc:
            raise _LostCluster(str(exc)) from None
        self.pending[key] = (future, batch)
        queue.add(future)

    def _store(self, batch: Batch, columns: Columns) -> None:
        frame = frame_of(columns)
        self.store.write_batch(self.session, batch.index, frame,
                               self.clock.now().timestamp())
        errors = {k: (i, e) for i, (k, e) in enumerate(zip(columns["cell_key"], columns["error"],
                                                            strict=True)) if e is not None}
        failed = len(errors)
        for i, error in list(errors.values())[:_SHOWN_FAILURES - len(self.failures)]:
            where = ", ".join(f"{c}={columns[c][i]}" for c in self.grid.columns)
            self.failures.append(f"{where}: {error}")
        self.ran += len(batch.cells)
        self.failed += failed
        self.progress.advance(len(batch.cells), failed)

    def run_here(self, todo: Iterator[Batch]) -> None:
        """No cluster (one local worker): every batch in this process, one after another."""
        for batch in todo:
            try:
                columns = run_batch(payload(self.grid, batch, self.now, self.runs_dir))
            except Exception as exc:  # as a worker's task dying: its cells failed
                columns = _failed_batch(self.grid, batch, exc)
            self._store(batch, columns)

    def run(self, todo: Iterator[Batch]) -> None:
        client = self.conn.client
        if client is None:
            self.run_here(todo)
            return
        from distributed import as_completed

        queue = as_completed()
        threads_at = -_REFRESH_THREADS_S
        window = 1
        try:
            while True:
                if time.monotonic() - threads_at >= _REFRESH_THREADS_S:
                    threads_at = time.monotonic()
                    window = window_size(self.grid, self.conn.threads())
                while len(self.pending) < window:
                    batch = next(todo, None)
                    if batch is None:
                        break
                    self._submit(client, batch, queue)
                if not self.pending:
                    return
                while not queue.has_ready():  # a blocking wait would not see Ctrl-C
                    time.sleep(_POLL_S)
                future = next(queue)
                _, batch = self.pending.pop(str(future.key))
                if future.status == "cancelled":  # not by us: the scheduler is gone
                    raise _LostCluster("the scheduler cancelled the tasks in flight")
                try:
                    columns = future.result()
                except Exception as exc:  # the task died: its cells failed
                    columns = _failed_batch(self.grid, batch, exc)
                future.release()
                self._store(batch, columns)
        finally:
            if self.pending:
                with contextlib.suppress(Exception):
                    client.cancel([f for f, _ in self.pending.values()])


def run_sweep(spec: SweepSpec, client: Client | None = None, *,
              progress: SweepProgress | None = None,
              env: Mapping[str, str] | None = None) -> SweepResult:
    """Run (or continue) a sweep on Dask and store its results.

    Parameters
    ----------
    spec
        The grid and how to run it.
    client
        A connected :class:`distributed.Client` to run on; default: ``spec.scheduler``,
        ``spec.scheduler_file``, ``DASK_SCHEDULER_ADDRESS``, else a local cluster that
        lives as long as the call.
    progress
        Receives progress (:class:`~soakkit.sweep.progress.ProgressPrinter` prints it).
    env
        Environment (``SOAKKIT_NOW``, the overrides sweeps ignore); default ``os.environ``.
        The scheduler address comes from Dask's configuration (``DASK_SCHEDULER_ADDRESS``).

    Returns
    -------
    SweepResult
        Counts and exit code; ``.frame()`` and ``.summary()`` read the results.

    Raises
    ------
    UsageError
        Bad spec (empty grid, unknown profile, mode or ``--set`` name, bad seeds) or an
        unreachable scheduler, before any work starts (exit code 2).
    LockedError
        Another client is running the same sweep.
    """
    env = os.environ if env is None else env
    progress = progress or SweepProgress()
    grid = build_grid(spec)
    store = SweepStore(sweeps_root(spec.artifacts) / grid.sweep_id)
    store.check_same(grid)
    clock = clock_from(spec.now, env)
    if store.read_meta() is not None and len(store.done_keys()) == grid.size:
        store.mark_latest()
        return SweepResult(grid.sweep_id, Path(store.folder), Path(spec.artifacts), "finished",
                           grid.size, grid.size, 0, 0, grid.columns,
                           warnings=tuple(_ignored_env(env)))  # nothing to run: no cluster
    with connect(spec, client) as conn, store.lock():
        store.remove_temp_files()
        store.create(grid, format_utc(clock.now()), clock.now().timestamp())
        meta = store.read_meta() or {}
        done = store.done_keys()
        todo = grid.size - len(done)
        size = batch_size(grid, todo, conn.threads())
        session = store.next_session()
        execution = _Execution(grid, conn, store, session, str(meta.get("created_utc")),
                               clock, progress)
        progress.start(StartInfo(grid.sweep_id, grid.size, len(done), size, conn.where,
                                 conn.dashboard, str(store.folder)))
        status, stopped_by = "finished", None
        try:
            # a cluster's workers finish together on shrinking batches (not one local worker)
            guided = None if spec.batch_size is not None or conn.client is None \
                else (todo, conn.threads())
            execution.run(batches(grid, done, size, guided))
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (soakkit.core.signals.Terminated)
            status, stopped_by = "interrupted", signal_name(exc)
        except (_LostCluster, OSError, TimeoutError) as exc:  # the scheduler went away
            raise ClusterError(f"sweep {grid.sweep_id}: lost the Dask cluster ({conn.where}): "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                               f"; {execution.ran} cells stored now, rerun the same command "
                               "to continue") from None
        progress.finish(status)
        if status == "finished":
            store.mark_latest()
    return SweepResult(grid.sweep_id, Path(store.folder), Path(spec.artifacts), status,
                       grid.size, len(done), execution.ran, execution.failed, grid.columns,
                       tuple(execution.failures), tuple(_ignored_env(env)), stopped_by)
