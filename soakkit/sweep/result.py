"""What :func:`~soakkit.sweep.run_sweep` returns: counts, exit code, results and a summary."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from soakkit.core.errors import ExitCode
from soakkit.core.tables import table_html
from soakkit.sweep.store import load_results
from soakkit.sweep.summary import cell_summary, config_summary, configuration_axes

__all__ = ["SweepResult"]

@dataclass(frozen=True)
class SweepResult:
    """The outcome of one run of a sweep.

    ``cells`` is the grid's size; ``done_before`` cells were stored by earlier runs,
    ``ran`` were run now, ``failed`` of those with an error (recorded in the results),
    and ``missing`` have no result yet (only after an interruption).
    """

    sweep_id: str
    folder: Path
    artifacts: Path
    status: str  #: finished | interrupted
    cells: int
    done_before: int
    ran: int
    failed: int
    columns: tuple[str, ...]
    failures: tuple[str, ...] = field(default=())  #: the first failed cells and their errors
    warnings: tuple[str, ...] = field(default=())
    interrupted_by: str | None = None  #: SIGINT or SIGTERM when interrupted

    @property
    def missing(self) -> int:
        return self.cells - self.done_before - self.ran

    @property
    def exit_code(self) -> int:
        """0 every cell ran, 1 a cell failed, 130 interrupted (143 by SIGTERM)."""
        if self.status == "interrupted":
            return ExitCode.SIGTERM if self.interrupted_by == "SIGTERM" else ExitCode.SIGINT
        return ExitCode.FAILED if self.failed else ExitCode.OK

    def frame(self) -> pl.DataFrame:
        """Every cell × iteration (or failed cell) of the sweep, each cell once."""
        return load_results(self.artifacts, self.sweep_id)

    def summary(self) -> pl.DataFrame:
        """One row per configuration (every axis but mode and seed): cells, failures, means."""
        axes = [c for c in self.columns if c != "cell_key"]
        cells = cell_summary(self.frame(), axes)
        return config_summary(cells, configuration_axes(axes))

    def _repr_html_(self) -> str:
        head = (f"<p><b>sweep {html.escape(self.sweep_id)}</b>: {self.status}, "
                f"{self.cells} cells ({self.done_before} done earlier, {self.ran} run now, "
                f"{self.failed} failed, {self.missing} missing) in "
                f"<code>{html.escape(str(self.folder))}</code></p>")
        return head + table_html(self.summary())
