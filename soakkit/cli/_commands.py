"""Every ``soakkit`` command with its line in ``soakkit --help``, in the order listed there.

A command lives in ``soakkit/cli/<name>.py`` (a ``build(sub)`` adding its parser) and is
imported only when it is the one being run, so ``soakkit --help`` and a light command such
as ``rotate`` start without the other commands' imports.
"""

from __future__ import annotations

__all__ = ["COMMANDS"]

COMMANDS: dict[str, str] = {
    "demo": "a baseline and a tuned mini-soak, then the KPI and disk reports (about a minute)",
    "soak": "run a seeded mini-soak (simulated market, real KPIs, live tuner)",
    "sweep": "a grid of mini-soaks (profiles x modes x seeds x tune x --set) on Dask",
    "optimize": "search the parameters for a configuration, check it out of sample (Dask)",
    "report": "run a report notebook with papermill (HTML, figures, kpis.json)",
    "catalog": "every run at a glance (per iteration, JSON, CSV, Parquet for scripts)",
    "rotate": "free disk: keep the latest iterations, compress old files, watch the budget",
    "metrics": "export catalog gauges (runs, iterations, verdicts) as Prometheus text",
    "config": "show, explain and migrate configuration",
    "tape": "import, check or generate a market tape for replay",
    "calibrate": "fit the synthetic market to a recorded tape (a market profile)",
    "fidelity": "stylized facts and profile verdicts of a tape against its synthetic market",
}
