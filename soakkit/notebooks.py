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

import ast
import base64
import contextlib
import logging
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.errors import NotebookRunError, closest
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
from soakkit.report.display import RECORD_MIME
from soakkit.report.index import write_index

__all__ = ["EXIT_CODES", "NOTEBOOKS", "ParamSpec", "RunResult", "cast_parameters",
           "notebook_parameters", "run", "run_template", "template_path"]

#: Report name → template file in ``notebooks/``.
NOTEBOOKS: Mapping[str, str] = {"soak": "mini_soak.ipynb", "kpi": "kpi_report.ipynb",
                                "disk": "disk_report.ipynb", "explore": "explore_runs.ipynb",
                                "sweep": "sweep_report.ipynb"}
EXIT_CODES: Mapping[str, int] = {"ok": 0, "error": 1, "timeout": 3, "dead_kernel": 4}
_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "None": type(None)}


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
class ParamSpec:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    types: tuple[str, ...]  #: allowed type names: str, int, float, bool, None
    default: Any
    help: str

    @property
    def annotation(self) -> str:
        return " | ".join(self.types)


def _annotation_types(node: ast.expr, where: str) -> tuple[str, ...]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation_types(node.left, where) + _annotation_types(node.right, where)
    if isinstance(node, ast.Constant) and node.value is None:
        return ("None",)
    if isinstance(node, ast.Name) and node.id in _TYPES:
        return (node.id,)
    raise NotebookRunError(f"{where}: annotation {ast.unparse(node)!r} is not str, int, "
                           "float, bool or a union with None")


def notebook_parameters(path: Path) -> dict[str, ParamSpec]:
    """Parse the cell tagged ``parameters``: ``name: type = default  # help`` per line."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])),
                None)
    if cell is None:
        raise NotebookRunError(f"{path}: no cell tagged 'parameters'")
    source = cell.source
    lines = source.splitlines()
    specs: dict[str, ParamSpec] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.value is not None):
            raise NotebookRunError(f"{path}: parameters cell line {node.lineno}: expected "
                                   "'name: type = value  # help'")
        where = f"{path}: parameter {node.target.id}"
        comment = lines[node.lineno - 1].partition("#")[2].strip()
        specs[node.target.id] = ParamSpec(node.target.id,
                                          _annotation_types(node.annotation, where),
                                          ast.literal_eval(node.value), comment)
    return specs


_INT = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _cast_text(spec: ParamSpec, text: str) -> Any:
    if "None" in spec.types and text in ("None", "null"):
        return None
    for kind in spec.types:
        if kind == "str":
            return text
        if kind == "int" and _INT.match(text.strip()):
            return int(text)
        if kind == "float":
            with contextlib.suppress(ValueError):
                value = float(text)
                if math.isfinite(value):
                    return value
        if kind == "bool" and text.strip().lower() in _BOOLS:
            return _BOOLS[text.strip().lower()]
    raise ValueError(f"{text!r} is not {spec.annotation}")


def _cast_value(spec: ParamSpec, value: Any) -> Any:
    if value is None and "None" in spec.types:
        return None
    for kind in spec.types:
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            return float(value)
        if kind == "str" and isinstance(value, str):
            return value
    raise ValueError(f"{value!r} ({type(value).__name__}) is not {spec.annotation}")


def cast_parameters(specs: Mapping[str, ParamSpec], given: Mapping[str, Any], *,
                    from_text: bool = False) -> dict[str, Any]:
    """Validate ``given`` against ``specs``; returns every parameter, cast, defaults filled in.

    Raises :class:`NotebookRunError` listing every problem (unknown names with a
    did-you-mean, values that are not of the annotated type).
    """
    problems = []
    values = {name: spec.default for name, spec in specs.items()}
    for name, raw in given.items():
        spec = specs.get(name)
        if spec is None:
            best = closest(name, specs)
            hint = f" (did you mean {best!r}?)" if best else ""
            problems.append(f"unknown parameter {name!r}{hint}; known: {', '.join(specs)}")
            continue
        try:
            values[name] = _cast_text(spec, raw) if from_text and isinstance(raw, str) \
                else _cast_value(spec, raw)
        except ValueError as exc:
            problems.append(f"parameter {name}: {exc}")
    if problems:
        raise NotebookRunError("; ".join(problems))
    return values


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
        return EXIT_CODES[self.status]

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


def run(name: str, params: Mapping[str, Any] | None = None, out_dir: Path | str = "reports",
        **options: Any) -> RunResult:
    """Run report notebook ``name`` (``soak``, ``kpi`` or ``disk``) with ``params``.

    The report folder goes under ``out_dir``; ``options`` are those of :func:`run_template`.
    This is the entry point for cron jobs and Airflow tasks::

        result = soakkit.notebooks.run("kpi", {"run": "latest", "gate": "production"}, "reports")
        if result.exit_code: raise RuntimeError(f"{result.status}: {result.evalue}")
    """
    return run_template(template_path(name), name, params, out_dir, **options)


def run_template(template: Path, name: str, params: Mapping[str, Any] | None = None,
                 out_dir: Path | str = "reports", *, params_are_text: bool = False,
                 kernel: str = "python3", cell_timeout: float = 600.0,
                 start_timeout: float = 60.0, cwd: Path | None = None,
                 progress: bool | None = None, clock: Clock | None = None) -> RunResult:
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
        Seconds a cell may run, and the kernel may take to start.
    cwd
        Working directory of the kernel (default: the current one), so relative paths in
        parameters mean what they mean to the caller.
    progress
        Show papermill's progress bar (default: only on a terminal and not under CI).
    clock
        Source of the run's timestamps (``SOAKKIT_NOW`` for reproducible run ids).

    Returns
    -------
    RunResult

    Raises
    ------
    NotebookRunError
        Unknown report, bad parameters or a missing kernel; nothing is written.
    """
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    template = Path(template)
    values = cast_parameters(notebook_parameters(template), dict(params or {}),
                             from_text=params_are_text)
    argv = _check_kernel(kernel)
    clock = clock or SystemClock()
    started = clock.now()
    run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-" \
             f"{sha256_bytes(canonical_json(values, compact=True).encode())[:8]}"
    day = Path(out_dir) / started.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    final = day / f"{name}-{run_id}"
    k = 1
    while final.exists() or final.with_name(final.name + ".failed").exists():
        k += 1
        final = day / f"{name}-{run_id}-{k}"
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    status = "ok"
    error: tuple[int | None, str | None, str | None] = (None, None, None)
    t0 = time.monotonic()
    loggers = [logging.getLogger(n) for n in ("papermill", "papermill.translators",
                                              "papermill.parameterize", "papermill.execute")]
    for logger in loggers:
        logger.addFilter(_NOISE)
    try:
        papermill.execute_notebook(
            str(template), str(partial / "report.ipynb"), parameters=values, kernel_name=kernel,
            cwd=str(cwd or Path.cwd()), progress_bar=progress, report_mode=True,
            log_output=False, start_timeout=start_timeout, execution_timeout=cell_timeout,
            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as exc:
        status, error = "error", (exc.cell_index, exc.ename, exc.evalue)
    except CellTimeoutError as exc:
        status, error = "timeout", (None, "CellTimeoutError", str(exc).splitlines()[0])
    except DeadKernelError as exc:
        status, error = "dead_kernel", (None, "DeadKernelError", str(exc).splitlines()[0])
    finally:
        for logger in loggers:
            logger.removeFilter(_NOISE)
    duration = time.monotonic() - t0
    nb = nbformat.read(partial / "report.ipynb", as_version=4) \
        if (partial / "report.ipynb").exists() else nbformat.v4.new_notebook()
    if status != "ok" and error[0] is None:
        cell, ename, evalue = _failing_cell(nb)
        error = (cell, error[1] or ename, error[2] or evalue)
    figures, records = _collect(nb, partial)
    atomic_write_bytes(partial / "report.html", render_html(nb))
    atomic_write_json(partial / "kpis.json", records)
    ended = clock.now()
    manifest = {
        "name": name, "run_id": run_id, "status": status, "parameters": values,
        "template": {"name": template.name, "sha256": sha256_bytes(template.read_bytes())},
        "kernel": {"name": kernel, "argv": argv}, "versions": _versions(),
        "started_utc": format_utc(started), "ended_utc": format_utc(ended),
        "duration_s": round(duration, 3),
        "error": None if status == "ok" else {"cell_index": error[0], "ename": error[1],
                                              "evalue": error[2]},
        "files": [*sorted(p.name for p in partial.iterdir()), "manifest.json"],
    }
    atomic_write_json(partial / "manifest.json", manifest)
    done = final if status == "ok" else final.with_name(final.name + ".failed")
    partial.rename(done)
    fsync_dir(day)
    if status == "ok":
        _update_latest(Path(out_dir), name, done)
    write_index(Path(out_dir))
    return RunResult(name, status, run_id, done, values,
                     tuple(done / p.name for p in figures), records, error[0], error[1],
                     error[2], duration)
