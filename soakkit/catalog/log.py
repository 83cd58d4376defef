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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.iterlog import read_log
from soakkit.artifacts.iterlog_table import LOG_SCHEMA, flat_table, read_log_frame, table_meta
from soakkit.artifacts.layout import ITER_LOG_FILE
from soakkit.catalog.parse import (
    CATALOG_SCHEMA,
    META_SCHEMA,
    RUN_META,
    extract_row,
    rows_to_frame,
    run_meta,
    with_meta,
)
from soakkit.catalog.scan import SOURCE_SCHEMA, Source

__all__ = ["KEY_SCHEMA", "LogFolder", "LogRows", "LogTables", "read_tables", "rows_from_logs",
           "with_keys"]

_TABLE, _ROW = "_table", "_row"


@dataclass(frozen=True)
class LogFolder:
    """A run folder with an iteration log, and what its scan found."""

    path: Path
    rel: str
    run_id: str
    layout: str
    options: dict[str, Any]
    files: pl.DataFrame  #: its files but the log (:data:`soakkit.catalog.scan.SOURCE_SCHEMA`)
    log: Source  #: the iteration log, as it was when its table was read


@dataclass
class LogRows:
    """What the logs give: catalog rows (with their :data:`KEY_SCHEMA` columns), the files
    to read instead, problems and notes."""

    frame: pl.DataFrame
    unmatched: set[str] = field(default_factory=set)  #: files the logs do not hold: to read
    problems: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LogTables:
    """The tables of some folders' logs (:func:`read_tables`)."""

    frame: pl.DataFrame  #: every table in one frame (column ``_table``: the folder's path)
    tolerant: dict[str, Any]  #: folders whose log only the line-by-line parser reads
    folders: frozenset[str]  #: the folders read (paths)

    def without(self, folders: set[str]) -> LogTables:
        """These tables but those of ``folders`` (paths): read again by
        :func:`rows_from_logs`."""
        if not folders & self.folders:
            return self
        return LogTables(self.frame.filter(~pl.col(_TABLE).is_in(list(folders))),
                         {k: v for k, v in self.tolerant.items() if k not in folders},
                         self.folders - folders)


def read_tables(logs: Sequence[tuple[Path, int]]) -> LogTables:
    """The tables of the folders ``logs`` names, each with its log's size: the folder's
    ``iterations.parquet`` where it was made from a log of that size, else the log parsed
    by polars, else (a log polars rejects) its entries from the line-by-line parser."""
    parquets: list[str] = []
    frames: list[pl.DataFrame] = []
    tolerant: dict[str, Any] = {}
    for path, log_size in logs:
        if table_meta(path) == str(log_size):
            parquets.append(str(path / "iterations.parquet"))
            continue
        try:
            read = read_log_frame(path)
        except pl.exceptions.PolarsError:
            read = None
        if read is None:
            tolerant[str(path)] = read_log(path)
        else:
            frames.append(flat_table(read[0]).with_columns(pl.lit(str(path)).alias(_TABLE)))
    empty = flat_table(pl.DataFrame(schema=LOG_SCHEMA)).with_columns(
        pl.lit(None, pl.String).alias(_TABLE))
    if parquets:  # tables of other soakkit versions may lack a parameter's column, or have one
        expected = {k: v for k, v in empty.schema.items() if k != _TABLE}
        big = pl.scan_parquet(parquets, schema=expected, missing_columns="insert",
                              extra_columns="ignore", include_file_paths=_TABLE).collect()
        frames.append(big.with_columns(pl.col(_TABLE).str.strip_suffix("/iterations.parquet")))
    return LogTables(pl.concat([empty, *frames], how="vertical_relaxed"), tolerant,
                     frozenset(str(path) for path, _ in logs))


def _tables(folders: list[LogFolder], read: LogTables | None
            ) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The tables of ``folders``: those ``read`` holds (read beforehand from the same log
    sizes), then the others."""
    done = read or LogTables(pl.DataFrame(), {}, frozenset())
    missing = [(f.path, f.log[4]) for f in folders if str(f.path) not in done.folders]
    if done.folders and not missing:
        return done.frame, done.tolerant
    rest = read_tables(missing)
    if not done.folders:
        return rest.frame, rest.tolerant
    return (pl.concat([done.frame, rest.frame], how="vertical_relaxed"),
            {**done.tolerant, **rest.tolerant})


_IDENT: dict[str, Any] = {_TABLE: pl.String, "iteration": pl.Int64, "file_name": pl.String,
                          "file_size": pl.Int64, "file_mtime_ns": pl.Int64}
_FILES: dict[str, Any] = {_TABLE: pl.String(), **SOURCE_SCHEMA}
_FILE_KEYS = ("_ino", "_size", "_mtime")
#: The cache key of a row's source file, next to every row (:mod:`soakkit.catalog.load`): the
#: folder (``runs/<id>``), the file's path, inode, size and mtime.
KEY_SCHEMA: dict[str, Any] = {"_dir": pl.String(), "_src": pl.String(),
                              **{k: SOURCE_SCHEMA[k] for k in _FILE_KEYS}}


def _files(folders: list[LogFolder]) -> pl.DataFrame:
    """Every ITER_SUMMARY file of the folders, with its folder (``_table``)."""
    files = pl.concat([f.files for f in folders], rechunk=False) if folders else None
    if files is None or files.height == 0:
        return pl.DataFrame(schema=_FILES)
    path, name = pl.col("_path"), pl.col("_name")
    folder = path.str.slice(0, path.str.len_chars() - name.str.len_chars() - 1)  # path/name
    return files.filter(pl.col("iteration").is_not_null()).select(
        folder.alias(_TABLE), *list(_FILES)[1:])


def _choose(files: pl.DataFrame, idents: pl.DataFrame, logs: pl.DataFrame
            ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows to take from the logs (``_table``, iteration, ``_path``, ``_source``, the
    ``_ino``, ``_size`` and ``_mtime`` of the file, and ``_row``: the row of the table, null
    for a log read line by line), and the files their log does not match (``_table``,
    ``_name``, ``_path``): the consistency rule. ``logs``: each folder's log file (the
    source of a ``history`` row)."""
    joined = files.join(idents, on=[_TABLE, "iteration"], how="left")
    name, mtime = pl.col("_name"), pl.col("_mtime") == pl.col("file_mtime_ns")
    same = ((name == pl.col("file_name")) & (pl.col("_size") == pl.col("file_size")) & mtime) \
        | ((pl.col("_source") == "gz") & (name == pl.col("file_name") + ".gz") & mtime)
    joined = joined.with_columns(same.fill_null(False).alias("_same"))
    matched = joined.filter("_same").select(_TABLE, "iteration", "_path", "_source",
                                            *_FILE_KEYS, _ROW)
    history = idents.join(files, on=[_TABLE, "iteration"], how="anti").select(
        _TABLE, "iteration", (pl.col(_TABLE) + f"/{ITER_LOG_FILE}").alias("_path"),
        pl.lit("history").alias("_source"), _ROW).join(logs, on=_TABLE, how="left")
    return (pl.concat([matched, history.select(matched.columns)]),
            joined.filter(~pl.col("_same")).select(_TABLE, "_name", "_path"))


def rows_from_logs(folders: list[LogFolder], tables: LogTables | None = None) -> LogRows:
    """Rows of every folder the logs hold (see the module's docstring); ``tables``: those of
    some of them, read beforehand (:func:`read_tables`) from the sizes their ``log`` has."""
    table, tolerant = _tables(folders, tables)
    table = table.with_row_index(_ROW)
    idents = [table.select(*_IDENT, _ROW)]
    for where, (entries, _) in tolerant.items():
        idents.append(pl.DataFrame(
            [(where, n, e.file.name, e.file.size, e.file.mtime_ns, None)
             for n, e in entries.items()],
            schema={**_IDENT, _ROW: pl.UInt32}, orient="row"))
    logs = pl.DataFrame([(str(f.path), *f.log[3:6]) for f in folders],
                        schema={_TABLE: pl.String, **{k: SOURCE_SCHEMA[k] for k in _FILE_KEYS}},
                        orient="row")
    chosen, stale = _choose(_files(folders), pl.concat(idents), logs)
    out = LogRows(rows_to_frame([]), unmatched=set(stale["_path"].to_list()))
    by_path = {str(f.path): f for f in folders}
    for (where,), part in stale.partition_by(_TABLE, as_dict=True).items():
        f, names = by_path[str(where)], sorted(part["_name"].to_list())
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        out.notes[f.rel] = [f"{f.rel}: {len(names)} ITER_SUMMARY file(s) not in "
                            f"{ITER_LOG_FILE} or changed since it was written ({shown}): "
                            "read from the files"]
    tolerant_rows: list[tuple[Any, ...]] = []
    tolerant_keys = [_key_columns(pl.DataFrame(schema={"_dir": pl.String, **_FILES}))]
    for where, (entries, problems) in tolerant.items():
        f = by_path[where]
        if problems:
            out.problems[f.rel] = problems
        mine = chosen.filter(pl.col(_TABLE) == where)
        tolerant_rows += [extract_row(entries[n].doc, f.run_id, f.layout, source, path,
                                      f.options, n)
                          for n, path, source in mine.select("iteration", "_path", "_source")
                          .iter_rows()]
        tolerant_keys.append(_key_columns(mine.with_columns(pl.lit(f.rel).alias("_dir"))))
    metas = [run_meta(f.options) for f in folders]
    runs = pl.DataFrame(
        {_TABLE: [str(f.path) for f in folders], "_run_id": [f.run_id for f in folders],
         "_dir": [f.rel for f in folders], "_layout": [f.layout for f in folders],
         **{name: [m[i] for m in metas] for i, name in enumerate(RUN_META)}},
        schema={_TABLE: pl.String, "_run_id": pl.String, "_dir": pl.String,
                **{k: META_SCHEMA[k] for k in ("_layout", *RUN_META)}})
    picked = (chosen.filter(pl.col(_ROW).is_not_null()).sort(_ROW)
              .join(runs, on=_TABLE, how="left", maintain_order="left"))
    flat = pl.concat([_rows(table, picked[_ROW]).drop(_ROW, _TABLE),
                      picked.select(k for k in META_SCHEMA if k != "_n")], how="horizontal")
    from_tables = with_meta(flat.with_columns(pl.col("iteration").alias("_n")))
    out.frame = pl.concat([
        pl.concat([from_tables, _key_columns(picked)], how="horizontal"),
        pl.concat([rows_to_frame(tolerant_rows), pl.concat(tolerant_keys)], how="horizontal")])
    return out


def _key_columns(chosen: pl.DataFrame) -> pl.DataFrame:
    """The :data:`KEY_SCHEMA` columns of rows chosen by :func:`_choose` (with ``_dir``)."""
    return chosen.select(pl.col("_dir"), pl.col("_path").alias("_src"), *_FILE_KEYS).cast(
        KEY_SCHEMA)  # type: ignore[arg-type]


def _rows(table: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """``table``'s rows at the sorted indices ``rows``: the table itself (no copy of its ~90
    columns) when they are each of its rows once, the common case."""
    whole = rows.len() == table.height and rows.n_unique() == rows.len()
    return table if whole else table[rows]


def with_keys(rows: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Catalog rows (:data:`~soakkit.catalog.parse.CATALOG_SCHEMA`) with the cache keys of
    their source files from ``keys`` (:data:`KEY_SCHEMA`), by ``path``; only the narrow
    columns are joined (a join of the ~90 row columns would copy them all)."""
    of_rows = rows.select(pl.col("path").alias("_src")).join(
        keys.unique("_src", keep="first"), on="_src", how="left", maintain_order="left")
    return pl.concat([rows.select(*CATALOG_SCHEMA), of_rows.select(*KEY_SCHEMA)],
                     how="horizontal")
