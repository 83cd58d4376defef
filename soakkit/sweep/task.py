"""What a Dask worker runs: a batch of cells, each one mini-soak, and compact rows back.

A cell is the same mini-soak as ``soakkit soak``: :func:`soakkit.soak.iteration.run_iteration`
once per iteration, with the tuner's live values in a
:class:`~soakkit.tuning.store.MemoryRuntimeStore` (nothing is written), or, with
``write_runs``, :func:`soakkit.soak.run_soak` writing the cell's run folder under the
sweep (the workers then share the client's file system). Workers need no file of the
client: the payload carries the profiles' bytes (and a calibrated market's), which each
worker writes once into a private temporary folder and resolves like any user profile (their
sha256 is checked). A recorded tape (``market_data``) is read from its path: workers that
replay one share the client's file system. ``first_iteration`` starts the cells at a later
iteration (a replay of a tape's later windows only: ``soakkit optimize``'s held-back ones).

A cell that raises is returned as one error row; the batch goes on with the next cell.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from soakkit.artifacts.layout import market_profile_path, runs_root
from soakkit.artifacts.runid import run_id_body
from soakkit.config.params import DEFAULT_STRATEGY, Value
from soakkit.config.profiles import user_profiles_dir
from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import ArtifactError
from soakkit.core.io import FixedClock, atomic_write_bytes, parse_utc
from soakkit.gate import judge_run
from soakkit.sim.version import ENGINE_VERSION
from soakkit.soak.iteration import IterationReport, Session, run_iteration
from soakkit.soak.options import SoakOptions
from soakkit.soak.runner import run_soak
from soakkit.sweep.rows import Columns, add_cell, cell_identity, new_columns
from soakkit.tuning.store import MemoryRuntimeStore

__all__ = ["BatchPayload", "CellSpec", "cell_run_id", "run_batch"]

#: (key, profile, mode, tune, set values, seed, strategy): one cell, as plain data.
CellSpec = tuple[str, str, str, bool, tuple[Value, ...], int, str]
_ERROR_CHARS = 600


@dataclass(frozen=True)
class BatchPayload:
    """Everything a worker needs to run a batch (plain data, small to pickle)."""

    engine_version: int
    iterations: int
    sim_minutes: int
    gate: str
    now: str  #: the sweep's clock (ISO-8601): every cell runs with this frozen time
    set_names: tuple[str, ...]
    set_columns: tuple[str, ...]
    profiles: dict[str, tuple[str, bytes]]  #: name → (sha256, bytes)
    cells: tuple[CellSpec, ...]
    runs_dir: str | None = None  #: ``write_runs``: the sweep folder (shared file system)
    market: str = "default"  #: the synthetic market: ``default`` or a calibrated one's name
    market_file: tuple[str, bytes] | None = None  #: a calibrated market: (sha256, bytes)
    market_data: str | None = None  #: replay this tape (a folder the workers can read)
    first_iteration: int = 1  #: run iterations first_iteration..iterations of every cell
    strategy_axis: bool = False  #: the rows carry a ``strategy`` column


def cell_run_id(profile: str, mode: str, tune: bool, seed: int, key: str,
                strategy: str = DEFAULT_STRATEGY) -> str:
    """``steady_safe-mixed-s7-tuned-1a2b3c4d5e6f``: the run id of a cell, a soak run's id
    (:func:`~soakkit.artifacts.runid.run_id_body`, a strategy other than legacy after the
    tuner: ``…-tuned-glft-1a2b…``) with the cell's key instead of a start time."""
    return f"{run_id_body(profile, mode, seed, tune=tune, strategy=strategy)}-{key[:12]}"


def _materialise(path: Path, name: str, sha256: str, data: bytes) -> None:
    """Write ``data`` (profile or market ``name``) to ``path`` unless the same bytes are
    there."""
    if sha256_bytes(data) != sha256:
        raise ArtifactError(f"{name}: the bytes sent do not have the sha256 "
                            f"{sha256[:12]} the client recorded")
    try:
        if sha256_bytes(path.read_bytes()) == sha256:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _private_root(sha256: str) -> Path:
    return Path(tempfile.gettempdir()) / f"soakkit-sweep-{os.getuid()}" / sha256


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ") + where
    return text[:_ERROR_CHARS]


def _run_in_memory(options: SoakOptions, run_id: str, sha256: str, first: int = 1
                   ) -> tuple[list[IterationReport], str]:
    clock = FixedClock(parse_utc(options.now or "", "sweep clock"))
    session = Session(options, run_id, clock, {}, sha256)
    store = MemoryRuntimeStore.new(options.profile, sha256)
    reports = [run_iteration(session, n, store) for n in range(first, options.iterations + 1)]
    return reports, judge_run(session.verdicts).verdict


def _run_on_disk(options: SoakOptions, run_id: str) -> tuple[list[IterationReport], str]:
    stale = runs_root(options.artifacts) / run_id
    if stale.is_dir() and not stale.is_symlink():  # left by an earlier, interrupted sweep
        shutil.rmtree(stale)
    reports: list[IterationReport] = []
    result = run_soak(options, env={}, progress=reports.append, run_id=run_id)
    return reports, result.verdict.verdict


def run_batch(payload: BatchPayload) -> Columns:
    """Run every cell of ``payload``; returns the rows as columns (see :mod:`.rows`)."""
    if payload.engine_version != ENGINE_VERSION:
        raise RuntimeError(f"this worker's soakkit runs engine version {ENGINE_VERSION}, the "
                           f"sweep needs {payload.engine_version}: install the client's "
                           "soakkit on every worker")
    columns = new_columns(payload.set_columns, payload.strategy_axis)
    for key, profile, mode, tune, sets, seed, strategy in payload.cells:
        identity = cell_identity(key, strategy if payload.strategy_axis else None, profile,
                                 mode, tune, payload.set_columns, sets, seed)
        sha256, data = payload.profiles[profile]
        run_id = cell_run_id(profile, mode, tune, seed, key, strategy)
        try:
            root = Path(payload.runs_dir) if payload.runs_dir else _private_root(sha256)
            _materialise(user_profiles_dir(root) / f"{profile}.json", f"profile {profile}",
                         sha256, data)
            if payload.market_file is not None:
                _materialise(market_profile_path(root, payload.market),
                             f"market {payload.market}", *payload.market_file)
            options = SoakOptions(
                profile=profile, iterations=payload.iterations, mode=mode, seed=seed,
                sim_minutes=payload.sim_minutes, gate=payload.gate, tune=tune,
                sets=tuple(f"{n}={v!r}" for n, v in zip(payload.set_names, sets, strict=True)),
                artifacts=root, sleep_seconds=0.0, now=payload.now, strategy=strategy,
                market=payload.market,
                market_data=Path(payload.market_data) if payload.market_data else None)
            reports, verdict = (_run_on_disk(options, run_id) if payload.runs_dir
                                else _run_in_memory(options, run_id, sha256,
                                                    payload.first_iteration))
        except Exception as exc:  # a failing cell is a result, not the end of the batch
            add_cell(columns, identity, [], None, _describe(exc))
            continue
        add_cell(columns, identity, reports, verdict)
    return columns
