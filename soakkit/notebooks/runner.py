"""Run soakkit's notebooks with papermill: validate parameters, execute, render the report.

Entry point: :func:`run` (``soakkit report kpi|disk|soak``). Parameters are checked against
the notebook's ``parameters`` cell *before* a kernel starts: an unknown name is an error with
a did-you-mean, and each value is cast to the annotated type (``"007"`` stays a string for a
``str``). Execution uses papermill with a kernel of this environment, an explicit working
directory and a per-cell timeout. The outcome is one of:

=============  =========  ==========================================================
status         exit code  meaning
=============  =========  ==========================================================
``ok``         0          every cell ran
``error``      1          a cell raised (failing cell, error name and value recorded)
``timeout``    3          a cell ran longer than ``cell_timeout``
``dead_kernel`` 4         the kernel died
=============  =========  ==========================================================

Output goes to ``<out>/<YYYY-MM-DD>/<name>-<run_id>/``, written as ``….partial`` and
renamed when complete: ``report.ipynb`` (the executed notebook, the run's log),
``report.html`` (no code, no CDN assets), every figure as PNG, ``kpis.json`` and
``manifest.json``. A failed run is renamed ``….failed`` and never replaces a good report;
``<out>/latest/<name>`` points at the newest successful one, and ``<out>/index.html``
(:mod:`soakkit.notebooks.index`) lists every report folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import (
    REPORT_STATUS_CODES,
    ExitCode,
    NotebookRunError,
    SoakkitError,
    fs_errors,
)
from soakkit.core.inputs import MAX_WAIT_S
from soakkit.core.io import Clock, SystemClock, atomic_write_bytes, atomic_write_json, fsync_dir
from soakkit.core.json_canonical import canonical_json
from soakkit.core.jsonschema_import import import_jsonschema
from soakkit.core.signals import deferred_signals, signal_name
from soakkit.notebooks.checks import report_problems, resolve_report_artifacts
from soakkit.notebooks.folders import (
    PARTIAL_SUFFIX,
    create_partial,
    failed_folder,
    mark_failed,
    prune_failed,
    sweep_abandoned,
    update_latest,
)
from soakkit.notebooks.index import write_index
from soakkit.notebooks.kernel import (
    KERNEL_LOG,
    check_kernel,
    drop_if_empty,
    execute,
    load_papermill,
)
from soakkit.notebooks.outputs import (
    collect,
    failing_cell,
    manifest,
    prepare_html_exporter,
    render_html,
    seconds,
)
from soakkit.notebooks.parameters import ParamSpec, cast_parameters, notebook_parameters

__all__ = ["EXIT_CODES", "NOTEBOOKS", "ParamSpec", "RunResult", "cast_parameters",
           "notebook_parameters", "run", "run_template", "template_path"]

#: Report name → template file in ``notebooks/``.
NOTEBOOKS: Mapping[str, str] = {"soak": "mini_soak.ipynb", "kpi": "kpi_report.ipynb",
                                "disk": "disk_report.ipynb", "explore": "explore_runs.ipynb",
                                "sweep": "sweep_report.ipynb",
                                "optimize": "optimize_report.ipynb",
                                "fidelity": "fidelity_report.ipynb"}
#: A run's status → its exit code (:data:`soakkit.core.errors.REPORT_STATUS_CODES`).
EXIT_CODES: Mapping[str, int] = REPORT_STATUS_CODES
#: Longest --cell-timeout (and kernel start timeout), in whole seconds: a day.
MAX_CELL_TIMEOUT_S = MAX_WAIT_S
#: How long one cell may run, and the kernel that runs the notebooks, unless told otherwise.
DEFAULT_CELL_TIMEOUT_S = 600
DEFAULT_KERNEL = "python3"


def template_path(name: str) -> Path:
    """The template notebook of report ``name`` (source tree or installed package)."""
    if name not in NOTEBOOKS:
        raise NotebookRunError(f"unknown report {name!r}; choose one of "
                               f"{', '.join(NOTEBOOKS)}")
    here = Path(__file__).resolve().parent.parent
    for folder in (here.parent / "notebooks", here / "_notebooks"):
        candidate = folder / NOTEBOOKS[name]
        if candidate.is_file():
            return candidate
    raise NotebookRunError(f"template {NOTEBOOKS[name]} not found next to soakkit")


@dataclass(frozen=True)
class RunResult:
    """The outcome of one notebook run."""

    name: str
    status: str  #: ok | error | timeout | dead_kernel
    run_id: str
    output_dir: Path
    parameters: dict[str, Any]
    figures: tuple[Path, ...] = ()
    kpis: dict[str, Any] = field(default_factory=dict)
    failing_cell: int | None = None
    ename: str | None = None
    evalue: str | None = None
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_CODES` of the status; 5 (ok, with problems) when inputs were skipped."""
        code = EXIT_CODES[self.status]
        return ExitCode.PROBLEMS if code == ExitCode.OK and self.problems else code

    @property
    def problems(self) -> tuple[str, ...]:
        """Input files the report skipped (unreadable, or failing their schema), as recorded."""
        return tuple(str(p) for value in self.kpis.values() if isinstance(value, dict)
                     for p in value.get("problems") or [] if isinstance(p, str))

    @property
    def notebook(self) -> Path:
        return self.output_dir / "report.ipynb"

    @property
    def html(self) -> Path:
        return self.output_dir / "report.html"

    @property
    def headline(self) -> str | None:
        """What the notebook recorded, in a few words: ``verdict FAIL``, ``within budget``."""
        for value in self.kpis.values():
            if isinstance(value, dict) and isinstance(value.get("verdict"), str):
                return f"verdict {value['verdict']}"
            if isinstance(value, dict) and isinstance(value.get("over_budget"), bool):
                return "OVER BUDGET" if value["over_budget"] else "within budget"
        return None


def run(name: str, params: Mapping[str, Any] | None = None, out_dir: Path | str = "reports",
        **options: Any) -> RunResult:
    """Run report notebook ``name`` (``soak``, ``kpi``, ``disk``, ...) with ``params``.

    The report folder goes under ``out_dir``; ``options`` are those of :func:`run_template`.
    This is the entry point for cron jobs and Airflow tasks::

        result = soakkit.notebooks.run("kpi", {"run": "latest", "gate": "production"}, "reports")
        if result.exit_code: raise RuntimeError(f"{result.status}: {result.evalue}")

    The ``artifacts`` parameter (a path or ``None``) is resolved here, once
    (:func:`soakkit.artifacts.layout.resolve_artifacts`): the checks and the kernel get the
    folder found, and ``manifest.json`` records it.
    """
    template = template_path(name)
    given = dict(params or {})
    root: Path | None = None
    problems: list[str] = []
    spec = {k: v for k, v in notebook_parameters(template).items() if k == "artifacts"}
    with contextlib.suppress(NotebookRunError, KeyError):  # run_template reports a bad value
        raw = cast_parameters(spec, {k: v for k, v in given.items() if k in spec},
                              from_text=bool(options.get("params_are_text")))["artifacts"]
        root, problems = resolve_report_artifacts(name, raw)
    if root is not None:
        if options.get("cwd") is not None and not root.is_absolute():
            root = Path.cwd() / root  # relative to the caller, wherever the kernel runs
        given["artifacts"] = root
    options.setdefault("checks", lambda values: [*problems,
                                                 *report_problems(name, values, root)])
    return run_template(template, name, given, out_dir, **options)


def run_template(template: Path, name: str, params: Mapping[str, Any] | None = None,
                 out_dir: Path | str = "reports", *, params_are_text: bool = False,
                 kernel: str = DEFAULT_KERNEL, cell_timeout: int = DEFAULT_CELL_TIMEOUT_S,
                 start_timeout: int = 60, cwd: Path | None = None,
                 progress: bool | None = None, clock: Clock | None = None,
                 checks: Callable[[Mapping[str, Any]], list[str]] | None = None) -> RunResult:
    """Run any parameterized notebook the way :func:`run` runs soakkit's reports.

    Parameters
    ----------
    template
        The notebook; it needs a cell tagged ``parameters`` with annotated defaults.
    name
        Report name used in the output folder (``<out_dir>/<day>/<name>-<run_id>/``).
    params
        Parameter values; checked and cast against the notebook's ``parameters`` cell.
    out_dir
        Root of the reports (``reports/``).
    params_are_text
        Values are command-line strings to parse by the annotated types.
    kernel
        Jupyter kernel name (the native ``python3`` runs this environment's interpreter).
    cell_timeout, start_timeout
        Whole seconds (1..86400) a cell may run, and the kernel may take to start.
    cwd
        Working directory of the kernel (default: the current one), so relative paths in
        parameters mean what they mean to the caller.
    progress
        Show papermill's progress bar (default: only on a terminal and not under CI).
    clock
        Source of the run's timestamps (``SOAKKIT_NOW`` for reproducible run ids).
    checks
        Returns every problem with the cast values (value constraints, files that must
        exist); checked with the types, before a kernel starts.

    Returns
    -------
    RunResult

    Raises
    ------
    NotebookRunError
        Unknown report, bad parameters or a missing kernel, every problem listed; nothing
        is written.
    FileSystemError
        ``out_dir`` cannot be written; nothing is written.
    KeyboardInterrupt
        Ctrl-C or SIGTERM (:class:`soakkit.core.signals.Terminated`): the report folder is kept
        as ``.failed`` (status ``interrupted``) and the kernel is shut down.
    """
    import_jsonschema()  # before nbformat: without the unused IRI parsers
    import nbformat

    template = Path(template)
    values = cast_parameters(notebook_parameters(template), dict(params or {}),
                             from_text=params_are_text)
    problems = [*(checks(values) if checks is not None else []),
                *_timeout_problems(cell_timeout, start_timeout)]
    try:
        argv = check_kernel(kernel)
    except NotebookRunError as exc:
        problems.append(str(exc))
    if problems:
        raise NotebookRunError("\n".join(problems))
    clock = clock or SystemClock()
    started = clock.now()
    run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-" \
             f"{sha256_bytes(canonical_json(values, compact=True).encode())[:8]}"
    out = Path(out_dir)
    day = out / started.strftime("%Y-%m-%d")
    with fs_errors(day, "cannot create the reports folder"):
        day.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(out)
    final = day / f"{name}-{run_id}"
    k = 1
    while final.exists() or failed_folder(final).exists() or \
            final.with_name(final.name + PARTIAL_SUFFIX).exists():
        k += 1
        final = day / f"{name}-{run_id}-{k}"
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    t0 = time.monotonic()
    load_papermill()
    prepare_html_exporter()  # nbconvert imports while the kernel runs the notebook
    with create_partial(final) as partial:
        try:
            status, error = execute(template, partial, values, kernel, cwd, progress,
                                     start_timeout, cell_timeout)
            executed = time.monotonic() - t0
        except BaseException as exc:  # Ctrl-C, SIGTERM, or papermill itself failing
            with deferred_signals():
                drop_if_empty(partial / KERNEL_LOG)
                why = f"interrupted by {signal_name(exc)}" \
                    if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
                state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"
                with contextlib.suppress(OSError, SoakkitError):
                    mark_failed(partial, state, why, manifest(
                        name, run_id, state, values, template, kernel, argv, started,
                        clock.now(), time.monotonic() - t0, None, partial))
                    write_index(out)
            raise
        with deferred_signals():
            drop_if_empty(partial / KERNEL_LOG)
            duration = time.monotonic() - t0
            nb = nbformat.read(partial / "report.ipynb", as_version=4) \
                if (partial / "report.ipynb").exists() else nbformat.v4.new_notebook()
            if status != "ok" and error[0] is None:
                cell, ename, evalue = failing_cell(nb)
                error = (cell, error[1] or ename, error[2] or evalue)
            figures, records = collect(nb, partial)
            atomic_write_bytes(partial / "report.html", render_html(nb))
            atomic_write_json(partial / "kpis.json", records)
            finished = time.monotonic() - t0
            atomic_write_json(partial / "manifest.json", manifest(
                name, run_id, status, values, template, kernel, argv, started, clock.now(),
                finished, error, partial, seconds(nb, executed, finished)))
            done = final if status == "ok" else failed_folder(final)
            partial.rename(done)
            fsync_dir(day)
    if status == "ok":
        update_latest(out, name, done)
    prune_failed(out)
    write_index(out)
    return RunResult(name, status, run_id, done, values,
                     tuple(done / p.name for p in figures), records, error[0], error[1],
                     error[2], duration)


def _timeout_problems(cell_timeout: Any, start_timeout: Any) -> list[str]:
    """``--cell-timeout`` is whole seconds (nbclient refuses fractions), as is the start."""
    problems = []
    for flag, value in (("--cell-timeout", cell_timeout), ("start_timeout", start_timeout)):
        if type(value) is not int or not 1 <= value <= MAX_CELL_TIMEOUT_S:
            problems.append(f"{flag} {value!r}: expected whole seconds in "
                            f"1..{MAX_CELL_TIMEOUT_S}")
    return problems
