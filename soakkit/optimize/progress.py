"""Progress of a study: the sweep's bar (or periodic lines off a terminal), counting trials,
with the best feasible trial so far."""

from __future__ import annotations

import math
from dataclasses import dataclass

from soakkit.optimize.search import TrialDone
from soakkit.sweep.progress import ProgressPrinter, StartInfo, SweepProgress

__all__ = ["OptimizePrinter", "OptimizeProgress", "StudyStart"]


@dataclass(frozen=True)
class StudyStart:
    """What a study says when it starts."""

    name: str
    trials: int
    done_before: int
    window: int
    where: str
    dashboard: str | None
    folder: str
    markets: str  #: "calm, volatile: 480 iterations a trial"


class OptimizeProgress(SweepProgress):
    """Receives a study's progress; the default does nothing (for the Python API)."""

    def begin(self, info: StudyStart) -> None:
        """The search is about to ask its first trial."""

    def told(self, done: TrialDone) -> None:
        """A trial was told."""

    def stage(self, text: str) -> None:
        """A step after the search (the out-of-sample evaluation)."""


class OptimizePrinter(ProgressPrinter, OptimizeProgress):
    """Prints a study's progress to ``stream`` (stderr)."""

    unit = "trials"
    kind = "optimize"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.best: tuple[float, int] | None = None

    def begin(self, info: StudyStart) -> None:
        earlier = f", {info.done_before} done earlier" if info.done_before else ""
        self._write(f"optimize {info.name}: {info.trials} trials{earlier}, {info.window} in "
                    f"flight on the {info.where}\n  each trial: {info.markets}\n")
        self.start(StartInfo(info.name, info.trials, info.done_before, 1, info.where,
                             info.dashboard, info.folder))

    def start(self, info: StartInfo) -> None:
        self.total, self.done, self.sweep_id = info.total, info.done_before, info.sweep_id
        self.started = self.last = self.monotonic()
        if info.dashboard:
            self._write(f"dashboard: {info.dashboard}\n")
        self._write(f"study: {info.folder}\n")
        if self.tty:
            self._draw()

    def told(self, done: TrialDone) -> None:
        score = done.score
        if done.feasible and score is not None and math.isfinite(score.objective) and (
                self.best is None or score.objective > self.best[0]):
            self.best = (score.objective, done.number)
        self.advance(1, 0 if score is not None else 1)

    def note(self) -> str:
        return "" if self.best is None else \
            f"  best {self.best[0]:.4g} (trial {self.best[1]})"

    def stage(self, text: str) -> None:
        self._write(f"{text}\n")
