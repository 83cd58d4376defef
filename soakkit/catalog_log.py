"""Catalog rows from the runs' iteration logs: one file read per run, not one per iteration.

A run's table is its ``iterations.parquet`` when that was made from the current log (all
of them are read in one parallel polars call), else the log ``iterations.jsonl`` parsed by
polars, else (a log polars rejects) parsed line by line. The ITER_SUMMARY files stay the
source of truth: each file of the folder must match the log line of its iteration — same
name, size and mtime (a ``.gz``: same name and mtime, which rotation keeps) — to take its
row from the log. Iterations the log holds without a file (rotation deleted it) are rows of
source ``history``. A file the log does not match is read from the file, and a note says
why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts import ITER_LOG_FILE
from soakkit.catalog_parse import META_SCHEMA, extract_row, rows_to_frame, with_meta
from soakkit.iterlog import read_log
from soakkit.iterlog_table import LOG_SCHEMA, flat_table, read_log_frame, table_meta

__all__ = ["LogFolder", "LogRows", "Source", "rows_from_logs"]

#: (path, kind, iteration, inode, size, mtime_ns, name) of a file of a run folder
Source = tuple[str, str, int | None, int, int, int, str]
_TABLE, _IT = "_table", "_it"


@dataclass(frozen=True)
class LogFolder:
    """A run folder with an iteration log, and what its scan found."""

    path: Path
    rel: str
    run_id: str
    layout: str
    options: dict[str, Any]
    sources: list[Source]


@dataclass
class LogRows:
    """What the logs give: catalog rows, the files they cover, problems and notes."""

    frame: pl.DataFrame
    covered: set[str] = field(default_factory=set)  #: files whose rows come from a log
    problems: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


def _tables(folders: list[LogFolder]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Every folder's table in one frame (column ``_table``: the folder's path); the folders
    whose log only the line-by-line parser reads map to their entries instead."""
    parquets: list[str] = []
    frames: list[pl.DataFrame] = []
    tolerant: dict[str, Any] = {}
    for f in folders:
        log_size = next(s[4] for s in f.sources if s[1] == "log")
        if table_meta(f.path) == str(log_size):
            parquets.append(str(f.path / "iterations.parquet"))
            continue
        try:
            read = read_log_frame(f.path)
        except pl.exceptions.PolarsError:
            read = None
        if read is None:
            tolerant[str(f.path)] = read_log(f.path)
        else:
            frames.append(flat_table(read[0]).with_columns(pl.lit(str(f.path)).alias(_TABLE)))
    if parquets:
        big = pl.read_parquet(parquets, include_file_paths=_TABLE)
        frames.append(big.with_columns(pl.col(_TABLE).str.strip_suffix("/iterations.parquet")))
    empty = flat_table(pl.DataFrame(schema=LOG_SCHEMA)).with_columns(
        pl.lit(None, pl.String).alias(_TABLE))
    return pl.concat([empty, *frames], how="vertical_relaxed"), tolerant


_IDENT: dict[str, Any] = {_TABLE: pl.String, "iteration": pl.Int64, "file_name": pl.String,
                          "file_size": pl.Int64, "file_mtime_ns": pl.Int64}
_FILES: dict[str, Any] = {_TABLE: pl.String, "iteration": pl.Int64, "_path": pl.String,
                          "_source": pl.String, "_size": pl.Int64, "_mtime": pl.Int64,
                          "_name": pl.String}


def _files(folders: list[LogFolder]) -> pl.DataFrame:
    """Every ITER_SUMMARY file of the folders, as columns (built a folder at a time)."""
    cols: dict[str, list[Any]] = {k: [] for k in _FILES}
    for f in folders:
        files = [s for s in f.sources if s[2] is not None]
        if not files:
            continue
        path, kind, n, _, size, mtime, name = zip(*files, strict=True)
        for key, values in ((_TABLE, [str(f.path)] * len(files)), ("iteration", n),
                            ("_path", path), ("_source", kind), ("_size", size),
                            ("_mtime", mtime), ("_name", name)):
            cols[key] += values
    return pl.DataFrame(cols, schema=_FILES)


def _choose(files: pl.DataFrame, idents: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows to take from the logs (``_table``, iteration, ``_path``, ``_source``), and
    the files their log does not match (``_table``, ``_name``): the consistency rule."""
    joined = files.join(idents, on=[_TABLE, "iteration"], how="left")
    name, mtime = pl.col("_name"), pl.col("_mtime") == pl.col("file_mtime_ns")
    same = ((name == pl.col("file_name")) & (pl.col("_size") == pl.col("file_size")) & mtime) \
        | ((pl.col("_source") == "gz") & (name == pl.col("file_name") + ".gz") & mtime)
    joined = joined.with_columns(same.fill_null(False).alias("_same"))
    matched = joined.filter("_same").select(_TABLE, "iteration", "_path", "_source")
    history = idents.join(files, on=[_TABLE, "iteration"], how="anti").select(
        _TABLE, "iteration", (pl.col(_TABLE) + f"/{ITER_LOG_FILE}").alias("_path"),
        pl.lit("history").alias("_source"))
    return pl.concat([matched, history]), joined.filter(~pl.col("_same")).select(_TABLE, "_name")


def rows_from_logs(folders: list[LogFolder]) -> LogRows:
    """Rows of every folder the logs hold (see the module's docstring)."""
    table, tolerant = _tables(folders)
    idents = [table.select(*_IDENT)]
    for where, (entries, _) in tolerant.items():
        idents.append(pl.DataFrame(
            [(where, n, e.file.name, e.file.size, e.file.mtime_ns) for n, e in entries.items()],
            schema=_IDENT, orient="row"))
    chosen, stale = _choose(_files(folders), pl.concat(idents))
    out = LogRows(rows_to_frame([]), covered=set(chosen["_path"].to_list()))
    by_path = {str(f.path): f for f in folders}
    for (where,), part in stale.partition_by(_TABLE, as_dict=True).items():
        f, names = by_path[str(where)], sorted(part["_name"].to_list())
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        out.notes[f.rel] = [f"{f.rel}: {len(names)} ITER_SUMMARY file(s) not in "
                            f"{ITER_LOG_FILE} or changed since it was written ({shown}): "
                            "read from the files"]
    tolerant_rows: list[tuple[Any, ...]] = []
    for where, (entries, problems) in tolerant.items():
        f = by_path[where]
        if problems:
            out.problems[f.rel] = problems
        mine = chosen.filter(pl.col(_TABLE) == where)
        tolerant_rows += [extract_row(entries[n].doc, f.run_id, f.layout, source, path,
                                      f.options, n)
                          for n, path, source in mine.select("iteration", "_path", "_source")
                          .iter_rows()]
    runs = pl.DataFrame(
        {_TABLE: [str(f.path) for f in folders], "_run_id": [f.run_id for f in folders],
         "_layout": [f.layout for f in folders],
         **{f"_{k}": [v if isinstance(v := f.options.get(k), str) else None for f in folders]
            for k in ("profile", "mode", "gate")}},
        schema={_TABLE: pl.String, **{k: META_SCHEMA[k] for k in (
            "_run_id", "_layout", "_profile", "_mode", "_gate")}})
    flat = (chosen.filter(~pl.col(_TABLE).is_in(list(tolerant)))
            .join(runs, on=_TABLE, how="left")
            .join(table, on=[_TABLE, "iteration"], how="inner")
            .with_columns(pl.col("iteration").alias("_n")))
    out.frame = pl.concat([with_meta(flat), rows_to_frame(tolerant_rows)])
    return out
