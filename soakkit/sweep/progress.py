"""Progress of a sweep: a bar on a terminal, a line every so often otherwise.

On a terminal: ``[#######.......]  80/160 cells  50%  12.3 cells/s  ETA 0:00:07  1 failed``,
redrawn in place at most five times a second. Under cron or CI: the same figures as one
line every ``interval_s`` seconds (and at the start and the end), so a log shows the
sweep is alive without filling up.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = ["ProgressPrinter", "StartInfo", "SweepProgress", "format_eta"]

_BAR = 28
_REDRAW_S = 0.2


@dataclass(frozen=True)
class StartInfo:
    """What a sweep says when it starts."""

    sweep_id: str
    total: int  #: cells in the grid
    done_before: int  #: cells stored by earlier runs of the same sweep
    batch_size: int
    where: str
    dashboard: str | None
    folder: str


class SweepProgress:
    """Receives a sweep's progress; the default does nothing (for the Python API)."""

    def start(self, info: StartInfo) -> None:
        """The sweep is about to submit its first batch."""

    def advance(self, cells: int, failed: int) -> None:
        """``cells`` more cells are stored, ``failed`` of them with an error."""

    def finish(self, status: str) -> None:
        """The sweep ended (``finished`` or ``interrupted``)."""


def format_eta(seconds: float | None) -> str:
    """``0:01:05``, or ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressPrinter(SweepProgress):
    """Prints progress to ``stream`` (stderr): a bar on a terminal, else periodic lines.

    ``unit`` names what is counted; a subclass may add to each line with :meth:`note`.
    """

    unit = "cells"
    kind = "sweep"

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 interval_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self.monotonic = monotonic
        self.total = self.done = self.failed = self.ran = 0
        self.started = self.last = 0.0
        self.sweep_id = ""

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def start(self, info: StartInfo) -> None:
        self.total, self.done, self.sweep_id = info.total, info.done_before, info.sweep_id
        self.started = self.last = self.monotonic()
        todo = info.total - info.done_before
        earlier = f", {info.done_before} done earlier" if info.done_before else ""
        self._write(f"sweep {info.sweep_id}: {info.total} cells{earlier}, {todo} to run in "
                    f"batches of up to {info.batch_size} on the {info.where}\n")
        if info.dashboard:
            self._write(f"dashboard: {info.dashboard}\n")
        self._write(f"results: {info.folder}\n")
        if self.tty:
            self._draw()

    def _figures(self) -> tuple[float, float | None]:
        elapsed = max(self.monotonic() - self.started, 1e-9)
        rate = self.ran / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        return rate, eta

    def _draw(self) -> None:
        rate, eta = self._figures()
        share = self.done / self.total if self.total else 1.0
        filled = round(share * _BAR)
        failed = f"  {self.failed} failed" if self.failed else ""
        u = self.unit
        self._write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {self.done}/{self.total} {u} "
                    f"{share:4.0%}  {rate:.{self._digits(rate)}f} {u}/s  ETA {format_eta(eta)}"
                    f"{failed}{self.note()}\033[K")

    def _line(self) -> None:
        rate, eta = self._figures()
        share = self.done / self.total if self.total else 1.0
        u = self.unit
        self._write(f"{self.kind} {self.sweep_id}: {self.done}/{self.total} {u} ({share:.0%}), "
                    f"{self.failed} failed, {rate:.{self._digits(rate)}f} {u}/s, ETA "
                    f"{format_eta(eta)}{self.note()}\n")

    @staticmethod
    def _digits(rate: float) -> int:
        """Decimals of a rate: one, or enough to show a slow one (0.004 trials/s)."""
        return 1 if rate >= 1 or rate == 0 else min(4, 1 - math.floor(math.log10(rate)))

    def note(self) -> str:
        """Text added to every progress line (nothing here)."""
        return ""

    def advance(self, cells: int, failed: int) -> None:
        self.done += cells
        self.ran += cells
        self.failed += failed
        now = self.monotonic()
        if self.tty and now - self.last >= _REDRAW_S:
            self.last = now
            self._draw()
        elif not self.tty and now - self.last >= self.interval_s:
            self.last = now
            self._line()

    def finish(self, status: str) -> None:
        if self.tty:
            self._draw()
            self._write("\n")
        else:
            self._line()
