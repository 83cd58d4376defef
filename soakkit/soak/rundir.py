"""A soak run's folder: create it for a new run and write its files.

:func:`start_run` makes the folder (``runs/<run_id>/``) and writes ``RUN.json``,
``runtime_overrides.json`` and ``TUNING_REPORT.json``; :class:`RunFolder` writes an
iteration's files and the run's metadata, stamped with the run's clock. Resuming a run
reopens its folder (:mod:`soakkit.soak.resume`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.artifacts.iterlog import write_iteration
from soakkit.artifacts.layout import RUN_FILE, TUNING_REPORT_FILE, runs_root
from soakkit.artifacts.runid import make_run_id, market_tag
from soakkit.config.layers import ResolvedConfig
from soakkit.config.runtime import RUNTIME_FILE
from soakkit.core.errors import ArtifactError, filesystem_error, fs_errors
from soakkit.core.io import Clock, atomic_write_json, format_utc
from soakkit.core.signals import deferred_signals
from soakkit.soak.iteration import IterationReport, Session, tuning_report
from soakkit.soak.options import SoakOptions
from soakkit.tuning.store import FileRuntimeStore

__all__ = ["RunFolder", "start_run"]


def _portable(value: Any, artifacts: Path) -> Any:
    """Provenance with paths made relative to the artifacts root or the package."""
    if isinstance(value, dict):
        return {k: (_portable_path(v, artifacts) if k == "path" and isinstance(v, str)
                    else _portable(v, artifacts)) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, artifacts) for v in value]
    return value


def _portable_path(text: str, artifacts: Path) -> str:
    path = Path(text)
    package = Path(__file__).resolve().parent.parent
    for root, label in ((artifacts.resolve(), "<artifacts>"), (package, "<soakkit>")):
        try:
            return f"{label}/{path.resolve().relative_to(root).as_posix()}"
        except ValueError:
            continue
    return text


@dataclass
class RunFolder:
    """A run being written: its session, its folder and its metadata (``RUN.json``)."""

    session: Session
    run_dir: Path
    meta: dict[str, Any]
    warnings: list[str]

    def mtime(self) -> float:
        """The run clock's now, as the modification time of the files the run writes."""
        return self.session.clock.now().timestamp()

    def store(self) -> FileRuntimeStore:
        """The run's ``runtime_overrides.json``, written with the run's clock."""
        return FileRuntimeStore(self.run_dir / RUNTIME_FILE, self.mtime())

    def write_meta(self) -> None:
        """Write ``RUN.json`` from :attr:`meta`."""
        atomic_write_json(self.run_dir / RUN_FILE, self.meta, mtime=self.mtime())

    def write_report(self) -> None:
        """Write ``TUNING_REPORT.json`` from the session's entries."""
        atomic_write_json(self.run_dir / TUNING_REPORT_FILE,
                          tuning_report(self.session.run_id, self.session.entries),
                          mtime=self.mtime())

    def write_iteration(self, report: IterationReport) -> None:
        """The iteration's three files; Ctrl-C/SIGTERM wait until all are written."""
        n = report.iteration
        ended = self.session.clock.now()
        with deferred_signals():
            write_iteration(self.run_dir, n, report.doc, mtime=ended.timestamp())
            self.write_report()
            self.meta["iterations_done"] = n
            self.write_meta()


def _new_run_dir(artifacts: Path, base_id: str, given_id: str | None = None) -> Path:
    """A new run folder: ``base_id``, else ``base_id-2``...; ``given_id`` must not exist."""
    root = runs_root(artifacts)
    with fs_errors(root, "cannot create the runs folder"):
        root.mkdir(parents=True, exist_ok=True)
    run_id, k = base_id, 1
    while True:
        try:
            (root / run_id).mkdir()
            return root / run_id
        except FileExistsError:
            if given_id is not None:
                raise ArtifactError(f"{root / run_id} already exists") from None
            k += 1
            run_id = f"{base_id}-{k}"
        except OSError as exc:
            raise filesystem_error(exc, root / run_id, "cannot create the run folder") from None


def start_run(options: SoakOptions, cfg: ResolvedConfig, env: Mapping[str, str],
              clock: Clock, given_id: str | None) -> RunFolder:
    """A new run: its folder and first files (nothing is left behind when that fails)."""
    started = clock.now()
    market = market_tag(options.run_mode, options.market,
                        str(options.market_data) if options.market_data else None)
    base_id = given_id or make_run_id(started, options.profile, market, options.seed,
                                      tune=options.tune, strategy=options.strategy)
    run_dir = _new_run_dir(options.artifacts, base_id, given_id)
    run_id = run_dir.name
    meta = {
        "schema_version": 1, "run_id": run_id, "soakkit_version": __version__,
        "started_utc": format_utc(started), "ended_utc": None, "status": "running",
        "options": options.to_json(), "baseline": options.baseline,
        "profile": {"name": cfg.profile.name, "sha256": cfg.profile.sha256,
                    "builtin": cfg.profile.builtin,
                    "path": _portable_path(str(cfg.profile.path), Path(options.artifacts))},
        "config": _portable(cfg.to_json(), Path(options.artifacts)),
        "iterations_done": 0, "verdict": None,
    }
    session = Session(options, run_id, clock, env, cfg.profile.sha256)
    run = RunFolder(session, run_dir, meta, list(cfg.warnings))
    try:
        with fs_errors(run_dir, "cannot start the run"):
            run.write_meta()
            run.store().create(cfg.profile.name, cfg.profile.sha256)
            run.write_report()
    except BaseException:  # a run that never started leaves no folder behind
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run
