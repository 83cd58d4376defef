"""Running soakkit's report notebooks with papermill, and what a run leaves behind.

* :mod:`soakkit.notebooks.runner` – :func:`run` and :func:`run_template`, the entry points;
* :mod:`soakkit.notebooks.parameters` – the ``parameters`` cell, read and cast;
* :mod:`soakkit.notebooks.checks` – each report's parameters checked before a kernel starts;
* :mod:`soakkit.notebooks.kernel` – executing a notebook in a quiet kernel;
* :mod:`soakkit.notebooks.outputs` – figures, records, HTML and manifest of an executed
  notebook;
* :mod:`soakkit.notebooks.folders` – report folders (``.partial``, ``.failed``, ``latest/``);
* :mod:`soakkit.notebooks.index` – ``reports/index.html``.

The notebooks themselves call :mod:`soakkit.report`.
"""

from soakkit.notebooks.runner import (
    EXIT_CODES,
    NOTEBOOKS,
    RunResult,
    cast_parameters,
    notebook_parameters,
    run,
    run_template,
    template_path,
)

__all__ = ["EXIT_CODES", "NOTEBOOKS", "RunResult", "cast_parameters", "notebook_parameters",
           "run", "run_template", "template_path"]
