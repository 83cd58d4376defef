"""Nightly soakkit KPI report as an Airflow DAG (Airflow 2.4+, TaskFlow API).

Drop this file into the DAGs folder of an Airflow whose workers have soakkit installed
(``pip install soakkit`` from this repository) and that can read the soak artifacts.

* ``kpi_report`` runs ``notebooks/kpi_report.ipynb`` through :func:`soakkit.notebooks.runner.run`
  (the same path as ``soakkit report kpi``): parameters are checked against the notebook's
  parameters cell *before* a kernel starts, and the outcome is structured (status, failing
  cell, error name and value) instead of a papermill traceback;
* ``check_kpis`` reads the ``kpis.json`` the report recorded and fails the DAG run when
  the verdict is FAIL, so alerting hangs on one task and the HTML report of a bad night
  is still there to read.

A failed run never replaces the previous good report: it is kept as ``<name>-<id>.failed``
and ``reports/latest/kpi`` keeps pointing at the last good one.

With ``PapermillOperator`` instead, point ``input_nb`` at ``notebooks/kpi_report.ipynb`` and
pass the same ``parameters``; papermill itself does not type-check them, which is why the
task below calls soakkit's runner.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.decorators import dag, task
from airflow.exceptions import AirflowFailException

ARTIFACTS = "/srv/soak/artifacts/soak"  # where the soak runner writes runs/
REPORTS = "/srv/soak/reports"  # served to analysts; reports/<day>/<name>-<run_id>/


@dag(schedule="30 6 * * *", start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
     tags=["soak"])
def soakkit_nightly() -> None:
    """Render the KPI report of the latest soak run, then judge its recorded verdict."""

    @task
    def kpi_report() -> str:
        from soakkit.notebooks.runner import run

        result = run("kpi", {"artifacts": ARTIFACTS, "run": "latest", "last_n": 24,
                             "gate": "production"}, REPORTS)
        if result.exit_code:  # error, timeout or dead kernel: one line says which cell
            raise AirflowFailException(
                f"kpi report {result.status} in cell {result.failing_cell}: "
                f"{result.ename}: {result.evalue} (kept in {result.output_dir})")
        return str(result.output_dir)

    @task
    def check_kpis(report_dir: str) -> dict[str, Any]:
        kpis = json.loads((Path(report_dir) / "kpis.json").read_text())["kpi"]
        if kpis["verdict"] == "FAIL":
            raise AirflowFailException(
                f"run {kpis['run_id']} FAILS the {kpis['gate']} gate: "
                + "; ".join(kpis["reasons"]))
        return {"run_id": kpis["run_id"], "verdict": kpis["verdict"]}

    check_kpis(kpi_report())


soakkit_nightly()
