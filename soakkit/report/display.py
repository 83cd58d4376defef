"""Notebook plumbing: deterministic display settings, one output per figure, a KPI record.

Every soakkit notebook calls :func:`notebook_setup` first, so that what it prints does not
depend on the environment (polars ``POLARS_FMT_*`` variables, matplotlib rc files) and
nbval can compare outputs; it also shows every polars frame in the reports' table style.
:func:`show` displays a figure once, with its name (the report runner saves it as
``<name>.png``): a matplotlib figure as PNG bytes with fixed size, DPI and no timestamp
metadata; an interactive chart (altair) as its Vega-Lite specification together with a
PNG rendered from it (:func:`soakkit.report.charts.static_png`); and a sentence, for a
figure that would be empty, as text. :func:`record` displays a value under the MIME type
:data:`RECORD_MIME`; the runner collects it into ``kpis.json``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

from soakkit.core.tables import BYTES_SUFFIX, table_html, text_table

__all__ = ["BYTES_SUFFIX", "FIGURE_DPI", "FIGURE_META", "RECORD_MIME", "notebook_setup", "record",
           "show", "table", "table_html", "text_table", "use_table_style"]

RECORD_MIME = "application/vnd.soakkit.record+json"
#: Output metadata key naming a figure (the runner saves it as ``<name>.png``).
FIGURE_META = "soakkit_figure"
FIGURE_DPI = 100


def notebook_setup() -> None:
    """Pin polars' display and matplotlib's style for reproducible notebook outputs.

    matplotlib is configured only when it is imported already (by
    :mod:`soakkit.report.figures`): a notebook that shows only interactive charts never
    imports it (0.4-0.7 s of CPU).
    """
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
    use_table_style()
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.rcdefaults()
        matplotlib.rcParams.update({"figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI,
                                    "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                                    "svg.hashsalt": "soakkit"})
    os.environ["SOURCE_DATE_EPOCH"] = "0"


def use_table_style() -> None:
    """Show every polars frame a cell returns in the reports' table style (this kernel).

    Frames that ``Catalog.runs()``, the reports and the sweep results return display as the
    reports' tables (:func:`soakkit.core.tables.table_html`) instead of polars' own; the
    frames themselves are unchanged. :func:`notebook_setup` calls it.
    """
    import polars as pl
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        formatter = shell.display_formatter.formatters["text/html"]
        formatter.for_type(pl.DataFrame, _frame_html)


#: Rows of a frame shown as a cell's value (polars shows 10; a table can be scrolled).
_FRAME_ROWS = 200


def _frame_html(frame: Any) -> str:
    if frame.height <= _FRAME_ROWS:
        return table_html(frame)
    return table_html(frame.head(_FRAME_ROWS),
                      caption=f"the first {_FRAME_ROWS} of {frame.height} rows")


def png_bytes(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes without timestamp metadata (same figure → same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buf.getvalue()


def show(figure: Any, name: str) -> None:
    """Display ``figure`` once, named ``name`` (the report runner saves it as ``name.png``).

    ``figure`` is a matplotlib figure (shown as PNG), an altair chart (interactive where the
    front end renders Vega-Lite, its PNG elsewhere: nbconvert, PDF, Markdown viewers), or a
    sentence saying why there is nothing to draw (printed, so no empty plot is shown).
    """
    from IPython.display import Image, display

    if isinstance(figure, str):
        print(figure)
        return
    if hasattr(figure, "to_dict"):  # an altair chart
        from soakkit.report.vega import CHART_META, VEGALITE_MIME, spec, static_png

        chart = spec(figure)
        text = f"<chart {name}: interactive in JupyterLab and report.html, PNG elsewhere>"
        display({VEGALITE_MIME: chart, "image/png": static_png(chart), "text/plain": text},
                raw=True, metadata={CHART_META: name, FIGURE_META: name})
        return
    display(Image(data=png_bytes(figure), format="png"), metadata={FIGURE_META: name})


def record(name: str, value: Any) -> None:
    """Display ``value`` (JSON) under :data:`RECORD_MIME`; the runner writes ``kpis.json``."""
    from IPython.display import display

    payload = {"name": name, "value": json.loads(json.dumps(value, allow_nan=False))}
    # an empty text form: nothing to read (the runner drops it from report.html), and
    # nbconvert's exports find a form they can show instead of warning
    display({RECORD_MIME: payload, "text/plain": ""}, raw=True)


def table(frame: Any) -> None:
    """Display a polars frame as a readable table (HTML, and aligned text for consoles)."""
    from IPython.display import display

    display({"text/html": table_html(frame), "text/plain": text_table(frame)}, raw=True)
