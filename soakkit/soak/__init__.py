"""The mini-soak: config → sim → kpi → gate → tuning → artifacts, once per iteration.

* :mod:`soakkit.soak.options` – :class:`SoakOptions` and their validation;
* :mod:`soakkit.soak.iteration` – one iteration in memory (:func:`run_iteration`);
* :mod:`soakkit.soak.runner` – :func:`run_soak`: the iterations of a run, on disk;
* :mod:`soakkit.soak.rundir` – a run's folder: created by :func:`start_run`, written by
  :class:`RunFolder`;
* :mod:`soakkit.soak.resume` – :func:`reopen_run`: an interrupted run, reopened;
* :mod:`soakkit.soak.memory` – :func:`run_in_memory`: the same iterations, no folder.
"""

from soakkit.soak.iteration import IterationReport, Session, run_iteration
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import (
    SLEEP_ENV,
    SoakOptions,
    option_problems,
    sleep_from_env,
    validate_options,
)
from soakkit.soak.runner import SoakObserver, SoakResult, run_soak

__all__ = ["SLEEP_ENV", "IterationReport", "Session", "SoakObserver", "SoakOptions",
           "SoakResult", "option_problems", "run_in_memory", "run_iteration", "run_soak",
           "sleep_from_env", "validate_options"]
