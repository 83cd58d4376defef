"""``soakkit_soak.prom``: a soak run's live state, rewritten after every iteration.

:class:`SoakMetrics` is a :class:`~soakkit.soak.runner.SoakObserver`: pass it to
:func:`~soakkit.soak.runner.run_soak` (``soakkit soak --metrics-dir DIR`` does). A write
that fails never stops the soak: the first failure is reported through ``warn``, later
ones are counted, and :attr:`SoakMetrics.warnings` (which the runner records in
``RUN.json``) says how many writes failed. :func:`soak_snapshot` rebuilds the state from a
run folder (a resumed run's counters continue where they were).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soakkit.artifacts.layout import (
    RUN_FILE,
    TUNING_REPORT_FILE,
    iteration_files,
    read_json_maybe_gz,
)
from soakkit.core.errors import SoakkitError
from soakkit.core.io import Clock, parse_utc
from soakkit.gate import GATES
from soakkit.metrics import names as N
from soakkit.metrics.textfile import Exposition, write_textfile
from soakkit.soak.iteration import IterationReport, tuning_report
from soakkit.soak.runner import SoakObserver, SoakResult

__all__ = ["SoakMetrics", "SoakSnapshot", "render_soak", "soak_snapshot"]


def _epoch(text: str | None) -> float | None:
    return parse_utc(text).timestamp() if text else None


@dataclass
class SoakSnapshot:
    """What ``soakkit_soak.prom`` shows: a run's labels, progress, last iteration and counts."""

    run_id: str
    profile: str
    mode: str
    gate: str
    planned: int
    status: str = "running"
    started: float | None = None
    entries: list[Mapping[str, Any]] = field(default_factory=list)  #: TUNING_REPORT entries
    last_doc: Mapping[str, Any] | None = None  #: the last iteration's ITER_SUMMARY
    last_end: float | None = None
    last_success: float | None = None

    def record(self, doc: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
        """Take in one finished iteration (its ITER_SUMMARY document and TUNING_REPORT entry)."""
        n = int(entry["iteration"])
        self.entries = [e for e in self.entries if int(e["iteration"]) != n] + [entry]
        self.last_doc = doc
        self.last_end = _epoch(doc.get("ended_utc"))
        if doc["gate"]["verdict"] != "FAIL":
            self.last_success = self.last_end

    @property
    def labels(self) -> dict[str, str]:
        return {"run_id": self.run_id, "profile": self.profile, "mode": self.mode,
                "gate": self.gate}


def soak_snapshot(run_dir: Path, meta: Mapping[str, Any] | None = None) -> SoakSnapshot:
    """The snapshot of the run in ``run_dir`` as its files stand (``meta``: its RUN.json)."""
    run_dir = Path(run_dir)
    meta = meta if meta is not None else read_json_maybe_gz(run_dir / RUN_FILE)
    options = meta["options"]
    snap = SoakSnapshot(str(meta["run_id"]), str(options["profile"]), str(options["mode"]),
                        str(options["gate"]), int(options["iterations"]),
                        status=str(meta.get("status") or "running"),
                        started=_epoch(meta.get("started_utc")))
    done = int(meta.get("iterations_done") or 0)
    if done == 0:
        return snap
    try:
        report = read_json_maybe_gz(run_dir / TUNING_REPORT_FILE)
    except SoakkitError:
        report = {}
    snap.entries = [e for e in report.get("iterations", []) if int(e["iteration"]) <= done]
    files = {f.iteration: f.path for f in iteration_files(run_dir)}
    passed = [int(e["iteration"]) for e in snap.entries if e.get("kpi_verdict") != "FAIL"]
    for n in sorted({done, *passed[-1:]}):
        if n in files:
            try:
                doc = read_json_maybe_gz(files[n])
            except SoakkitError:
                continue  # rotated or torn: the next iteration brings it back
            if n == done:
                snap.last_doc = doc
                snap.last_end = _epoch(doc.get("ended_utc"))
            if passed and n == passed[-1]:
                snap.last_success = _epoch(doc.get("ended_utc"))
    return snap


def _fail_streak(entries: Sequence[Mapping[str, Any]]) -> int:
    streak = 0
    for e in sorted(entries, key=lambda e: int(e["iteration"])):
        streak = streak + 1 if e.get("kpi_verdict") == "FAIL" else 0
    return streak


def render_soak(snap: SoakSnapshot) -> Exposition:
    """The samples of ``soakkit_soak.prom`` for ``snap``."""
    out = Exposition()
    run = snap.labels
    for status in N.STATUSES:
        out.add(N.SOAK_STATUS, int(status == snap.status), {**run, "status": status})
    if snap.started is not None:
        out.add(N.SOAK_START, snap.started, run, exact=True)
    completed = max((int(e["iteration"]) for e in snap.entries), default=0)
    out.add(N.SOAK_COMPLETED, completed, run)
    out.add(N.SOAK_PLANNED, snap.planned, run)
    out.add(N.SOAK_PROGRESS, completed / snap.planned if snap.planned else 0.0, run)
    if snap.last_end is not None:
        out.add(N.SOAK_LAST_END, snap.last_end, run, exact=True)
    if snap.last_success is not None:
        out.add(N.SOAK_LAST_SUCCESS, snap.last_success, run, exact=True)
    verdicts = [str(e.get("kpi_verdict")) for e in snap.entries]
    for verdict in N.VERDICTS:
        out.add(N.SOAK_ITERATIONS, verdicts.count(verdict), {**run, "verdict": verdict})
    out.add(N.SOAK_FAIL_STREAK, _fail_streak(snap.entries), run)
    summary = tuning_report(snap.run_id, snap.entries)["summary"]
    out.add(N.TUNER_APPLIED, summary["applied"], run)
    out.add(N.TUNER_REVERTS, summary[N.REVERT_COUNTER], run)
    for guard in N.GUARD_COUNTERS:
        out.add(N.TUNER_GUARDS, summary[guard], {**run, "guard": guard})
    for param in N.PARAM_VALUES:
        lower, upper = N.param_bounds(param)
        out.add(N.PARAM_LOWER[param], lower)
        out.add(N.PARAM_UPPER[param], upper)
    doc = snap.last_doc
    if doc is None:
        return out
    last_verdict = doc["gate"]["verdict"]
    for verdict in N.VERDICTS:
        out.add(N.SOAK_VERDICT, int(verdict == last_verdict), {**run, "verdict": verdict})
    summary_kpis = doc.get("summary", {})
    for kpi, metric in N.KPI_VALUES.items():
        value = summary_kpis.get(kpi)
        if isinstance(value, int | float):  # a KPI without data (no fills) is left out
            out.add(metric, float(value) * N.kpi_scale(kpi), run)
    gate = GATES[doc["gate"]["gate"]]
    for th in gate.thresholds:
        if th.kpi in N.KPI_THRESHOLDS:
            out.add(N.KPI_THRESHOLDS[th.kpi], th.value * N.kpi_scale(th.kpi),
                    {**run, "phase": str(doc["gate"]["phase"]), "op": th.op})
    params = doc.get("params", {})
    for param, metric in N.PARAM_VALUES.items():
        value = params.get(param, {}).get("value")
        if isinstance(value, int | float):
            out.add(metric, float(value) * N.param_scale(param), run)
    return out


class SoakMetrics(SoakObserver):
    """Rewrites ``<directory>/soakkit_soak.prom`` when a run starts, after every iteration
    and when it ends.

    Parameters
    ----------
    directory
        The node_exporter textfile folder (check it first with
        :func:`~soakkit.metrics.textfile.check_metrics_dir`).
    clock
        Stamps the file's modification time (the run's clock).
    warn
        Receives one line the first time a write fails (the soak goes on).
    """

    def __init__(self, directory: Path, *, clock: Clock | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.directory = Path(directory)
        self.clock = clock
        self.warn = warn
        self.snapshot: SoakSnapshot | None = None
        self.writes = 0
        self.failures = 0
        self.first_error: str | None = None

    @property
    def path(self) -> Path:
        return self.directory / N.SOAK_FILE

    @property
    def warnings(self) -> Sequence[str]:
        """How many writes failed and the first error (the runner records it in RUN.json
        before the final write, whose failure is only warned about)."""
        if not self.failures:
            return []
        return [f"metrics: {self.failures} of {self.writes} writes of {self.path} failed "
                f"(first: {self.first_error}); the soak went on without them"]

    def _write(self) -> None:
        if self.snapshot is None:
            return
        self.writes += 1
        mtime = self.clock.now().timestamp() if self.clock else None
        try:
            write_textfile(self.directory, N.SOAK_FILE, render_soak(self.snapshot), mtime=mtime)
        except OSError as exc:
            self.failures += 1
            if self.first_error is None:
                self.first_error = f"{exc.strerror or exc}"
                if self.warn is not None:
                    self.warn(f"metrics: cannot write {self.path}: {self.first_error}; the "
                              "soak goes on (later failures are counted in RUN.json)")

    def started(self, meta: Mapping[str, Any], run_dir: Path) -> None:
        self.snapshot = soak_snapshot(run_dir, {**meta, "status": "running"})
        self._write()

    def iteration(self, report: IterationReport) -> None:
        if self.snapshot is not None:
            self.snapshot.record(report.doc, report.entry)
        self._write()

    def finished(self, result: SoakResult) -> None:
        if self.snapshot is not None:
            self.snapshot.status = result.status
        self._write()
