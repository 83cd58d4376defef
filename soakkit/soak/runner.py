"""The mini-soak runner: one :func:`~soakkit.soak.iteration.run_iteration` per iteration, on disk.

Entry point: :func:`run_soak`. Each iteration's document is written as
``ITER_SUMMARY_<n>.json``, then ``TUNING_REPORT.json``, then ``RUN.json`` — each
atomically and stamped with the run's clock — so a crash or Ctrl-C leaves a consistent
run that :func:`run_soak` with ``resume=`` continues. Observers
(:class:`SoakObserver`) see the run start, every iteration and the end.
"""

from __future__ import annotations

import os
import shutil
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
from soakkit.config.layers import ResolvedConfig, resolve
from soakkit.config.runtime import RUNTIME_FILE
from soakkit.errors import (
    ArtifactError,
    ConfigError,
    ExitCode,
    SoakkitError,
    UsageError,
    filesystem_error,
    fs_errors,
)
from soakkit.gate import RunVerdict, Verdict, judge_run
from soakkit.io import Clock, atomic_write_json, clock_from, format_utc
from soakkit.iterlog import write_iteration
from soakkit.locks import exclusive_lock
from soakkit.signals import deferred_signals, signal_name
from soakkit.soak.iteration import IterationReport, Session, run_iteration, tuning_report
from soakkit.soak.options import (
    SoakOptions,
    option_problems,
    resume_conflicts,
    sleep_from_env,
)
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
    interrupted_by: str | None = None  #: SIGINT or SIGTERM when interrupted

    @property
    def exit_code(self) -> int:
        """0 for PASS or WARN, 1 for FAIL, 130 (Ctrl-C) or 143 (SIGTERM) when interrupted."""
        if self.status == "interrupted":
            return ExitCode.SIGTERM if self.interrupted_by == "SIGTERM" else ExitCode.SIGINT
        return ExitCode.FAILED if self.verdict.verdict == "FAIL" else ExitCode.OK


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
        """The iteration's three files; Ctrl-C/SIGTERM wait until all are written."""
        n = report.iteration
        ended = self.session.clock.now()
        with deferred_signals():
            write_iteration(self.run_dir, n, report.doc, mtime=ended.timestamp())
            self.write_report()
            self.meta["iterations_done"] = n
            self.write_meta()


def _gap_warnings(report: IterationReport) -> list[str]:
    """One line per silence in a replayed window (reported, never filled in)."""
    market = report.doc.get("market", {})
    return [f"iteration {report.iteration}: the tape is silent for {g['length_s']:.1f} s "
            f"from {g['at_s']:.1f} s into the window ({market.get('window_start_utc')}); "
            "the book stays as it was" for g in market.get("gaps", [])]


def _checked_config(options: SoakOptions, env: Mapping[str, str]) -> ResolvedConfig:
    """The run's configuration; every bad option and configuration problem, together."""
    problems = option_problems(options)
    cfg: ResolvedConfig | None = None
    try:
        cfg = resolve(options.profile, artifacts=options.artifacts, sets=options.sets, env=env)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    if problems or cfg is None:
        raise UsageError("\n".join(problems))
    return cfg


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


def _start(options: SoakOptions, cfg: ResolvedConfig, env: Mapping[str, str],
           clock: Clock, given_id: str | None) -> _Run:
    started = clock.now()
    base_id = given_id or make_run_id(started, options.profile, options.run_mode, options.seed)
    run_dir = _new_run_dir(options.artifacts, base_id, given_id)
    run_id = run_dir.name
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
    try:
        with fs_errors(run_dir, "cannot start the run"):
            run.write_meta()
            run.store().create(cfg.profile.name, cfg.profile.sha256)
            run.write_report()
    except BaseException:  # a run that never started leaves no folder behind
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run


_OPTION_FIELDS = {"profile": str, "iterations": int, "mode": str, "seed": int,
                  "sim_minutes": int, "gate": str, "sets": list, "tune": bool}


def _recorded_options(meta: Any, where: Path) -> dict[str, Any]:
    """The options a run recorded in ``RUN.json``, checked (a damaged file is a clear error)."""
    options = meta.get("options") if isinstance(meta, dict) else None
    bad = [] if isinstance(options, dict) else ["options"]
    if not bad:
        assert isinstance(options, dict)
        bad = [f"options.{k}" for k, kind in _OPTION_FIELDS.items()
               if not isinstance(options.get(k), kind)
               or (kind is int and isinstance(options.get(k), bool))]
    if bad or not isinstance(meta.get("profile"), dict) \
            or not isinstance(meta["profile"].get("sha256"), str):
        raise ArtifactError(f"{where}: not a soak run's RUN.json (missing or invalid: "
                            f"{', '.join(bad) or 'profile.sha256'}); cannot resume it")
    assert isinstance(options, dict)
    return options


def _reopen(artifacts: Path, run_id: str, env: Mapping[str, str], clock: Clock,
            requested: Mapping[str, Any]) -> _Run:
    run_dir = resolve_run_dir(artifacts, run_id)
    meta = read_json_maybe_gz(run_dir / RUN_FILE)
    o = _recorded_options(meta, run_dir / RUN_FILE)
    if meta.get("status") == "finished":
        raise UsageError(f"run {run_id} already finished; nothing to resume")
    conflicts = resume_conflicts(run_id, o, requested)
    if conflicts:
        raise UsageError("\n".join(conflicts))
    replayed = o.get("market_data")
    options = SoakOptions(profile=o["profile"], iterations=o["iterations"], mode=o["mode"],
                          seed=o["seed"], sim_minutes=o["sim_minutes"], gate=o["gate"],
                          sets=tuple(o["sets"]), artifacts=Path(artifacts), tune=o["tune"],
                          market=str(o.get("market", "default")),
                          market_data=Path(replayed) if replayed else None)
    report = read_json_maybe_gz(run_dir / TUNING_REPORT_FILE)
    have = {f.iteration for f in iteration_files(run_dir)}
    entries = [e for e in report.get("iterations", []) if e["iteration"] in have]
    done = 0
    while done + 1 in have and any(e["iteration"] == done + 1 for e in entries):
        done += 1
    entries = [e for e in entries if e["iteration"] <= done]
    verdicts = []
    revision = -1
    for e in entries:
        path = run_dir / iter_summary_name(e["iteration"])
        doc = read_json_maybe_gz(path)
        try:
            g = doc["gate"]
            verdicts.append((e["iteration"], Verdict(g["verdict"], tuple(g["reasons"]),
                                                     g["gate"], g["phase"])))
            revision = max(revision, int(doc["tuning"]["apply"]["revision"]))
        except (KeyError, TypeError, ValueError):
            raise ArtifactError(f"{path}: not a valid ITER_SUMMARY (gate or tuning.apply "
                                "missing); cannot resume the run") from None
    meta["status"] = "running"
    meta["iterations_done"] = done
    session = Session(options, meta["run_id"], clock, env, meta["profile"]["sha256"],
                      entries, verdicts)
    run = _Run(session, run_dir, meta, [])
    _check_revision(run, revision, done)
    return run


def _check_revision(run: _Run, recorded: int, done: int) -> None:
    """Refuse to resume when ``runtime_overrides.json`` went back behind what the run recorded."""
    if recorded < 0:
        return
    current = run.store().read().revision
    if current < recorded:
        raise UsageError(
            f"{run.run_dir / RUNTIME_FILE}: revision {current} is behind revision {recorded} "
            f"that iteration {done} recorded (the file was restored or replaced); resuming "
            "would drop the tuned values, so the run is not resumed")


def run_soak(
    options: SoakOptions,
    *,
    env: Mapping[str, str] | None = None,
    resume: str | None = None,
    progress: Callable[[IterationReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observers: Sequence[SoakObserver] = (),
    requested: Mapping[str, Any] | None = None,
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
    requested
        With ``resume``: options the caller asked for explicitly (``{"iterations": 60}``);
        one that differs from the run's own is refused, naming both values.
    run_id
        Name of the new run's folder (default: start time, profile, mode and seed); a
        sweep names its cells' runs. It must not exist yet.

    Returns
    -------
    SoakResult
        ``status`` ``interrupted`` (exit code 130 or 143) after Ctrl-C or SIGTERM; the run's
        ``RUN.json`` says so and the run resumes.

    Raises
    ------
    UsageError, ConfigError
        Bad options or configuration, every problem listed (exit code 2); nothing is written.
    FileSystemError
        The file system refused a write (exit code 2); what was written is consistent, and
        ``resume`` continues the run once the problem is fixed.
    LockedError
        The run to resume is still active.
    """
    env = dict(os.environ) if env is None else dict(env)
    clock = clock_from(options.now, env)
    pause = options.sleep_seconds if options.sleep_seconds is not None else sleep_from_env(env)
    if resume is None:
        run = _start(options, _checked_config(options, env), env, clock, run_id)
    else:
        run = _reopen(options.artifacts, resume, env, clock, requested or {})
    session = run.session
    with exclusive_lock(run.run_dir / RUN_LOCK, f"soak run {session.run_id}"):
        status, stopped_by, failure = "finished", None, None
        try:
            for observer in observers:
                observer.started(run.meta, run.run_dir)
            total = session.options.iterations
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
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (soakkit.signals.Terminated)
            status, stopped_by = "interrupted", signal_name(exc)
        except (OSError, SoakkitError) as exc:
            status, failure = "failed", exc
        with deferred_signals():
            verdict = _finish(run, observers, status, stopped_by, failure, clock)
        if failure is None:
            _compact(run)
    if failure is not None:
        raise _stopped(failure, session.run_id, int(run.meta["iterations_done"]))
    if status == "finished":
        try:
            warning = update_latest(session.options.artifacts, session.run_id)
        except OSError as exc:
            warning = (f"{filesystem_error(exc, action='cannot point latest at the run')}; "
                       f"the run is complete: name it with --run {session.run_id}")
        if warning:
            run.warnings.append(warning)
    result = SoakResult(session.run_id, run.run_dir, status, verdict,
                        int(run.meta["iterations_done"]), tuple(run.warnings), stopped_by)
    for observer in observers:
        observer.finished(result)
    return result


def _finish(run: _Run, observers: Sequence[SoakObserver], status: str, stopped_by: str | None,
            failure: BaseException | None, clock: Clock) -> RunVerdict:
    """Record how the run ended in ``RUN.json`` (best effort when the file system refuses)."""
    verdict = judge_run(run.session.verdicts)
    observed = [w for observer in observers for w in observer.warnings]
    if observed:
        run.meta["warnings"] = observed
        run.warnings.extend(observed)
    run.meta.update(status=status, ended_utc=format_utc(clock.now()), verdict=verdict.to_json())
    if stopped_by is not None:
        run.meta["interrupted_by"] = stopped_by
    if failure is not None:
        run.meta["error"] = str(filesystem_error(failure) if isinstance(failure, OSError)
                                else failure)
    try:
        run.write_meta()
    except OSError:
        if failure is None:
            raise
    return verdict


def _compact(run: _Run) -> None:
    """``iterations.parquet`` for readers; a file system that refuses it costs a warning."""
    from soakkit.iterlog_table import compact  # polars: only once the run ends

    try:
        compact(run.run_dir, mtime=run.mtime())
    except OSError as exc:
        run.warnings.append(f"{filesystem_error(exc, action='cannot write the iteration table')}"
                            "; readers use the iteration log")


def _stopped(failure: BaseException, run_id: str, done: int) -> BaseException:
    """The error a run that stopped on ``failure`` raises (with how to continue it)."""
    action = f"run {run_id} stopped after iteration {done} (fix this, then --resume {run_id})"
    if isinstance(failure, OSError):
        return filesystem_error(failure, action=action)
    return failure

