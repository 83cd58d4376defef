"""A run's catalog rows from its iteration log: one file read per run, not one per iteration.

The table is ``iterations.parquet`` when it was made from the current log, else the log
``iterations.jsonl`` parsed by polars, else (a log polars rejects) parsed line by line. The
ITER_SUMMARY files stay the source of truth: each file of the folder must match the log
line of its iteration — same name, size and mtime (a ``.gz``: same name and mtime, which
rotation keeps) — to take its row from the log. Iterations the log holds without a file
(rotation deleted it) are rows of source ``history``. A file the log does not match is
read from the file, and a note says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts import ITER_LOG_FILE
from soakkit.catalog_parse import Task, extract_row
from soakkit.iterlog import read_log
from soakkit.iterlog_table import read_log_frame, read_table

__all__ = ["LogRows", "Source", "rows_from_log"]

#: (path, kind, iteration, inode, size, mtime_ns) of a file of a run folder
Source = tuple[str, str, int | None, int, int, int]


@dataclass
class LogRows:
    """What the log gives for one folder."""

    raw: pl.DataFrame | None = None  #: narrowed documents, aligned with ``tasks``
    tasks: list[Task] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  #: tolerant path
    covered: set[str] = field(default_factory=set)  #: files whose rows come from the log
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _matches(ident: tuple[str, int, int] | None, name: str, kind: str, size: int,
             mtime: int) -> bool:
    if ident is None:
        return False
    logged, _, logged_mtime = ident
    if kind == "gz":
        return name == logged + ".gz" and mtime == logged_mtime
    return (name, size, mtime) == ident


def rows_from_log(folder: Path, rel: str, run_id: str, layout: str, options: dict[str, Any],
                  sources: list[Source]) -> LogRows | None:
    """Rows of ``folder`` its log holds, or None when the folder has no log."""
    log = next((s for s in sources if s[1] == "log"), None)
    if log is None:
        return None
    out = LogRows()
    frame: pl.DataFrame | None = read_table(folder, log[4])
    if frame is None:
        try:
            read = read_log_frame(folder)
            frame = None if read is None else read[0]
        except pl.exceptions.PolarsError:
            frame = None
    entries = None
    if frame is not None:
        idents = {n: (name, size, mtime) for n, name, size, mtime in frame.select(
            "iteration", pl.col("file").struct.field("name"), pl.col("file").struct.field("size"),
            pl.col("file").struct.field("mtime_ns")).iter_rows()}
    else:  # a log polars rejects: the tolerant parser, line by line
        entries, out.problems = read_log(folder)
        idents = {n: (e.file.name, e.file.size, e.file.mtime_ns) for n, e in entries.items()}
    use: dict[int, tuple[str, str]] = {}
    stale: list[str] = []
    with_file: set[int] = set()
    for path, kind, n, _, size, mtime in sources:
        if n is None or kind not in ("file", "gz"):
            continue
        with_file.add(n)
        name = os.path.basename(path)
        if _matches(idents.get(n), name, kind, size, mtime):
            use[n] = (path, kind)
            out.covered.add(path)
        else:
            stale.append(name)
    log_path = str(Path(folder) / ITER_LOG_FILE)
    for n in idents:
        if n not in with_file:
            use[n] = (log_path, "history")
    if stale:
        shown = ", ".join(sorted(stale)[:3]) + (", ..." if len(stale) > 3 else "")
        out.notes.append(f"{rel}: {len(stale)} ITER_SUMMARY file(s) not in {ITER_LOG_FILE} "
                         f"or changed since it was written ({shown}): read from the files")
    if entries is not None:
        out.rows = [extract_row(entries[n].doc, run_id, layout, use[n][1], use[n][0], options, n)
                    for n in sorted(use)]
        return out
    assert frame is not None
    chosen = frame.filter(pl.col("iteration").is_in(list(use)))
    out.raw = chosen.select("doc").unnest("doc")
    out.tasks = [(use[n][0], run_id, layout, use[n][1], options, n)
                 for n in chosen["iteration"].to_list()]
    return out
