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
(:mod:`soakkit.report.index`) lists every report folder.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.errors import ExitCode, NotebookRunError, SoakkitError, fs_errors
from soakkit.io import (
    Clock,
    SystemClock,
    atomic_write_bytes,
    atomic_write_json,
    canonical_json,
    format_utc,
    fsync_dir,
    sha256_bytes,
)
from soakkit.report.checks import report_problems
from soakkit.report.display import RECORD_MIME
from soakkit.report.folders import (
    PARTIAL_SUFFIX,
    create_partial,
    failed_folder,
    mark_failed,
    prune_failed,
    sweep_abandoned,
)
from soakkit.report.index import write_index
from soakkit.report.parameters import ParamSpec, cast_parameters, notebook_parameters
from soakkit.signals import deferred_signals, signal_name

__all__ = ["EXIT_CODES", "NOTEBOOKS", "ParamSpec", "RunResult", "cast_parameters",
           "notebook_parameters", "run", "run_template", "template_path"]

#: Report name → template file in ``notebooks/``.
NOTEBOOKS: Mapping[str, str] = {"soak": "mini_soak.ipynb", "kpi": "kpi_report.ipynb",
                                "disk": "disk_report.ipynb", "explore": "explore_runs.ipynb",
                                "sweep": "sweep_report.ipynb"}
EXIT_CODES: Mapping[str, int] = {"ok": 0, "error": 1, "timeout": 3, "dead_kernel": 4}
#: Longest --cell-timeout (and kernel start timeout), in whole seconds: a day.
MAX_CELL_TIMEOUT_S = 86_400
#: The kernel's own stdout/stderr, kept in the report folder (never on the terminal).
KERNEL_LOG = "kernel.log"


def template_path(name: str) -> Path:
    """The template notebook of report ``name`` (source tree or installed package)."""
    if name not in NOTEBOOKS:
        raise NotebookRunError(f"unknown report {name!r}; choose one of "
                               f"{', '.join(NOTEBOOKS)}")
    here = Path(__file__).resolve().parent
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


def _versions() -> dict[str, str]:
    out = {"soakkit": __version__, "python": platform.python_version()}
    for dist in ("papermill", "nbclient", "nbconvert", "nbformat", "polars", "matplotlib",
                 "numpy", "ipykernel"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _check_kernel(kernel: str) -> list[str]:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(kernel)
    except NoSuchKernel:
        available = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise NotebookRunError(f"no such kernel {kernel!r} (available: {available}); "
                               "install one with `python -m ipykernel install --user`") from None
    argv = list(spec.argv)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable  # what jupyter_client runs for the native kernel
    return argv


def _failing_cell(nb: Any) -> tuple[int | None, str | None, str | None]:
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, output.get("ename"), output.get("evalue")
    return None, None, None


def _collect(nb: Any, folder: Path) -> tuple[list[Path], dict[str, Any]]:
    """Write every named figure as PNG; gather the notebook's records into one dict."""
    figures: list[Path] = []
    records: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            name = output.get("metadata", {}).get("soakkit_figure")
            if name and "image/png" in data:
                path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
                atomic_write_bytes(path, base64.b64decode(data["image/png"]))
                figures.append(path)
            if RECORD_MIME in data:
                record = data[RECORD_MIME]
                records[record["name"]] = record["value"]
    return figures, records


def render_html(nb: Any) -> bytes:
    """The executed notebook as HTML: no code, no prompts, no CDN assets (works offline).

    Interactive charts (:data:`~soakkit.report.charts.VEGALITE_MIME` outputs) become
    :func:`~soakkit.report.charts.embed_html`; their JavaScript library is inlined once.
    """
    import copy

    from nbconvert import HTMLExporter

    from soakkit.report.charts import VEGALITE_MIME, embed_html

    nb = copy.deepcopy(nb)
    charts = 0
    for cell in nb.cells:  # records are machine data (kpis.json), not for readers
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs
                            if set(o.get("data", {})) != {RECORD_MIME}]
        for output in cell.get("outputs", []):  # charts: interactive, offline (library once)
            spec = output.get("data", {}).get(VEGALITE_MIME)
            if isinstance(spec, dict):
                charts += 1
                output["data"] = {"text/html": embed_html(spec, f"soakkit-chart-{charts}",
                                                          with_library=charts == 1)}
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    for name in ("mathjax_url", "require_js_url", "jquery_url", "mermaid_js_url",
                 "mermaid_layout_elk_js_url", "widget_renderer_url", "jupyter_widgets_base_url"):
        if exporter.has_trait(name):
            setattr(exporter, name, "")
    body, _ = exporter.from_notebook_node(nb)
    return str(body).encode("utf-8")


def _update_latest(out: Path, name: str, folder: Path) -> None:
    latest = out / "latest"
    latest.mkdir(exist_ok=True)
    link = latest / name
    tmp = latest / f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(folder, latest))
    tmp.replace(link)
    fsync_dir(latest)


class _PapermillNoise(logging.Filter):
    """Drop papermill's parameter-inspection warnings: soakkit validated the parameters already
    (papermill's regex cannot read ``str | None`` annotations and then calls them unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not text.startswith(("Unable to parse line", "Passed unknown parameter"))


_NOISE = _PapermillNoise()


class _DeadKernelTask(logging.Filter):
    """Drop asyncio's report of a cell task whose kernel an interrupt killed."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()  # "Task exception was never retrieved\nfuture: <Task …>"
        return not (text.startswith("Task exception was never retrieved")
                    and "DeadKernelError" in text)


_DEAD_KERNEL_TASK = _DeadKernelTask()


def run(name: str, params: Mapping[str, Any] | None = None, out_dir: Path | str = "reports",
        **options: Any) -> RunResult:
    """Run report notebook ``name`` (``soak``, ``kpi`` or ``disk``) with ``params``.

    The report folder goes under ``out_dir``; ``options`` are those of :func:`run_template`.
    This is the entry point for cron jobs and Airflow tasks::

        result = soakkit.notebooks.run("kpi", {"run": "latest", "gate": "production"}, "reports")
        if result.exit_code: raise RuntimeError(f"{result.status}: {result.evalue}")
    """
    options.setdefault("checks", lambda values: report_problems(name, values))
    return run_template(template_path(name), name, params, out_dir, **options)


def run_template(template: Path, name: str, params: Mapping[str, Any] | None = None,
                 out_dir: Path | str = "reports", *, params_are_text: bool = False,
                 kernel: str = "python3", cell_timeout: int = 600,
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
        Ctrl-C or SIGTERM (:class:`soakkit.signals.Terminated`): the report folder is kept
        as ``.failed`` (status ``interrupted``) and the kernel is shut down.
    """
    import nbformat

    template = Path(template)
    values = cast_parameters(notebook_parameters(template), dict(params or {}),
                             from_text=params_are_text)
    problems = [*(checks(values) if checks is not None else []),
                *_timeout_problems(cell_timeout, start_timeout)]
    try:
        argv = _check_kernel(kernel)
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
    with create_partial(final) as partial:
        try:
            status, error = _execute(template, partial, values, kernel, cwd, progress,
                                     start_timeout, cell_timeout)
        except BaseException as exc:  # Ctrl-C, SIGTERM, or papermill itself failing
            with deferred_signals():
                _drop_if_empty(partial / KERNEL_LOG)
                why = f"interrupted by {signal_name(exc)}" \
                    if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
                state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"
                with contextlib.suppress(OSError, SoakkitError):
                    mark_failed(partial, state, why, _manifest(
                        name, run_id, state, values, template, kernel, argv, started,
                        clock.now(), time.monotonic() - t0, None, partial))
                    write_index(out)
            raise
        with deferred_signals():
            _drop_if_empty(partial / KERNEL_LOG)
            duration = time.monotonic() - t0
            nb = nbformat.read(partial / "report.ipynb", as_version=4) \
                if (partial / "report.ipynb").exists() else nbformat.v4.new_notebook()
            if status != "ok" and error[0] is None:
                cell, ename, evalue = _failing_cell(nb)
                error = (cell, error[1] or ename, error[2] or evalue)
            figures, records = _collect(nb, partial)
            atomic_write_bytes(partial / "report.html", render_html(nb))
            atomic_write_json(partial / "kpis.json", records)
            atomic_write_json(partial / "manifest.json", _manifest(
                name, run_id, status, values, template, kernel, argv, started, clock.now(),
                duration, error, partial))
            done = final if status == "ok" else failed_folder(final)
            partial.rename(done)
            fsync_dir(day)
    if status == "ok":
        _update_latest(out, name, done)
    prune_failed(out)
    write_index(out)
    return RunResult(name, status, run_id, done, values,
                     tuple(done / p.name for p in figures), records, error[0], error[1],
                     error[2], duration)


_Error = tuple[int | None, str | None, str | None]


def _drop_if_empty(path: Path) -> None:
    """Remove the kernel's log when it said nothing (the usual case)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def _timeout_problems(cell_timeout: Any, start_timeout: Any) -> list[str]:
    """``--cell-timeout`` is whole seconds (nbclient refuses fractions), as is the start."""
    problems = []
    for flag, value in (("--cell-timeout", cell_timeout), ("start_timeout", start_timeout)):
        if type(value) is not int or not 1 <= value <= MAX_CELL_TIMEOUT_S:
            problems.append(f"{flag} {value!r}: expected whole seconds in "
                            f"1..{MAX_CELL_TIMEOUT_S}")
    return problems


def _quiet_kernel_manager(log: Any) -> type:
    """A kernel manager whose kernel writes its stdout/stderr to ``log``, not the terminal.

    A kernel stopped by a timeout, Ctrl-C or SIGTERM logs tracebacks (ZMQError,
    DeadKernelError); they belong in the report folder's ``kernel.log``, not on screen.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def _execute(template: Path, partial: Path, values: Mapping[str, Any], kernel: str,
             cwd: Path | None, progress: bool, start_timeout: int,
             cell_timeout: int) -> tuple[str, _Error]:
    """Run the notebook into ``partial``; its status and (cell, ename, evalue)."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # papermill's and nbclient's log lines ("Timeout waiting for execute reply") go to the
    # kernel log with the kernel's own output; the outcome is one line of ours
    logger = logging.getLogger("papermill")
    propagate = logger.propagate
    handler: logging.Handler | None = None
    try:
        with (partial / KERNEL_LOG).open("ab") as log, \
                (partial / KERNEL_LOG).open("a", encoding="utf-8") as text:
            handler = logging.StreamHandler(text)
            handler.addFilter(_NOISE)
            logger.addHandler(handler)
            logger.propagate = False
            papermill.execute_notebook(
                str(template), str(partial / "report.ipynb"), parameters=dict(values),
                kernel_name=kernel, cwd=str(cwd or Path.cwd()), progress_bar=progress,
                report_mode=True, log_output=False, start_timeout=start_timeout,
                execution_timeout=cell_timeout,
                kernel_manager_class=_quiet_kernel_manager(log),
                extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as exc:
        return "error", (exc.cell_index, exc.ename, exc.evalue)
    except CellTimeoutError as exc:
        return "timeout", (None, "CellTimeoutError", str(exc).splitlines()[0])
    except DeadKernelError as exc:
        return "dead_kernel", (None, "DeadKernelError", str(exc).splitlines()[0])
    except KeyboardInterrupt:
        # the interrupt kills the kernel under nbclient's cell task, which nobody awaits any
        # more: asyncio would log "Task exception was never retrieved" with a traceback when
        # the task is collected; the interrupt is reported in one line by the caller
        logging.getLogger("asyncio").addFilter(_DEAD_KERNEL_TASK)
        raise
    finally:
        logger.propagate = propagate
        if handler is not None:
            logger.removeHandler(handler)
    return "ok", (None, None, None)


def _manifest(name: str, run_id: str, status: str, values: Mapping[str, Any], template: Path,
              kernel: str, argv: list[str], started: datetime, ended: datetime,
              duration: float, error: _Error | None, partial: Path) -> dict[str, Any]:
    return {
        "name": name, "run_id": run_id, "status": status, "parameters": dict(values),
        "template": {"name": template.name, "sha256": sha256_bytes(template.read_bytes())},
        "kernel": {"name": kernel, "argv": argv}, "versions": _versions(),
        "started_utc": format_utc(started), "ended_utc": format_utc(ended),
        "duration_s": round(duration, 3),
        "error": None if status == "ok" or error is None else {
            "cell_index": error[0], "ename": error[1], "evalue": error[2]},
        "files": sorted({*(p.name for p in partial.iterdir()), "manifest.json"}),
    }
