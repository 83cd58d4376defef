"""A sweep's folder: ``sweep.json``, one parquet file per batch, and reading them back.

::

    <artifacts>/sweeps/<sweep_id>/
      sweep.json                     spec, grid, soakkit and engine versions, profile sha256s
      part-<session>-<batch>.parquet rows of one batch of cells (see soakkit.sweep.rows)
      .sweep.lock                    held while a client runs the sweep
      runs/, profiles/               with --write-runs: each cell's run folder

Every file is written atomically, so a crash leaves whole batches only; a rerun reads the
keys of the cells already done and runs the others. Reading deduplicates: each cell comes
from one batch, the newest one in which it ran without error (else its newest error).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from soakkit import __version__
from soakkit.artifacts.layout import (
    LATEST,
    SWEEP_FILE,
    SWEEP_LOCK,
    SWEEP_PART_RE,
    SWEEPS_DIR,
    point_latest,
    resolve_named_dir,
    sweep_part_name,
)
from soakkit.artifacts.runid import market_label
from soakkit.config.params import DEFAULT_STRATEGY, PARAMS
from soakkit.core.errors import ArtifactError, UsageError, unreadable_reason
from soakkit.core.io import atomic_write_bytes, atomic_write_json
from soakkit.core.json_strict import load_json_if_present
from soakkit.core.locks import exclusive_lock
from soakkit.sweep.grid import SET_PREFIX, Grid
from soakkit.sweep.rows import CELL_COLUMNS, Columns

__all__ = ["SweepStore", "load_results", "resolve_sweep_dir", "sweeps_root"]

_STRING_COLUMNS = frozenset({"cell_key", "strategy", "profile", "mode", "regime", "verdict",
                             "run_verdict",
                             "error"})
_INT_COLUMNS = frozenset({"seed", "iteration"})
_BOOL_COLUMNS = frozenset({"tune", "tuning_applied"})


def sweeps_root(artifacts: Path) -> Path:
    """``<artifacts>/sweeps``."""
    return Path(artifacts) / SWEEPS_DIR


def _dtype(name: str) -> pl.DataType:
    if name in _STRING_COLUMNS:
        return pl.String()
    if name in _INT_COLUMNS:
        return pl.Int64()
    if name in _BOOL_COLUMNS:
        return pl.Boolean()
    spec = PARAMS.get(name.removeprefix(SET_PREFIX)) if name.startswith(SET_PREFIX) else None
    if spec is not None and spec.kind == "int":
        return pl.Int64()
    return pl.Float64()  # KPIs (counts too: a float64 holds them exactly) and float params


def frame_of(columns: Columns) -> pl.DataFrame:
    """A batch's columns as a typed frame (the parquet schema)."""
    return pl.DataFrame({name: pl.Series(name, values, dtype=_dtype(name), strict=False)
                         for name, values in columns.items()})


def _unreadable_part(path: Path, exc: BaseException) -> ArtifactError:
    """A batch file that cannot be read: what is wrong and what to do (its cells rerun)."""
    return ArtifactError(f"{path}: {unreadable_reason(exc, 'parquet file')}; delete it and "
                         "rerun the same sweep command: its cells run again")


def _parts(folder: Path) -> list[Path]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [folder / n for n in sorted(names) if SWEEP_PART_RE.fullmatch(n)]


@dataclass(frozen=True)
class SweepStore:
    """The folder of one sweep."""

    folder: Path

    @property
    def meta_path(self) -> Path:
        return self.folder / SWEEP_FILE

    def read_meta(self) -> dict[str, Any] | None:
        """``sweep.json``, or ``None`` when the sweep was never started."""
        return load_json_if_present(self.meta_path)

    def check_same(self, grid: Grid) -> None:
        """Refuse to continue a sweep of the same id whose grid differs (exit code 2)."""
        meta = self.read_meta()
        if meta is None:
            return
        want = grid.identity()
        reasons = {
            "engine_version": f"engine version {meta.get('engine_version')} (this soakkit "
                              f"runs {want['engine_version']})",
            "spec": "another grid",
            "profiles": "other profile contents (a profile's sha256 differs; profiles are "
                        "immutable)"}
        for part, reason in reasons.items():
            if meta.get(part) != want[part]:
                raise UsageError(f"--name {grid.sweep_id}: {self.meta_path} was made with "
                                 f"{reason}; choose another --name")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the sweep's lock (one client per sweep at a time)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"{self.folder}: cannot create ({exc.strerror or exc})") from None
        with exclusive_lock(self.folder / SWEEP_LOCK, f"sweep {self.folder.name}"):
            yield

    def create(self, grid: Grid, created_utc: str, mtime: float | None) -> None:
        """Write ``sweep.json`` if this is the sweep's first run."""
        if self.meta_path.exists():
            return
        doc = {"schema_version": 1, "sweep_id": grid.sweep_id, "created_utc": created_utc,
               "soakkit_version": __version__, **grid.identity(),
               "grid": {"columns": list(grid.columns), "cells": grid.size}}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.meta_path, doc, mtime=mtime)
        except OSError as exc:
            raise ArtifactError(f"{self.meta_path}: cannot write ({exc.strerror or exc})"
                                ) from None

    def remove_temp_files(self) -> None:
        """Remove temp files an interrupted writer left (callers hold the lock)."""
        for name in os.listdir(self.folder):
            if name.startswith((".part-", f".{SWEEP_FILE}.")) and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / name).unlink()

    def done_keys(self) -> set[str]:
        """Keys of the cells that ran without error in any stored batch."""
        done: set[str] = set()
        for path in _parts(self.folder):
            try:
                frame = pl.read_parquet(path, columns=["cell_key", "error"])
            except Exception as exc:  # polars raises several types
                raise _unreadable_part(path, exc) from None
            done.update(frame.filter(pl.col("error").is_null())["cell_key"].unique().to_list())
        return done

    def next_session(self) -> int:
        """The number of this run of the sweep (1 for the first)."""
        sessions = [int(m.group(1)) for p in _parts(self.folder)
                    if (m := SWEEP_PART_RE.fullmatch(p.name))]
        return max(sessions, default=0) + 1

    def write_batch(self, session: int, batch: int, frame: pl.DataFrame,
                    mtime: float | None) -> Path:
        """Write one batch's rows as ``part-<session>-<batch>.parquet`` (atomically)."""
        buf = io.BytesIO()
        frame.write_parquet(buf, compression="zstd", statistics=True)
        path = self.folder / sweep_part_name(session, batch)
        try:
            atomic_write_bytes(path, buf.getvalue(), mtime=mtime)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot write ({exc.strerror or exc}); the batches "
                                "stored before stay, rerun the same command to continue"
                                ) from None
        return path

    def mark_latest(self) -> None:
        """Point ``<artifacts>/sweeps/latest`` at this sweep."""
        point_latest(self.folder)


def resolve_sweep_dir(artifacts: Path, sweep: str) -> Path:
    """The folder of sweep ``sweep`` (an id or ``latest``); errors list what exists."""
    return resolve_named_dir(sweeps_root(artifacts), sweep, SWEEP_FILE, "sweep")


def load_results(artifacts: Path, sweep: str = LATEST) -> pl.DataFrame:
    """Every cell of a sweep exactly once: its iteration rows, or its error row.

    Parameters
    ----------
    artifacts
        Artifacts root holding ``sweeps/``.
    sweep
        Sweep id or ``latest``.

    Returns
    -------
    polars.DataFrame
        Columns of :mod:`soakkit.sweep.rows`, sorted by the grid's axes and the iteration.
    """
    folder = resolve_sweep_dir(artifacts, sweep)
    meta = SweepStore(folder).read_meta() or {}
    frames = []
    for index, path in enumerate(_parts(folder)):
        try:
            frames.append(pl.read_parquet(path).with_columns(pl.lit(index).alias("_part")))
        except Exception as exc:  # polars raises several types
            raise _unreadable_part(path, exc) from None
    if not frames:
        return pl.DataFrame({"cell_key": [], "error": []},
                            schema={"cell_key": pl.String(), "error": pl.String()})
    rows = pl.concat(frames, how="diagonal_relaxed")
    winners = (rows.group_by("cell_key", "_part")
               .agg(pl.col("error").is_null().all().alias("_ok"))
               .sort("cell_key", "_ok", "_part")
               .group_by("cell_key", maintain_order=True).last())
    rows = rows.join(winners.select("cell_key", "_part"), on=["cell_key", "_part"], how="semi")
    columns = meta.get("grid", {}).get("columns") or [c for c in CELL_COLUMNS if c in rows.columns]
    order = [c for c in columns if c in rows.columns] + ["iteration"]
    return _with_run_facts(rows.drop("_part").sort(order, nulls_last=True))


def _with_run_facts(rows: pl.DataFrame) -> pl.DataFrame:
    """``strategy`` and ``market`` beside ``profile``, as every run table has them: a sweep's
    cells trade the default strategy on the synthetic market (the sweep has no axis for
    either yet)."""
    facts = {"strategy": pl.lit(DEFAULT_STRATEGY), "market": pl.lit(market_label())}
    missing = {k: v for k, v in facts.items() if k not in rows.columns}
    if not missing or "profile" not in rows.columns:
        return rows
    at = rows.columns.index("profile") + 1
    names = [*rows.columns[:at], *missing, *rows.columns[at:]]
    return rows.with_columns(**missing).select(names)
