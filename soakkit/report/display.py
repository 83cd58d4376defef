"""Notebook plumbing: deterministic display settings, figures as PNG, a KPI record.

Every soakkit notebook calls :func:`notebook_setup` first, so that what it prints does not
depend on the environment (polars ``POLARS_FMT_*`` variables, matplotlib rc files) and
nbval can compare outputs. Figures are rendered by :func:`show` into PNG bytes with fixed
size, DPI and no timestamp metadata, and displayed with their name; the report runner
saves them as ``<name>.png``. :func:`record` displays a value under the MIME type
:data:`RECORD_MIME`; the runner collects it into ``kpis.json``.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

from soakkit.core.tables import BYTES_SUFFIX, table_html, text_table

__all__ = ["BYTES_SUFFIX", "FIGURE_DPI", "RECORD_MIME", "notebook_setup", "record", "show",
           "show_chart", "table", "table_html", "text_table"]

RECORD_MIME = "application/vnd.soakkit.record+json"
FIGURE_DPI = 100


def notebook_setup() -> None:
    """Pin polars' display and matplotlib's style for reproducible notebook outputs."""
    import matplotlib
    import polars as pl

    for name in list(os.environ):
        if name.startswith("POLARS_FMT_"):
            del os.environ[name]
    pl.Config.restore_defaults()
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(160)
    pl.Config.set_fmt_str_lengths(60)
    pl.Config.set_float_precision(3)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    matplotlib.rcdefaults()
    matplotlib.rcParams.update({"figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI,
                                "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                                "svg.hashsalt": "soakkit"})
    os.environ["SOURCE_DATE_EPOCH"] = "0"


def png_bytes(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes without timestamp metadata (same figure → same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buf.getvalue()


def show(fig: Any, name: str) -> None:
    """Display ``fig`` as a PNG named ``name`` (the report runner saves it as ``name.png``)."""
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig), format="png"), metadata={"soakkit_figure": name})


def show_chart(chart: Any, name: str) -> None:
    """Display an interactive chart (altair) named ``name``.

    The output is its Vega-Lite specification (:data:`soakkit.report.charts.VEGALITE_MIME`,
    rendered natively by JupyterLab, Notebook 7 and VS Code, offline) and a stable text
    line; the report runner turns it into an offline interactive chart in ``report.html``.
    """
    from IPython.display import display

    from soakkit.report.charts import CHART_META, VEGALITE_MIME, spec

    text = (f"<interactive chart {name}: hover for details, drag or wheel to zoom "
            "(JupyterLab and report.html)>")
    display({VEGALITE_MIME: spec(chart), "text/plain": text}, raw=True,
            metadata={CHART_META: name})


def record(name: str, value: Any) -> None:
    """Display ``value`` (JSON) under :data:`RECORD_MIME`; the runner writes ``kpis.json``."""
    from IPython.display import display

    payload = {"name": name, "value": json.loads(json.dumps(value, allow_nan=False))}
    display({RECORD_MIME: payload}, raw=True)  # no text form: reports do not show it


def table(frame: Any) -> None:
    """Display a polars frame as a readable table (HTML, and aligned text for consoles)."""
    from IPython.display import display

    display({"text/html": table_html(frame), "text/plain": text_table(frame)}, raw=True)
