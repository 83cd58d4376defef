"""Tables for people: one HTML style and one plain-text layout for every soakkit table.

The lowest layer of soakkit (it imports nothing from it), so that the run catalog, the
reports, the sweep results and the command line all show tables the same way:

* :func:`table_html` – an escaped HTML table with the soakkit style (Jupyter's
  ``_repr_html_`` and the HTML reports);
* :func:`text_table` / :func:`fit_text_table` – aligned plain text, one line per row,
  never wrapped: text columns are clipped with ``…`` and, when that is not enough,
  optional columns are hidden, until the table fits a terminal width.

Cells are formatted once (:func:`cell`): numbers to 4 significant digits, ``*_usd``
columns as money, ``*_bytes`` columns as byte counts, times to the minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

__all__ = ["BYTES_SUFFIX", "TABLE_CSS", "USD_SUFFIX", "cell", "fit_text_rows", "fit_text_table",
           "table_html", "text_table"]

#: Columns whose name ends with this hold byte counts. Their cells carry the CSS class
#: ``bytes`` and a fixed text width, so nbval can mask them (tests/golden/nbval_sanitize.cfg):
#: a file's size depends on the last digits of the floats it holds, which depend on the CPU.
BYTES_SUFFIX = "_bytes"
#: Columns whose name ends with this hold US dollars (two decimals, thousands separated).
USD_SUFFIX = "_usd"
_BYTES_WIDTH = 14
_MIN_CLIP = 6

TABLE_CSS = ("<style>table.soakkit-table{border-collapse:collapse;font-size:12px;margin:6px 0}"
             "table.soakkit-table th,table.soakkit-table td{padding:3px 10px;"
             "border-bottom:1px solid #ddd;text-align:left !important}"
             "table.soakkit-table th{background:#f4f4f4}"
             "table.soakkit-table td.num{text-align:right !important;"
             "font-variant-numeric:tabular-nums}"
             "table.soakkit-table td.none{color:#999;text-align:center !important}</style>")


def cell(value: Any, column: str = "") -> tuple[str, str]:
    """(text, css class) of one table cell; the class starts with ``num`` for numbers."""
    if column.endswith(BYTES_SUFFIX) and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} B", "num bytes"
    if value is None:
        return "–", "none"
    if isinstance(value, bool):
        return ("yes" if value else "no"), "text"
    if isinstance(value, float) and column.endswith(USD_SUFFIX):
        return f"{value:,.2f}", "num"
    if isinstance(value, float):
        return f"{value:.4g}", "num"
    if isinstance(value, int):
        return str(value), "num"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M"), "text"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value), "text"
    return str(value), "text"


def _cells(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[list[tuple[str, str]]]:
    return [[cell(value, column) for column, value in zip(columns, row, strict=True)]
            for row in rows]


def table_html(frame: Any, *, caption: str | None = None) -> str:
    """A polars frame as an HTML table in the soakkit style (escaped, nothing external).

    This is the one table style of soakkit's reports and of the ``_repr_html_`` of its
    result objects (catalog, KPI report, sweep results).
    """
    import html  # here, not at the top: the text tables of the command line never need it

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in _cells(list(frame.columns), frame.iter_rows()):
        cells = "".join(f'<td class="{cls}">{html.escape(text)}</td>' for text, cls in row)
        rows.append(f"<tr>{cells}</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'{TABLE_CSS}<table class="soakkit-table">{title}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_text_table(frame: Any, width: int | None = None, *, whole: Sequence[str] = (),
                   optional: Sequence[str] = ()) -> tuple[str, list[str]]:
    """Aligned plain text that fits ``width`` characters; returns (text, hidden columns).

    Text columns are clipped with ``…`` (widest first, never below 6 characters, never the
    columns named in ``whole``); if the table is still too wide, the ``optional`` columns
    are hidden in the order given. Numbers are right-aligned and never clipped.
    """
    return fit_text_rows(list(frame.columns), frame.iter_rows(), width, whole=whole,
                         optional=optional)


def fit_text_rows(names: Sequence[str], values: Iterable[Sequence[Any]],
                  width: int | None = None, *, whole: Sequence[str] = (),
                  optional: Sequence[str] = ()) -> tuple[str, list[str]]:
    """:func:`fit_text_table` of rows of Python values (``names``: the column headers),
    for callers that have no frame."""
    columns = [str(c) for c in names]
    rows = _cells(columns, values)
    numeric = [bool(rows) and all(row[i][1].startswith("num") or row[i][1] == "none"
                                  for row in rows) for i in range(len(columns))]
    natural = [max([len(name)] + [len(row[i][0]) for row in rows]) for i, name in
               enumerate(columns)]
    for i, name in enumerate(columns):
        if name.endswith(BYTES_SUFFIX):
            natural[i] = max(len(name), _BYTES_WIDTH)
    shown = list(range(len(columns)))
    hidden: list[str] = []
    widths = list(natural)
    to_hide = [c for c in optional if c in columns]
    while True:
        widths = [natural[i] if i in shown else 0 for i in range(len(columns))]
        if width is None:
            break
        gap = 2 * max(len(shown) - 1, 0)
        while sum(widths) + gap > width:
            candidates = [i for i in shown if not numeric[i] and widths[i] > _MIN_CLIP
                          and columns[i] not in whole]
            if not candidates:
                break
            widths[max(candidates, key=lambda i: widths[i])] -= 1
        if sum(widths) + gap <= width or not to_hide:
            break
        name = to_hide.pop(0)
        shown.remove(columns.index(name))
        hidden.append(name)

    def line(texts: list[str]) -> str:
        parts = [(_clip(texts[i], widths[i]).rjust(widths[i]) if numeric[i]
                  else _clip(texts[i], widths[i]).ljust(widths[i])) for i in shown]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * widths[i] for i in shown)]
    out += [line([text for text, _ in row]) for row in rows]
    return "\n".join(out), hidden


def text_table(frame: Any, width: int | None = None) -> str:
    """A polars frame as aligned plain text, one line per row, never wrapped.

    Cells are formatted as in :func:`table_html` (numbers right-aligned). With ``width``,
    the widest text columns are clipped with ``…`` until a line fits; numbers are never
    clipped.
    """
    return fit_text_table(frame, width)[0]
