"""A study's folder: ``study.json``, Optuna's journal, the rows of every configuration tried
and evaluated, and the result.

::

    <artifacts>/studies/<name>/
      study.json             identity: spec, space, markets, profile sha256, engine version
      journal.log            Optuna's JournalStorage (file backend): every trial, append-only
      trials/<key>.parquet   rows of one configuration on the calibration markets
      eval/<key>.parquet     rows of one configuration on the held-back markets
      result.json            winner, out-of-sample comparisons, DSR, PBO, evidence digest
      .study.lock            held while a client runs the study

A configuration's rows are keyed by everything that decides them (``key``), so a trial
whose rows were written before a kill is told from them on the rerun, not run again.
Every file is written atomically; the journal is Optuna's append-only log.
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
    STUDIES_DIR,
    STUDY_EVAL_DIR,
    STUDY_FILE,
    STUDY_JOURNAL,
    STUDY_LOCK,
    STUDY_RESULT,
    STUDY_TRIALS_DIR,
    point_latest,
    resolve_named_dir,
)
from soakkit.core.errors import ArtifactError, UsageError
from soakkit.core.io import atomic_write_bytes, atomic_write_json
from soakkit.core.json_strict import load_json_file, load_json_if_present
from soakkit.core.locks import exclusive_lock

__all__ = ["StudyStore", "resolve_study_dir", "studies_root"]

SCHEMA_VERSION = 1
#: A journal line is far shorter than this (one trial's parameters and attributes).
_TAIL_BYTES = 1 << 22


def studies_root(artifacts: Path) -> Path:
    """``<artifacts>/studies``."""
    return Path(artifacts) / STUDIES_DIR


def resolve_study_dir(artifacts: Path, study: str) -> Path:
    """The folder of study ``study`` (a name or ``latest``); errors list what exists."""
    return resolve_named_dir(studies_root(artifacts), study, STUDY_FILE, "study")


def _write_error(path: Path, exc: OSError) -> ArtifactError:
    return ArtifactError(f"{path}: cannot write ({exc.strerror or exc}); what was stored "
                         "before stays, rerun the same command to continue")


@dataclass(frozen=True)
class StudyStore:
    """The folder of one study."""

    folder: Path

    @property
    def meta_path(self) -> Path:
        return self.folder / STUDY_FILE

    @property
    def journal_path(self) -> Path:
        return self.folder / STUDY_JOURNAL

    @property
    def result_path(self) -> Path:
        return self.folder / STUDY_RESULT

    def read_meta(self) -> dict[str, Any] | None:
        """``study.json``, or ``None`` when the study was never started."""
        return load_json_if_present(self.meta_path)

    def check_same(self, identity: dict[str, Any]) -> None:
        """Refuse to continue a study of the same name made with other inputs (exit code 2)."""
        meta = self.read_meta()
        if meta is None:
            return
        for part, value in identity.items():
            if meta.get(part) != value:
                raise UsageError(f"--name {self.folder.name}: {self.meta_path} was made with "
                                 f"another {part.replace('_', ' ')}; choose another --name "
                                 "(or rerun with the study's own options)")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study's lock (one client per study at a time)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"{self.folder}: cannot create ({exc.strerror or exc})") from None
        with exclusive_lock(self.folder / STUDY_LOCK, f"study {self.folder.name}"):
            yield

    def create(self, identity: dict[str, Any], created_utc: str, mtime: float | None) -> None:
        """Write ``study.json`` if this is the study's first run (callers hold the lock)."""
        if self.meta_path.exists():
            return
        doc = {"schema_version": SCHEMA_VERSION, "study": self.folder.name,
               "created_utc": created_utc, "soakkit_version": __version__, **identity}
        try:
            atomic_write_json(self.meta_path, doc, mtime=mtime)
        except OSError as exc:
            raise _write_error(self.meta_path, exc) from None

    def remove_stale_files(self) -> None:
        """Temp files of an interrupted writer, the journal's lock of a killed client and a
        line it left half-written (callers hold the study's lock, so no other client
        writes the journal)."""
        self._trim_journal()
        for folder in (self.folder, self.folder / STUDY_TRIALS_DIR, self.folder / STUDY_EVAL_DIR):
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(folder):
                    stale = name.startswith(".") and name.endswith(".tmp")
                    if stale or name == f"{STUDY_JOURNAL}.lock":
                        with contextlib.suppress(FileNotFoundError):
                            (folder / name).unlink()

    def _trim_journal(self) -> None:
        """Cut a last line a killed writer left without its newline (Optuna appends after
        it otherwise, and a glued line makes the whole journal unreadable)."""
        try:
            fh = self.journal_path.open("r+b")
        except FileNotFoundError:
            return
        with fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            start = max(0, size - _TAIL_BYTES)
            fh.seek(start)
            tail = fh.read()
            cut = tail.rfind(b"\n")
            fh.truncate(0 if cut < 0 and start == 0 else start + cut + 1)
            os.fsync(fh.fileno())

    def _rows_path(self, kind: str, key: str) -> Path:
        return self.folder / kind / f"{key}.parquet"

    def has_rows(self, kind: str, key: str) -> bool:
        """Whether the rows of configuration ``key`` are stored (``kind``: trials or eval)."""
        return self._rows_path(kind, key).is_file()

    def write_rows(self, kind: str, key: str, frame: pl.DataFrame,
                   mtime: float | None) -> None:
        """Store one configuration's rows, atomically."""
        buf = io.BytesIO()
        frame.write_parquet(buf, compression="zstd", statistics=True)
        path = self._rows_path(kind, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buf.getvalue(), mtime=mtime)
        except OSError as exc:
            raise _write_error(path, exc) from None

    def read_rows(self, kind: str, key: str, columns: list[str] | None = None
                  ) -> pl.DataFrame:
        """One configuration's stored rows (all columns, or ``columns``)."""
        path = self._rows_path(kind, key)
        try:
            return pl.read_parquet(path, columns=columns)
        except Exception as exc:  # polars raises several types
            raise ArtifactError(f"{path}: unreadable parquet ({exc})") from None

    def write_result(self, doc: dict[str, Any], mtime: float | None) -> None:
        try:
            atomic_write_json(self.result_path, doc, mtime=mtime)
        except OSError as exc:
            raise _write_error(self.result_path, exc) from None

    def read_result(self) -> dict[str, Any] | None:
        """``result.json``, or ``None`` while the study has none."""
        if not self.result_path.is_file():
            return None
        doc: dict[str, Any] = load_json_file(self.result_path)
        return doc

    def mark_latest(self) -> None:
        """Point ``<artifacts>/studies/latest`` at this study."""
        point_latest(self.folder)
