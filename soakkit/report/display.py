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

__all__ = ["BYTES_SUFFIX", "FIGURE_DPI", "RECORD_MIME", "notebook_setup", "record", "show",
           "table", "table_html", "text_table"]

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


def record(name: str, value: Any) -> None:
    """Display ``value`` (JSON) under :data:`RECORD_MIME`; the runner writes ``kpis.json``."""
    from IPython.display import display

    payload = {"name": name, "value": json.loads(json.dumps(value, allow_nan=False))}
    display({RECORD_MIME: payload}, raw=True)  # no text form: reports do not show it


#: Columns whose name ends with this hold byte counts. Their cells carry the CSS class
#: ``bytes`` and a fixed text width, so nbval can mask them (tests/golden/nbval_sanitize.cfg):
#: a file's size depends on the last digits of the floats it holds, which depend on the CPU.
BYTES_SUFFIX = "_bytes"
_BYTES_WIDTH = 14


def _cell(value: Any, column: str = "") -> tuple[str, str]:
    """(text, css class) of one table cell."""
    if column.endswith(BYTES_SUFFIX) and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} B", "num bytes"
    if value is None:
        return "–", "none"
    if isinstance(value, bool):
        return ("yes" if value else "no"), "text"
    if isinstance(value, float):
        return f"{value:.4g}", "num"
    if isinstance(value, int):
        return str(value), "num"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value), "text"
    return str(value), "text"


_TABLE_CSS = ("<style>table.soakkit-table{border-collapse:collapse;font-size:12px;margin:6px 0}"
              "table.soakkit-table th,table.soakkit-table td{padding:3px 10px;"
              "border-bottom:1px solid #ddd;text-align:left !important}"
              "table.soakkit-table th{background:#f4f4f4}"
              "table.soakkit-table td.num{text-align:right !important;"
              "font-variant-numeric:tabular-nums}"
              "table.soakkit-table td.none{color:#999;text-align:center !important}</style>")


def _cells(frame: Any) -> list[list[tuple[str, str]]]:
    columns = list(frame.columns)
    return [[_cell(value, column) for column, value in zip(columns, row, strict=True)]
            for row in frame.iter_rows()]


def table_html(frame: Any) -> str:
    """A polars frame as a plain HTML table (escaped; numbers to 4 significant digits)."""
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in _cells(frame):
        cells = "".join(f'<td class="{cls}">{html.escape(text)}</td>' for text, cls in row)
        rows.append(f"<tr>{cells}</tr>")
    return (f'{_TABLE_CSS}<table class="soakkit-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def text_table(frame: Any, width: int | None = None) -> str:
    """A polars frame as aligned plain text, one line per row, never wrapped.

    Cells are formatted as in :func:`table_html` (numbers right-aligned). With ``width``,
    the widest text columns are clipped with ``…`` until a line fits; numbers are never
    clipped.
    """
    columns = [str(c) for c in frame.columns]
    rows = _cells(frame)
    numeric = [bool(rows) and all(row[i][1].startswith("num") or row[i][1] == "none"
                                  for row in rows) for i in range(len(columns))]
    widths = [max([len(name)] + [len(row[i][0]) for row in rows]) for i, name in
              enumerate(columns)]
    for i, name in enumerate(columns):
        if name.endswith(BYTES_SUFFIX):
            widths[i] = max(len(name), _BYTES_WIDTH)
    if width is not None:
        gap = 2 * max(len(columns) - 1, 0)
        while sum(widths) + gap > width:
            candidates = [i for i in range(len(columns)) if not numeric[i] and widths[i] > 6]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1

    def line(texts: list[str]) -> str:
        parts = [(_clip(t, w).rjust(w) if num else _clip(t, w).ljust(w))
                 for t, w, num in zip(texts, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line([text for text, _ in row]) for row in rows]
    return "\n".join(out)


def table(frame: Any) -> None:
    """Display a polars frame as a readable table (HTML, and aligned text for consoles)."""
    from IPython.display import display

    display({"text/html": table_html(frame), "text/plain": text_table(frame)}, raw=True)
