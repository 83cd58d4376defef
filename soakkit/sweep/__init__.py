"""Sweeps: a grid of mini-soaks (profiles × modes × tune × --set values × seeds) on Dask.

* :mod:`soakkit.sweep.spec` – :class:`SweepSpec` and the text forms of its axes;
* :mod:`soakkit.sweep.grid` – validation, lazy cells and their keys;
* :mod:`soakkit.sweep.plan` – batches of missing cells, window of tasks in flight;
* :mod:`soakkit.sweep.task` – what a worker runs: cells in memory, compact rows back;
* :mod:`soakkit.sweep.store` – ``sweep.json``, one parquet per batch, deduplicated reads;
* :mod:`soakkit.sweep.cluster` – local cluster, existing scheduler, scheduler file;
* :mod:`soakkit.sweep.runner` – :func:`run_sweep`;
* :mod:`soakkit.sweep.summary` – per cell and per configuration figures.
"""

from soakkit.sweep.grid import Cell, Grid, build_grid
from soakkit.sweep.progress import ProgressPrinter, SweepProgress
from soakkit.sweep.result import SweepResult
from soakkit.sweep.runner import run_sweep
from soakkit.sweep.spec import SweepSpec, parse_seeds
from soakkit.sweep.store import load_results, resolve_sweep_dir
from soakkit.sweep.summary import cell_summary, config_summary, configuration_axes

__all__ = ["Cell", "Grid", "ProgressPrinter", "SweepProgress", "SweepResult", "SweepSpec",
           "build_grid", "cell_summary", "config_summary", "configuration_axes",
           "load_results", "parse_seeds", "resolve_sweep_dir", "run_sweep"]
