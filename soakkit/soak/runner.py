"""The mini-soak runner: one :func:`~soakkit.soak.iteration.run_iteration` per iteration, on disk.

Entry point: :func:`run_soak`. Each iteration's document is written as
``ITER_SUMMARY_<n>.json``, then ``TUNING_REPORT.json``, then ``RUN.json`` — each
atomically and stamped with the run's clock — so a crash or Ctrl-C leaves a consistent
run that :func:`run_soak` with ``resume=`` continues. Observers
(:class:`SoakObserver`) see the run start, every iteration and the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.artifacts import (
    RUN_FILE,
    RUN_LOCK,
    TUNING_REPORT_FILE,
    iter_summary_name,
    iteration_files,
    make_run_id,
    read_json_maybe_gz,
    resolve_run_dir,
    runs_root,
    update_latest,
)
from soakkit.config.layers import resolve
from soakkit.config.runtime import RUNTIME_FILE
from soakkit.errors import ArtifactError, UsageError
from soakkit.gate import RunVerdict, Verdict, judge_run
from soakkit.io import Clock, atomic_write_json, clock_from, format_utc
from soakkit.locks import exclusive_lock
from soakkit.soak.iteration import IterationReport, Session, run_iteration, tuning_report
from soakkit.soak.options import SoakOptions, sleep_from_env, validate_options
from soakkit.tuning.store import FileRuntimeStore

__all__ = ["SoakObserver", "SoakResult", "run_soak"]


@dataclass(frozen=True)
class SoakResult:
    """The outcome of :func:`run_soak`."""

    run_id: str
    run_dir: Path
    status: str  #: finished | interrupted
    verdict: RunVerdict
    iterations_done: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 for PASS or WARN, 1 for FAIL, 130 when interrupted."""
        if self.status == "interrupted":
            return 130
        return 1 if self.verdict.verdict == "FAIL" else 0


class SoakObserver:
    """Sees a run start, every iteration and the end; override what you need.

    An observer must not raise for its own failures (a metrics write that fails must not
    stop a soak): it records them and carries on.
    """

    def started(self, meta: Mapping[str, Any], run_dir: Path) -> None:
        """The run (new or resumed) is about to run its next iteration."""

    def iteration(self, report: IterationReport) -> None:
        """An iteration's files are written."""

    def finished(self, result: SoakResult) -> None:
        """The run ended (finished or interrupted)."""

    @property
    def warnings(self) -> Sequence[str]:
        """Problems the run records in ``RUN.json`` ``warnings`` (read before the last write)."""
        return ()


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
class _Run:
    """A session plus its folder and metadata."""

    session: Session
    run_dir: Path
    meta: dict[str, Any]
    warnings: list[str]

    def mtime(self) -> float:
        """The run clock's now, as the modification time of the files the run writes."""
        return self.session.clock.now().timestamp()

    def store(self) -> FileRuntimeStore:
        return FileRuntimeStore(self.run_dir / RUNTIME_FILE, self.mtime())

    def write_meta(self) -> None:
        atomic_write_json(self.run_dir / RUN_FILE, self.meta, mtime=self.mtime())

    def write_report(self) -> None:
        atomic_write_json(self.run_dir / TUNING_REPORT_FILE,
                          tuning_report(self.session.run_id, self.session.entries),
                          mtime=self.mtime())

    def write_iteration(self, report: IterationReport) -> None:
        n = report.iteration
        ended = self.session.clock.now()
        atomic_write_json(self.run_dir / iter_summary_name(n), report.doc,
                          mtime=ended.timestamp())
        self.write_report()
        self.meta["iterations_done"] = n
        self.write_meta()


def _gap_warnings(report: IterationReport) -> list[str]:
    """One line per silence in a replayed window (reported, never filled in)."""
    market = report.doc.get("market", {})
    return [f"iteration {report.iteration}: the tape is silent for {g['length_s']:.1f} s "
            f"from {g['at_s']:.1f} s into the window ({market.get('window_start_utc')}); "
            "the book stays as it was" for g in market.get("gaps", [])]


def _start(options: SoakOptions, env: Mapping[str, str], clock: Clock,
           given_id: str | None) -> _Run:
    cfg = resolve(options.profile, artifacts=options.artifacts, sets=options.sets, env=env)
    started = clock.now()
    base_id = given_id or make_run_id(started, options.profile, options.run_mode, options.seed)
    root = runs_root(options.artifacts)
    root.mkdir(parents=True, exist_ok=True)
    run_id, k = base_id, 1
    while True:
        try:
            (root / run_id).mkdir()
            break
        except FileExistsError:
            if given_id is not None:
                raise ArtifactError(f"{root / run_id} already exists") from None
            k += 1
            run_id = f"{base_id}-{k}"
    run_dir = root / run_id
    meta = {
        "schema_version": 1, "run_id": run_id, "soakkit_version": __version__,
        "started_utc": format_utc(started), "ended_utc": None, "status": "running",
        "options": options.to_json(),
        "profile": {"name": cfg.profile.name, "sha256": cfg.profile.sha256,
                    "builtin": cfg.profile.builtin,
                    "path": _portable_path(str(cfg.profile.path), Path(options.artifacts))},
        "config": _portable(cfg.to_json(), Path(options.artifacts)),
        "iterations_done": 0, "verdict": None,
    }
    session = Session(options, run_id, clock, env, cfg.profile.sha256)
    run = _Run(session, run_dir, meta, list(cfg.warnings))
    run.write_meta()
    run.store().create(cfg.profile.name, cfg.profile.sha256)
    run.write_report()
    return run


def _reopen(artifacts: Path, run_id: str, env: Mapping[str, str], clock: Clock) -> _Run:
    run_dir = resolve_run_dir(artifacts, run_id)
    meta = read_json_maybe_gz(run_dir / RUN_FILE)
    if meta.get("status") == "finished":
        raise UsageError(f"run {run_id} already finished; nothing to resume")
    o = meta["options"]
    replayed = o.get("market_data")
    options = SoakOptions(profile=o["profile"], iterations=int(o["iterations"]), mode=o["mode"],
                          seed=int(o["seed"]), sim_minutes=int(o["sim_minutes"]),
                          gate=o["gate"], sets=tuple(o["sets"]), artifacts=Path(artifacts),
                          tune=bool(o["tune"]), market=str(o.get("market", "default")),
                          market_data=Path(replayed) if replayed else None)
    report = read_json_maybe_gz(run_dir / TUNING_REPORT_FILE)
    have = {f.iteration for f in iteration_files(run_dir)}
    entries = [e for e in report.get("iterations", []) if e["iteration"] in have]
    done = 0
    while done + 1 in have and any(e["iteration"] == done + 1 for e in entries):
        done += 1
    entries = [e for e in entries if e["iteration"] <= done]
    verdicts = []
    for e in entries:
        doc = read_json_maybe_gz(run_dir / iter_summary_name(e["iteration"]))
        g = doc["gate"]
        verdicts.append((e["iteration"], Verdict(g["verdict"], tuple(g["reasons"]), g["gate"],
                                                 g["phase"])))
    meta["status"] = "running"
    meta["iterations_done"] = done
    session = Session(options, meta["run_id"], clock, env, meta["profile"]["sha256"],
                      entries, verdicts)
    return _Run(session, run_dir, meta, [])


def run_soak(
    options: SoakOptions,
    *,
    env: Mapping[str, str] | None = None,
    resume: str | None = None,
    progress: Callable[[IterationReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observers: Sequence[SoakObserver] = (),
    run_id: str | None = None,
) -> SoakResult:
    """Run (or resume) a mini-soak and write its artifacts.

    Parameters
    ----------
    options
        What to run; with ``resume`` only ``artifacts``, ``now`` and ``sleep_seconds`` are
        taken from it and the rest from the run's ``RUN.json``.
    env
        Environment for the config layers, ``SOAK_SLEEP_SECONDS`` and ``SOAKKIT_NOW``.
    resume
        Run id of an interrupted or crashed run to continue.
    progress
        Called after every iteration.
    sleep
        Sleeps between iterations (never after the last); injectable for tests.
    observers
        See the run start, every iteration (after its files are written) and the end.
    run_id
        Name of the new run's folder (default: start time, profile, mode and seed); a
        sweep names its cells' runs. It must not exist yet.

    Returns
    -------
    SoakResult

    Raises
    ------
    UsageError, ConfigError
        Bad options or configuration (exit code 2); nothing is written.
    LockedError
        The run to resume is still active.
    """
    env = dict(os.environ) if env is None else dict(env)
    clock = clock_from(options.now, env)
    pause = options.sleep_seconds if options.sleep_seconds is not None else sleep_from_env(env)
    if resume is None:
        validate_options(options)
        run = _start(options, env, clock, run_id)
    else:
        run = _reopen(options.artifacts, resume, env, clock)
    session = run.session
    with exclusive_lock(run.run_dir / RUN_LOCK, f"soak run {session.run_id}"):
        for observer in observers:
            observer.started(run.meta, run.run_dir)
        total = session.options.iterations
        status = "finished"
        try:
            for n in range(run.meta["iterations_done"] + 1, total + 1):
                report = run_iteration(session, n, run.store())
                run.write_iteration(report)
                run.warnings += _gap_warnings(report)
                for observer in observers:
                    observer.iteration(report)
                if progress is not None:
                    progress(report)
                if n < total and pause > 0:
                    sleep(pause)
        except KeyboardInterrupt:
            status = "interrupted"
        verdict = judge_run(session.verdicts)
        observed = [w for observer in observers for w in observer.warnings]
        if observed:
            run.meta["warnings"] = observed
            run.warnings.extend(observed)
        run.meta.update(status=status, ended_utc=format_utc(clock.now()),
                        verdict=verdict.to_json())
        run.write_meta()
    if status == "finished":
        warning = update_latest(session.options.artifacts, session.run_id)
        if warning:
            run.warnings.append(warning)
    result = SoakResult(session.run_id, run.run_dir, status, verdict,
                        int(run.meta["iterations_done"]), tuple(run.warnings))
    for observer in observers:
        observer.finished(result)
    return result
