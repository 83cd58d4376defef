"""The search: Optuna's ask-and-tell over Dask, with a bounded window of trials in flight.

**Storage.** The study lives in Optuna's :class:`~optuna.storages.JournalStorage` with a file
backend (``journal.log``, append-only, fsynced): a killed or interrupted client leaves every
told trial in it, and the rerun continues. Trials still running when the client died are
run again under their own numbers with their own parameters (their rows, when they were
stored, are read back instead; a trial cut off while it was being asked gets the draws that
ask made, :func:`~soakkit.optimize.sampling.drawn_at_ask`).

**Determinism.** Trials are told in number order, and trial ``k`` is asked right after
trial ``k − window`` is told (before any later trial is told), with a sampler seeded from
the study's seed and ``k``: trial ``k`` is sampled from the same history (trials below
``k − window`` told, the rest in flight) whatever the cluster's speed, its number of
workers or an interruption (``tests/test_optimize_dask.py``). ``--window`` (trials in
flight, default :data:`DEFAULT_WINDOW`) is part of that history; more workers split each
trial into more tasks instead (:func:`~soakkit.optimize.tasks.chunks_per_group`).

**Samplers.** ``tpe``: Optuna's multivariate TPE with the constant liar (trials in flight
count as bad) and constraints (``Trial.set_constraint``: infeasible trials rank after every
feasible one); ``random``; ``grid``: evenly spaced levels of each parameter, as many as the
budget allows, enqueued after the baseline (the fixed grid a search must beat).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from soakkit.config.params import ParamSpec, Value
from soakkit.core.errors import ArtifactError, ClusterError
from soakkit.optimize.plan import Plan
from soakkit.optimize.sampling import drawn_at_ask, replaying, sampler_for
from soakkit.optimize.scoring import Score, constraints, score_rows
from soakkit.optimize.space import distributions, values_of
from soakkit.optimize.store import StudyStore
from soakkit.optimize.tasks import Config, chunks_per_group, combine, payloads
from soakkit.sweep.cluster import Connection
from soakkit.sweep.rows import Columns
from soakkit.sweep.task import BatchPayload, run_batch

if TYPE_CHECKING:
    import optuna

__all__ = ["BASELINE_TRIAL", "DEFAULT_WINDOW", "Flight", "LostCluster", "Search", "TrialDone",
           "grid_levels", "grid_points", "open_study", "run_tasks"]

#: Trials in flight unless ``--window`` says otherwise (part of a study's history).
DEFAULT_WINDOW = 4
#: The first trial: the starting profile's own values, enqueued when the study is created.
BASELINE_TRIAL = 0
_POLL_S = 0.02
_ERROR_CHARS = 600


class LostCluster(Exception):
    """The client lost its scheduler: what is in flight will not come back."""


def open_study(store: StudyStore, *, read_only: bool = False) -> optuna.Study:
    """The study in ``store``'s journal, created (maximising) when new; ``read_only``: an
    existing one is loaded and nothing is written (the report)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if read_only and not store.journal_path.is_file():
        raise ArtifactError(f"{store.journal_path}: no journal: the study never started")
    storage = JournalStorage(JournalFileBackend(str(store.journal_path)))
    if read_only:
        return optuna.load_study(study_name=store.folder.name, storage=storage)
    return optuna.create_study(study_name=store.folder.name, storage=storage,
                               direction="maximize", load_if_exists=True)


def grid_levels(specs: Mapping[str, ParamSpec], params: tuple[str, ...], budget: int
                ) -> dict[str, list[Value]]:
    """``L`` evenly spaced levels of each parameter (the midpoints of ``L`` equal bins), the
    largest ``L ≥ 2`` whose grid of ``L ** len(params)`` points fits in ``budget``."""
    levels = max(2, math.floor(budget ** (1.0 / len(params)) + 1e-9))
    while levels > 2 and levels ** len(params) > budget:
        levels -= 1
    out = {}
    for name in params:
        spec = specs[name]
        grid = [spec.cast(spec.lo + (i + 0.5) / levels * spec.span) for i in range(levels)]
        out[name] = list(dict.fromkeys(grid))
    return out


def grid_points(specs: Mapping[str, ParamSpec], params: tuple[str, ...], budget: int
                ) -> list[dict[str, Value]]:
    """Every point of :func:`grid_levels`, in a fixed order."""
    levels = grid_levels(specs, params, budget)
    return [dict(zip(params, point, strict=True))
            for point in itertools.product(*(levels[n] for n in params))]


def _describe(exc: BaseException) -> str:
    return f"task failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:_ERROR_CHARS]


@dataclass
class Flight:
    """A configuration in flight: its tasks and the parts that came back (or its stored
    rows)."""

    number: int
    trial: Any  #: optuna.trial.Trial (None: not a trial of the study)
    config: Config
    key: str
    batches: list[BatchPayload]
    parts: list[Columns | None] = field(default_factory=list)
    stored: bool = False
    error: str | None = None

    def __post_init__(self) -> None:
        self.parts = [None] * len(self.batches)

    @property
    def ready(self) -> bool:
        """Its rows are stored, or every part came back, or a part failed."""
        return self.stored or self.error is not None or all(p is not None for p in self.parts)


@dataclass(frozen=True)
class TrialDone:
    """A trial just told: what progress shows."""

    number: int
    score: Score | None  #: None: failed
    feasible: bool
    error: str | None


def _run_here(flight: Flight) -> None:
    """Every batch of ``flight`` in this process, one after another (no cluster)."""
    for i, batch in enumerate(flight.batches):
        if flight.ready:
            return
        try:
            flight.parts[i] = run_batch(batch)
        except Exception as exc:  # as a worker's task dying: the configuration failed
            flight.error = _describe(exc)


def _submit(conn: Connection, flight: Flight, queue: Any, futures: dict[str, Any],
            name: str) -> None:
    from distributed.client import ClosedClientError

    client = conn.client
    if client is None:  # one worker, no cluster: the flight runs here, now
        _run_here(flight)
        return
    for i, batch in enumerate(flight.batches):
        key = f"soakkit-optimize-{name}-{flight.number}-{i}-{uuid.uuid4().hex[:8]}"
        try:
            future = client.submit(run_batch, batch, key=key, pure=False)
        except ClosedClientError as exc:
            raise LostCluster(str(exc)) from None
        futures[key] = (future, flight, i)
        queue.add(future)


def _receive(queue: Any, futures: dict[str, Any]) -> None:
    """Wait (polling, so Ctrl-C is seen) for one task and put its result in its flight."""
    while not queue.has_ready():
        time.sleep(_POLL_S)
    future = next(queue)
    _, flight, i = futures.pop(str(future.key))
    if future.status == "cancelled":  # not by us: the scheduler is gone
        raise LostCluster("the scheduler cancelled the tasks in flight")
    try:
        flight.parts[i] = future.result()
    except Exception as exc:  # the task died: the configuration failed
        flight.error = _describe(exc)
    future.release()


def _cancel(conn: Connection, futures: dict[str, Any]) -> None:
    if futures and conn.client is not None:
        with contextlib.suppress(Exception):  # the cluster may be gone already
            conn.client.cancel([f for f, _, _ in futures.values()])


def run_tasks(conn: Connection, flights: list[Flight], name: str,
              on_ready: Callable[[Flight], None]) -> None:
    """Run every flight not stored yet, calling ``on_ready`` as each one completes (in
    this process, one after another, when the connection has no cluster: one worker)."""
    if conn.client is None:
        for flight in flights:
            _run_here(flight)
            on_ready(flight)
        return
    from distributed import as_completed

    queue, futures = as_completed(), dict[str, Any]()
    try:
        for flight in flights:
            if flight.ready:
                on_ready(flight)
            else:
                _submit(conn, flight, queue, futures, name)
        waiting = [f for f in flights if not f.ready]
        while waiting:
            _receive(queue, futures)
            for flight in [f for f in waiting if f.ready]:
                waiting.remove(flight)
                on_ready(flight)
    finally:
        _cancel(conn, futures)


class Search:
    """One session of a study's search (see the module docstring)."""

    def __init__(self, plan: Plan, study: optuna.Study, store: StudyStore, conn: Connection,
                 now: str, mtime: Callable[[], float | None],
                 on_told: Callable[[TrialDone], None]) -> None:
        self.plan, self.study, self.store, self.conn = plan, study, store, conn
        self.now, self.mtime, self.on_told = now, mtime, on_told
        self.window = plan.spec.window or DEFAULT_WINDOW
        self.space = distributions(plan.specs, plan.params)
        self.groups = tuple(g.name for g in plan.data.calibration.groups)
        self.baseline: Score | None = None
        self.ran = self.failed = 0
        self.stopped: str | None = None  #: why the search stopped early (baseline failed)

    # -- trials -------------------------------------------------------------------------
    def _flight(self, trial: Any, number: int, values: Mapping[str, Value]) -> Flight:
        config = Config(f"trial {number}", self.plan.profile, dict(values), False)
        cal = self.plan.data.calibration
        key = self.plan.config_key(values, False, cal)
        chunks = chunks_per_group(self.conn.threads(), self.window, len(cal.groups),
                                  min(len(g.seeds) for g in cal.groups))
        return Flight(number, trial, config, key,
                       payloads(config, cal, self.plan.data, key, gate=self.plan.spec.gate,
                                now=self.now, strategy=self.plan.spec.strategy,
                                chunks=chunks),
                       stored=self.store.has_rows("trials", key))

    def _ask(self) -> Flight:
        from optuna.trial import TrialState

        asked = len(self.study.get_trials(deepcopy=False, states=(
            TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)))
        self.study.sampler = sampler_for(self.plan.spec.sampler, self.plan.spec.seed, asked)
        trial = self.study.ask(self.space)
        values = values_of(self.plan.specs, trial.params)
        trial.set_user_attr("values", values)
        return self._flight(trial, trial.number, values)

    def _resume(self, frozen: Any) -> Flight:
        """A trial a killed client left running: its own number and parameters again."""
        import optuna

        trial = optuna.trial.Trial(self.study, frozen._trial_id)  # the handle tell needs
        missing = [n for n in self.plan.params if n not in frozen.params]
        if missing:  # killed while it was being asked: what that ask drew, not a new draw
            drawn = drawn_at_ask(self.study, frozen, self.space, self.plan.spec.sampler,
                                 self.plan.spec.seed)
            self.study.sampler = replaying(drawn)
            for name in missing:
                dist = self.space[name]
                if isinstance(dist, optuna.distributions.IntDistribution):
                    trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
                else:
                    assert isinstance(dist, optuna.distributions.FloatDistribution)
                    trial.suggest_float(name, dist.low, dist.high, step=dist.step,
                                        log=dist.log)
        values = values_of(self.plan.specs, {n: trial.params[n] for n in self.plan.params})
        trial.set_user_attr("values", values)
        return self._flight(trial, frozen.number, values)

    def _rows(self, flight: Flight) -> Any:
        if flight.stored:
            return self.store.read_rows("trials", flight.key)
        return combine([p for p in flight.parts if p is not None],
                       self.plan.data.calibration, flight.batches)

    def _tell(self, flight: Flight) -> None:
        from optuna.trial import TrialState

        trial = flight.trial
        trial.set_user_attr("key", flight.key)
        error = flight.error
        score = None
        if error is None:
            rows = self._rows(flight)
            score = score_rows(rows, self.plan.spec.gate, self.groups)
            error = score.error
            if error is None and not flight.stored:
                self.store.write_rows("trials", flight.key, rows, self.mtime())
        if error is not None or score is None:
            trial.set_user_attr("error", error)
            self.study.tell(trial, state=TrialState.FAIL)
            self.failed += 1
            self.ran += 1
            if flight.number == BASELINE_TRIAL:
                self.stopped = f"the starting profile failed on the calibration markets: {error}"
            self.on_told(TrialDone(flight.number, None, False, error))
            return
        if flight.number == BASELINE_TRIAL:
            self.baseline = score
        base = self.baseline or self._baseline_score()
        limits = constraints(score, base, self.plan.spec.gate)
        already = trial.constraints  # those a killed client's tell wrote (the same values)
        for name, value in limits.items():
            if name not in already:
                trial.set_constraint(name, value)
        trial.set_user_attr("score", score.attrs())
        self.study.tell(trial, score.objective)
        self.ran += 1
        self.on_told(TrialDone(flight.number, score, all(v <= 0 for v in limits.values()),
                               None))

    def _baseline_score(self) -> Score:
        """The starting profile's score, from trial 0's stored rows (a resumed study)."""
        if self.baseline is None:
            frozen = self.study.trials[BASELINE_TRIAL]
            key = frozen.user_attrs.get("key")
            if key is None or not self.store.has_rows("trials", key):
                raise ClusterError(f"study {self.store.folder.name}: the rows of trial 0 (the "
                                   "starting profile) are missing; start a new study")
            rows = self.store.read_rows("trials", key)
            self.baseline = score_rows(rows, self.plan.spec.gate, self.groups)
        return self.baseline

    # -- the loop -----------------------------------------------------------------------
    def finished(self) -> int:
        """Trials told (complete or failed) so far."""
        from optuna.trial import TrialState

        return len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                                 TrialState.FAIL)))

    def _enqueue_fixed(self) -> None:
        """Enqueue the baseline (and the grid's points) when the study starts, or the rest of
        them when a killed client enqueued only some (nothing was asked yet: all waiting)."""
        from optuna.trial import TrialState

        fixed: list[Mapping[str, Value]] = [dict(self.plan.profile_values)]
        if self.plan.spec.sampler == "grid":
            fixed += grid_points(self.plan.specs, self.plan.params, self.plan.spec.trials - 1)
        trials = self.study.get_trials(deepcopy=False)
        if any(t.state != TrialState.WAITING for t in trials):
            return
        for point in fixed[len(trials):]:
            self.study.enqueue_trial(dict(point))

    def run(self, target: int) -> None:
        """Ask, run and tell until ``target`` trials are told (or the baseline failed)."""
        from distributed import as_completed
        from optuna.trial import TrialState

        self._enqueue_fixed()
        if self.study.trials[BASELINE_TRIAL].state == TrialState.FAIL:
            self.stopped = "the starting profile failed on the calibration markets: " + \
                str(self.study.trials[BASELINE_TRIAL].user_attrs.get("error"))
            return
        stale = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        flights: OrderedDict[int, Flight] = OrderedDict(
            (t.number, self._resume(t)) for t in sorted(stale, key=lambda t: t.number))
        told = self.finished()
        queue = as_completed() if self.conn.client is not None else None  # None: in process
        futures = dict[str, Any]()
        name = self.store.folder.name
        try:
            for flight in flights.values():
                if not flight.ready:
                    _submit(self.conn, flight, queue, futures, name)
            while True:
                # refill the window after every single tell: trial k is asked right after
                # trial k - window is told, before any later one, whatever finished first
                while len(flights) < self.window and told + len(flights) < target:
                    flight = self._ask()
                    flights[flight.number] = flight
                    if not flight.ready:
                        _submit(self.conn, flight, queue, futures, name)
                if not flights:
                    return
                if next(iter(flights.values())).ready:
                    self._tell(flights.popitem(last=False)[1])
                    told += 1
                    if self.stopped:
                        return
                else:
                    _receive(queue, futures)
        finally:
            _cancel(self.conn, futures)
