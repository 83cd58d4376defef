"""What an executed notebook leaves in its report folder besides itself.

Every named figure as PNG and the notebook's records (:func:`collect`), the HTML report
(:func:`render_html`: no code, no CDN assets) and ``manifest.json`` (:func:`manifest`).
"""

from __future__ import annotations

import base64
import contextlib
import platform
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from soakkit import __version__
from soakkit.core.digests import sha256_bytes
from soakkit.core.io import atomic_write_bytes, format_utc
from soakkit.core.jsonschema_import import import_jsonschema
from soakkit.notebooks.kernel import CellError
from soakkit.report.display import FIGURE_META, RECORD_MIME

__all__ = ["collect", "failing_cell", "manifest", "prepare_html_exporter", "render_html",
           "seconds"]


def _versions() -> dict[str, str]:
    out = {"soakkit": __version__, "python": platform.python_version()}
    for dist in ("papermill", "nbclient", "nbconvert", "nbformat", "polars", "matplotlib",
                 "numpy", "ipykernel"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def failing_cell(nb: Any) -> CellError:
    """The first cell of ``nb`` with an error output: (index, ename, evalue)."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, output.get("ename"), output.get("evalue")
    return None, None, None


def collect(nb: Any, folder: Path) -> tuple[list[Path], dict[str, Any]]:
    """Write every named figure as PNG; gather the notebook's records into one dict."""
    figures: list[Path] = []
    records: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            name = output.get("metadata", {}).get(FIGURE_META)
            if name and "image/png" in data:
                path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
                atomic_write_bytes(path, base64.b64decode(data["image/png"]))
                figures.append(path)
            if RECORD_MIME in data:
                record = data[RECORD_MIME]
                records[record["name"]] = record["value"]
    return figures, records


_EXPORTER: list[Any] = []  #: the HTML exporter, built once per process
_EXPORTER_LOCK = threading.Lock()


def _html_exporter() -> Any:
    """nbconvert's HTML exporter, configured for the reports, with its templates loaded
    (built once per process; the lock also keeps two reports from exporting at once)."""
    with _EXPORTER_LOCK:
        if not _EXPORTER:
            import_jsonschema()  # before nbformat: without the unused IRI parsers
            from nbconvert import HTMLExporter

            exporter = HTMLExporter(template_name="lab")
            exporter.exclude_input = True
            exporter.exclude_input_prompt = True
            exporter.exclude_output_prompt = True
            for name in ("mathjax_url", "require_js_url", "jquery_url", "mermaid_js_url",
                         "mermaid_layout_elk_js_url", "widget_renderer_url",
                         "jupyter_widgets_base_url"):
                if exporter.has_trait(name):
                    setattr(exporter, name, "")
            _ = exporter.template  # parse and compile the Jinja templates now
            _EXPORTER.append(exporter)
        return _EXPORTER[0]


def prepare_html_exporter() -> threading.Thread:
    """Import nbconvert and load its HTML templates in the background.

    The runner calls it as the kernel starts: importing nbconvert (mistune's grammars,
    Jinja, bleach) and compiling the lab template cost about 0.5 s of CPU that would
    otherwise follow the notebook's last cell; meanwhile this process only waits for the
    kernel's messages. :func:`render_html` then finds the exporter ready (or waits for it).
    """
    thread = threading.Thread(target=_html_exporter, name="soakkit-nbconvert-import",
                              daemon=True)
    thread.start()
    return thread


def render_html(nb: Any) -> bytes:
    """The executed notebook as HTML: no code, no prompts, no CDN assets (works offline).

    Interactive charts (:data:`~soakkit.report.charts.VEGALITE_MIME` outputs) become
    :func:`~soakkit.report.charts.embed_html`, with their PNG for printing; their
    JavaScript library is inlined once.
    """
    import copy

    from soakkit.report.vega import VEGALITE_MIME, embed_html

    nb = copy.deepcopy(nb)
    charts = 0
    for cell in nb.cells:  # records are machine data (kpis.json), not for readers
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs
                            if RECORD_MIME not in o.get("data", {})]
        for output in cell.get("outputs", []):  # charts: interactive, offline (library once)
            data = output.get("data", {})
            spec = data.get(VEGALITE_MIME)
            if isinstance(spec, dict):
                charts += 1
                png = data.get("image/png")
                output["data"] = {"text/html": embed_html(
                    spec, f"soakkit-chart-{charts}", with_library=charts == 1,
                    png=png if isinstance(png, str) else None)}
    exporter = _html_exporter()
    with _EXPORTER_LOCK:
        body, _ = exporter.from_notebook_node(nb)
    return str(body).encode("utf-8")


def _started(meta: Any) -> datetime | None:
    """A papermill ``start_time`` (ISO 8601, naive UTC), or None."""
    text = meta.get("papermill", {}).get("start_time") if hasattr(meta, "get") else None
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _cell_kind(cell: Any) -> str:
    """``charts`` (the cell shows a figure), ``imports`` (its first statement imports: in the
    templates, soakkit.report's imports and then loading the data) or ``work``."""
    if any(FIGURE_META in (o.get("metadata") or {}) for o in cell.get("outputs", [])):
        return "charts"
    first = next((line.strip() for line in str(cell.get("source", "")).splitlines()
                  if line.strip() and not line.lstrip().startswith("#")), "")
    return "imports" if first.startswith(("import ", "from ")) else "work"


def seconds(nb: Any, executed: float, finished: float) -> dict[str, float]:
    """Where a report's seconds went, recorded in ``manifest.json``.

    ``execute_s`` (papermill: the kernel's start and shutdown, and the cells);
    ``kernel_start_s`` (from papermill's start to the first cell's start: the kernel's
    start); ``kernel_s`` (``execute_s`` less the cells: the kernel's start and shutdown and
    papermill); ``cells_s`` (the cells, as papermill timed them), split into ``imports_s``
    (the cells that start by importing: the templates' first cell, soakkit.report's imports
    and loading the run), ``charts_s`` (the cells that show a figure: building it and its
    PNG) and ``work_s`` (the other cells: tables, text, the verdict); ``render_s`` (reading
    the executed notebook, the figures, ``report.html``).
    """
    by_kind = dict.fromkeys(("imports", "charts", "work"), 0.0)
    first_start: datetime | None = None
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        by_kind[_cell_kind(cell)] += float(meta.get("papermill", {}).get("duration") or 0.0)
        first_start = first_start or _started(meta)
    cells = sum(by_kind.values())
    began = _started(nb.get("metadata", {}))
    kernel_start = (first_start - began).total_seconds() if first_start and began else 0.0
    return {"execute_s": round(executed, 3), "kernel_start_s": round(max(kernel_start, 0.0), 3),
            "kernel_s": round(max(executed - cells, 0.0), 3), "cells_s": round(cells, 3),
            **{f"{kind}_s": round(value, 3) for kind, value in by_kind.items()},
            "render_s": round(finished - executed, 3)}


def manifest(name: str, run_id: str, status: str, values: Mapping[str, Any], template: Path,
             kernel: str, argv: list[str], started: datetime, ended: datetime,
             duration: float, error: CellError | None, partial: Path,
             timings: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The report's ``manifest.json``: what ran, with which versions, how it ended, and
    where its seconds went (:func:`seconds`; ``duration_s`` is the whole run's)."""
    return {
        "name": name, "run_id": run_id, "status": status, "parameters": dict(values),
        "template": {"name": template.name, "sha256": sha256_bytes(template.read_bytes())},
        "kernel": {"name": kernel, "argv": argv}, "versions": _versions(),
        "started_utc": format_utc(started), "ended_utc": format_utc(ended),
        "duration_s": round(duration, 3), "seconds": dict(timings or {}),
        "error": None if status == "ok" or error is None else {
            "cell_index": error[0], "ename": error[1], "evalue": error[2]},
        "files": sorted({*(p.name for p in partial.iterdir()), "manifest.json"}),
    }
