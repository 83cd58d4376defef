"""The rows a sweep stores: one per cell × iteration, or one per failed cell.

Workers build them as plain columns (lists), the client writes them as parquet. The
columns are the cell's identity and axes, the iteration's regime and verdicts, every
scalar KPI of :data:`soakkit.kpi.KPIS` (so KPIs added there appear here without a
change), and ``error`` (null for a cell that ran; the error for one that failed, whose
row has no iteration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soakkit.kpi import KPIS
from soakkit.soak.iteration import IterationReport

__all__ = ["CELL_COLUMNS", "ITERATION_COLUMNS", "Columns", "add_cell", "cell_identity",
           "kpi_columns", "new_columns"]

#: Identity of the cell every row starts with (``set_*`` axes follow ``tune``).
CELL_COLUMNS = ("cell_key", "profile", "mode", "tune", "seed")
#: What a row says about one iteration.
ITERATION_COLUMNS = ("iteration", "regime", "verdict", "run_verdict", "tuning_applied")
Columns = dict[str, list[Any]]


def kpi_columns() -> tuple[str, ...]:
    """The KPI columns: every KPI in :data:`~soakkit.kpi.KPIS`, in report order."""
    return tuple(KPIS)


def new_columns(set_columns: Sequence[str], strategy_axis: bool = False) -> Columns:
    """Empty columns of a batch, in the results' column order."""
    names = ["cell_key", *(["strategy"] if strategy_axis else []), "profile", "mode", "tune",
             *set_columns, "seed", *ITERATION_COLUMNS, *kpi_columns(), "error"]
    return {name: [] for name in names}


def cell_identity(key: str, strategy: str | None, profile: str, mode: str, tune: bool,
                  set_columns: Sequence[str], sets: Sequence[Any], seed: int
                  ) -> dict[str, Any]:
    """The identity columns of a cell's rows (``strategy`` None: no strategy axis)."""
    return {"cell_key": key, **({"strategy": strategy} if strategy is not None else {}),
            "profile": profile, "mode": mode, "tune": tune,
            **dict(zip(set_columns, sets, strict=True)), "seed": seed}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def add_cell(columns: Columns, identity: Mapping[str, Any],
             reports: Sequence[IterationReport], run_verdict: str | None,
             error: str | None = None) -> None:
    """Append a cell: one row per iteration report, or one error row when ``error``."""
    kpis = kpi_columns()
    for report in reports if error is None else [None]:
        for name, value in identity.items():
            columns[name].append(value)
        if report is None:
            for name in (*ITERATION_COLUMNS, *kpis):
                columns[name].append(None)
            columns["error"].append(error)
            continue
        columns["iteration"].append(report.iteration)
        columns["regime"].append(report.doc["regime"])
        columns["verdict"].append(report.verdict.verdict)
        columns["run_verdict"].append(run_verdict)
        columns["tuning_applied"].append(bool(report.applied))
        for name in kpis:
            columns[name].append(_number(report.kpis.get(name)))
        columns["error"].append(None)
