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

from soakkit.artifacts.layout import RUN_LOCK, update_latest
from soakkit.config.layers import ResolvedConfig, resolve
from soakkit.core.errors import (
    ConfigError,
    ExitCode,
    SoakkitError,
    StrategyError,
    UsageError,
    filesystem_error,
)
from soakkit.core.io import Clock, clock_from, format_utc
from soakkit.core.locks import exclusive_lock
from soakkit.core.signals import deferred_signals, signal_name
from soakkit.gate import RunVerdict, judge_run
from soakkit.soak.iteration import IterationReport, run_iteration
from soakkit.soak.options import SoakOptions, option_problems, sleep_from_env, strategy_problems
from soakkit.soak.resume import reopen_run
from soakkit.soak.rundir import RunFolder, start_run
from soakkit.strategy.registry import load_strategy

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


def _gap_warnings(report: IterationReport) -> list[str]:
    """One line per silence in a replayed window (reported, never filled in)."""
    market = report.doc.get("market", {})
    return [f"iteration {report.iteration}: the tape is silent for {g['length_s']:.1f} s "
            f"from {g['at_s']:.1f} s into the window ({market.get('window_start_utc')}); "
            "the book stays as it was" for g in market.get("gaps", [])]


def _checked_config(options: SoakOptions, env: Mapping[str, str]) -> ResolvedConfig:
    """The run's configuration; every bad option and configuration problem, together."""
    problems = option_problems(options)
    unusable = strategy_problems(options, env)  # without a strategy, no parameters to check
    problems += unusable
    cfg: ResolvedConfig | None = None
    try:
        if not unusable:
            cfg = resolve(options.profile, artifacts=options.artifacts, sets=options.sets,
                          env=env, params=load_strategy(options.strategy, env).params)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    if problems or cfg is None:
        raise UsageError("\n".join(problems))
    return cfg


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
        run = start_run(options, _checked_config(options, env), env, clock, run_id)
    else:
        run = reopen_run(options.artifacts, resume, env, clock, requested or {})
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
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (soakkit.core.signals.Terminated)
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


def _finish(run: RunFolder, observers: Sequence[SoakObserver], status: str, stopped_by: str | None,
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


def _compact(run: RunFolder) -> None:
    """``iterations.parquet`` for readers; a file system that refuses it costs a warning."""
    from soakkit.artifacts.iterlog_table import compact  # polars: only once the run ends

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
    if isinstance(failure, StrategyError):
        return StrategyError(f"{failure}; {action}")
    return failure
