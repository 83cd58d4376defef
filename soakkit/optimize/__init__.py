"""Optimisation: a constrained search that recommends a configuration, validated out of
sample, with overfitting measured (``soakkit optimize``; docs/OPTIMIZE.md).

* :mod:`soakkit.optimize.spec` – :class:`OptimizeSpec`, the flags' text forms;
* :mod:`soakkit.optimize.plan` – validation, identity, configuration keys;
* :mod:`soakkit.optimize.space` – the search space from the parameter table's bounds;
* :mod:`soakkit.optimize.markets` – disjoint calibration and evaluation markets;
* :mod:`soakkit.optimize.tasks` – a configuration on a market set as sweep batches;
* :mod:`soakkit.optimize.scoring` – objective, the gate's constraints, per-iteration results;
* :mod:`soakkit.optimize.search` – Optuna's ask-and-tell over Dask, journal storage;
* :mod:`soakkit.optimize.evaluate` – out-of-sample runs and paired comparisons;
* :mod:`soakkit.optimize.overfitting` – the winner, its deflated Sharpe ratio, PBO;
* :mod:`soakkit.optimize.conclude` – verdict, ``result.json``, the recommended profile;
* :mod:`soakkit.optimize.store` – the study's folder;
* :mod:`soakkit.optimize.runner` – :func:`run_optimize`.
"""

from soakkit.optimize.progress import OptimizePrinter, OptimizeProgress
from soakkit.optimize.runner import OptimizeResult, run_optimize
from soakkit.optimize.spec import OptimizeSpec
from soakkit.optimize.store import resolve_study_dir

__all__ = ["OptimizePrinter", "OptimizeProgress", "OptimizeResult", "OptimizeSpec",
           "resolve_study_dir", "run_optimize"]
