"""``run_optimize``: validate, connect (the sweep's cluster options), search, conclude.

A rerun of the same command continues the study: the told trials stay in the journal,
the trials a killed client left running run again, and a finished study whose result is
written returns at once, without a cluster.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soakkit.core.errors import ClusterError, ExitCode
from soakkit.core.io import clock_from, format_utc
from soakkit.core.signals import signal_name
from soakkit.optimize.conclude import SUPPORTED, conclude
from soakkit.optimize.plan import Plan, build_plan, execution_spec
from soakkit.optimize.progress import OptimizeProgress, StudyStart
from soakkit.optimize.recommend import check_profile_free
from soakkit.optimize.search import LostCluster, Search, open_study
from soakkit.optimize.spec import OptimizeSpec
from soakkit.optimize.store import StudyStore, studies_root
from soakkit.sweep.cluster import connect

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["OptimizeResult", "run_optimize"]


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of one run of a study."""

    name: str
    folder: Path
    status: str  #: finished | interrupted
    trials: int  #: trials asked for
    done_before: int  #: trials told by earlier runs
    ran: int  #: trials told now
    failed: int  #: trials failed now
    result: Mapping[str, Any] | None = None  #: ``result.json`` (finished studies)
    interrupted_by: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str | None:
        """``supported``, ``not supported``, ``no better``, ``infeasible`` or ``empty``."""
        return None if self.result is None else str(self.result.get("verdict"))

    @property
    def exit_code(self) -> int:
        """0 a supported recommendation; 1 none (or a trial failed); 130/143 interrupted."""
        if self.status == "interrupted":
            return ExitCode.SIGTERM if self.interrupted_by == "SIGTERM" else ExitCode.SIGINT
        return ExitCode.OK if self.verdict == SUPPORTED and not self.failed else \
            ExitCode.FAILED

    def _repr_html_(self) -> str:
        verdict = html.escape(self.verdict or self.status)
        return (f"<p><b>study {html.escape(self.name)}</b>: {verdict}; {self.trials} trials "
                f"({self.done_before} earlier, {self.ran} now, {self.failed} failed) in "
                f"<code>{html.escape(str(self.folder))}</code></p>")


def _markets_text(plan: Plan) -> str:
    cal = plan.data.calibration
    names = ", ".join(g.name for g in cal.groups)
    return f"{cal.size:,} iterations on {names} (seeds {cal.groups[0].seeds[0]}..)"


def _finished(store: StudyStore, plan: Plan) -> Mapping[str, Any] | None:
    """``result.json`` when the study already holds every trial asked for and its result."""
    result = store.read_result()
    if result is None or int(result.get("trials", 0)) < plan.spec.trials:
        return None
    return result


def run_optimize(spec: OptimizeSpec, client: Client | None = None, *,
                 progress: OptimizeProgress | None = None,
                 env: Mapping[str, str] | None = None) -> OptimizeResult:
    """Run (or continue) a study and write its result and recommended profile.

    Parameters
    ----------
    spec
        The search space, the markets and how to run.
    client
        A connected :class:`distributed.Client`; default: ``spec.scheduler``,
        ``spec.scheduler_file``, ``DASK_SCHEDULER_ADDRESS``, else a local cluster that
        lives as long as the call (the sweep's cluster options).
    progress
        Receives progress (:class:`~soakkit.optimize.progress.OptimizePrinter` prints it).
    env
        Environment (``SOAKKIT_NOW``); default ``os.environ``. ``DASK_SCHEDULER_ADDRESS``
        is read by Dask's configuration, as for ``soakkit sweep``.

    Raises
    ------
    UsageError
        Bad spec, or an unreachable scheduler, before any work starts (exit code 2).
    LockedError
        Another client is running the same study.
    """
    env = os.environ if env is None else env
    progress = progress or OptimizeProgress()
    plan = build_plan(spec)
    store = StudyStore(studies_root(spec.artifacts) / plan.name)
    store.check_same(plan.identity())
    clock = clock_from(spec.now, env)
    done = _finished(store, plan)
    if spec.write_profile != "never" and done is None:
        check_profile_free(spec.artifacts, plan.name, spec.trials)
    if done is not None:
        store.mark_latest()
        return OptimizeResult(plan.name, store.folder, "finished", spec.trials,
                              int(done["trials"]), 0, 0, done)
    with store.lock(), connect(execution_spec(spec), client) as conn:
        store.remove_stale_files()
        store.create(plan.identity(), format_utc(clock.now()), clock.now().timestamp())
        now = str((store.read_meta() or {}).get("created_utc"))

        def mtime() -> float:
            return clock.now().timestamp()

        study = open_study(store)
        search = Search(plan, study, store, conn, now, mtime, progress.told)
        before = search.finished()
        progress.begin(StudyStart(plan.name, spec.trials, before, search.window, conn.where,
                                  conn.dashboard, str(store.folder), _markets_text(plan)))
        status, stopped_by, result = "finished", None, None
        try:
            search.run(spec.trials)
            progress.finish("finished")
            result = conclude(plan, study, store, conn, now, mtime, progress.stage)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (soakkit.core.signals)
            status, stopped_by = "interrupted", signal_name(exc)
            progress.finish(status)
        except (LostCluster, OSError, TimeoutError) as exc:  # the scheduler went away
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ClusterError(f"study {plan.name}: lost the Dask cluster ({conn.where}): "
                               f"{why}; {search.ran} trials told now, rerun the same command "
                               "to continue") from None
        notes = (search.stopped,) if search.stopped else ()
        if status == "finished":
            store.mark_latest()
    return OptimizeResult(plan.name, store.folder, status, spec.trials, before, search.ran,
                          search.failed, result, stopped_by, notes)
