"""The run catalog: every run × iteration as one polars DataFrame, with an incremental cache.

Sources, all flattened into :data:`CATALOG_SCHEMA` by :mod:`soakkit.catalog.parse`:

* new layout – the run's iteration log (``iterations.parquet`` / ``iterations.jsonl``, one
  file per run, :mod:`soakkit.catalog.log`) for every iteration whose file it matches, and
  ``runs/<run_id>/ITER_SUMMARY_<n>.json`` (or ``.json.gz`` after rotation) for the others;
  a legacy run's compact history ``iterations.jsonl.gz`` (iterations rotation deleted);
* legacy layout – ``latest/ITER_SUMMARY_<n>.json`` with ``{iteration, summary, tuning}``
  (legacy brief §2.1), in numeric order, tolerating gaps and missing fields, under the run id
  ``legacy-latest``.

A file wins over the history for the same iteration. A corrupt file is reported in
:attr:`Catalog.problems` and skipped; the rest still load.

**Cache** (:mod:`soakkit.catalog.cache`). A parquet file per artifacts folder under the user's
cache directory (``$SOAKKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/soakkit``, else
``~/.cache/soakkit``; never inside the artifacts, which stay pure data) holds every row with the
key of its source file (path, inode, size, mtime). A folder whose mtime is unchanged is reused
without touching its files: soakkit writes every file by rename, and rotation adds and removes
files, all of which change the folder's mtime. Changed folders are checked file by file and only
new or changed files are parsed. ``refresh=True`` ignores the cache (for files edited in place
by other tools). Cold loads parse through polars (:mod:`soakkit.catalog.parse`), and list the
folders' files while they read the logs (:mod:`soakkit.catalog.scan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.layout import RUN_FILE, read_json_maybe_gz
from soakkit.catalog.cache import CatalogCache, cache_dir, read_cache, write_cache
from soakkit.catalog.find import FindListing
from soakkit.catalog.folders import LEGACY_RUN_ID, CatalogFolder
from soakkit.catalog.log import KEY_SCHEMA, LogFolder, read_tables, rows_from_logs, with_keys
from soakkit.catalog.parse import (
    CATALOG_SCHEMA,
    RUN_COLUMNS,
    Task,
    frame_from_files,
    parse_history,
    rows_to_frame,
)
from soakkit.catalog.scan import SOURCE_SCHEMA, FolderScan, Source, log_source
from soakkit.core.errors import SoakkitError
from soakkit.core.io import MAX_UTC, MIN_UTC
from soakkit.core.tables import table_html
from soakkit.gate import RUN_WINDOW, Verdict, judge_run

__all__ = ["CATALOG_SCHEMA", "LEGACY_RUN_ID", "RUN_SUMMARY_SCHEMA", "Catalog", "RunTable",
           "cache_dir", "load_folders", "run_summary", "to_records"]

@dataclass(frozen=True)
class Catalog:
    """The catalog table, the problems met while loading it, and how it was loaded."""

    frame: pl.DataFrame
    problems: tuple[str, ...]
    parsed_files: int = 0
    cached_rows: int = 0
    notes: tuple[str, ...] = ()  #: where a run's iteration log could not be used, and why
    logged_rows: int = 0  #: rows read from iteration logs (not from ITER_SUMMARY files)
    root: Path = Path()  #: the artifacts root it was loaded from (resolved once)
    #: the mtime (ns) of each folder read, by its key (``runs/<id>``, ``latest``), taken
    #: before any of its files was: what a cache of this catalog is valid for
    dirs: dict[str, int] = field(default_factory=dict)

    def runs(self) -> RunTable:
        """One row per run (:func:`run_summary`), shown in Jupyter as the reports' table."""
        return run_summary(self.frame)

    def _repr_html_(self) -> str:
        """Jupyter: the per-run summary in the reports' table style, then the problems."""
        import html

        runs = self.runs()
        caption = (f"{runs.height} run(s), {self.frame.height} iteration(s)"
                   f"{f', {len(self.problems)} problem(s) below' if self.problems else ''}")
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        return table_html(runs, caption=caption) + (f"<ul>{problems}</ul>" if problems else "")


class RunTable(pl.DataFrame):
    """A polars frame of one row per run that Jupyter shows in the reports' table style.

    What :meth:`Catalog.runs` and :func:`run_summary` return; everything else about it is
    a :class:`polars.DataFrame` (most operations return plain frames).
    """

    def _repr_html_(self, *, _from_series: bool = False) -> str:
        shown = self.head(_HTML_ROWS)
        more = f", the first {_HTML_ROWS} shown" if self.height > _HTML_ROWS else ""
        return table_html(shown, caption=f"{self.height} run(s){more}")


_HTML_ROWS = 500
#: Columns of :func:`run_summary` (one row per run).
RUN_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "started_utc": pl.Datetime("us", "UTC"), **RUN_COLUMNS,
    "mode": pl.String(), "seed": pl.Int64(), "gate": pl.String(), "iterations": pl.UInt32(),
    "verdict": pl.String(), "fail_iterations": pl.UInt32(), "pnl_usd": pl.Float64(),
    "net_bps": pl.Float64(), "risk_ratio_max": pl.Float64(), "duration_s": pl.Float64(),
}


def _run_verdicts(frame: pl.DataFrame) -> pl.DataFrame:
    """Each run's verdict from its iterations' recorded verdicts (as the soak runner judges).

    :func:`soakkit.gate.judge_run` only looks at the last ``RUN_WINDOW`` steady iterations
    (else the last ones), so polars selects those and Python judges a few rows per run.
    """
    steady = pl.col("phase").fill_null("steady") != "warmup"
    windows = (frame.filter(pl.col("verdict").is_not_null())
               .select("run_id", "iteration", "verdict", "gate", "phase")
               .filter(steady | ~steady.any().over("run_id"))
               .group_by("run_id")
               .agg(pl.all().sort_by("iteration").tail(RUN_WINDOW)))
    rows = []
    for run_id, numbers, verdicts, gates, phases in windows.iter_rows():
        judged = [(n, Verdict(v, (), g or "", "warmup" if p == "warmup" else "steady"))
                  for n, v, g, p in zip(numbers, verdicts, gates, phases, strict=True)]
        rows.append((run_id, judge_run(judged).verdict))
    return pl.DataFrame(rows, schema={"run_id": pl.String, "verdict": pl.String}, orient="row")


def run_summary(frame: pl.DataFrame) -> RunTable:
    """One row per run of a catalog frame, sorted by start time then run id.

    ``verdict`` is the run verdict of the iterations' recorded verdicts (as the soak runner
    judges it); ``tune``, ``strategy`` and ``market`` say what it ran
    (:mod:`soakkit.artifacts.runid`); ``pnl_usd`` is the total P&L, ``net_bps`` the mean per
    iteration, ``risk_ratio_max`` the worst iteration's risk ratio, ``duration_s`` the total
    iteration time, ``gate`` the gate of the last iteration. Columns:
    :data:`RUN_SUMMARY_SCHEMA`.
    """
    first = [pl.col(c).drop_nulls().first().alias(c) for c in (*RUN_COLUMNS, "mode", "seed")]
    gate = pl.col("gate").drop_nulls().last().alias("gate")  # warm-up iterations say "warmup"
    summary = (frame.group_by("run_id", maintain_order=True)
               .agg(pl.col("started_utc").min(), *first, gate,
                    pl.len().alias("iterations"),
                    (pl.col("verdict") == "FAIL").sum().alias("fail_iterations"),
                    pl.col("pnl_usd").sum(), pl.col("net_bps").mean(),
                    pl.col("risk_ratio").max().alias("risk_ratio_max"),
                    pl.col("duration_s").sum())
               .join(_run_verdicts(frame), on="run_id", how="left"))
    return RunTable(summary.select([pl.col(c).cast(t) for c, t in RUN_SUMMARY_SCHEMA.items()])
                    .sort(["started_utc", "run_id"], nulls_last=True))


def _options(folder: CatalogFolder, problems: list[str]) -> dict[str, Any]:
    if folder.layout != "runs":
        return {}
    try:
        meta = read_json_maybe_gz(folder.path / RUN_FILE)
    except SoakkitError as exc:
        problems.append(f"{folder.run_id}: RUN.json unreadable ({exc}); iterations loaded "
                        "without it")
        return {}
    options = meta.get("options") if isinstance(meta, dict) else None
    return options if isinstance(options, dict) else {}


def _public(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop(list(KEY_SCHEMA)).filter(pl.col("iteration").is_not_null())


def _flat(problems: dict[str, list[str]]) -> tuple[str, ...]:
    return tuple(sorted(line for lines in problems.values() for line in lines))


def _one_row_per_iteration(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by run and iteration, one row each (a file before the history).

    The order is worked out on three narrow columns; the wide frame is copied only when it
    is not already in that order (rows read from iteration logs are)."""
    order = (frame.select("run_id", "iteration",
                          (pl.col("source") != "history").cast(pl.Int8).alias("_prio"))
             .with_row_index("_at")
             .sort(["run_id", "iteration", "_prio"], descending=[False, False, True],
                   nulls_last=True, maintain_order=True)
             .unique(subset=["run_id", "iteration"], keep="first", maintain_order=True)
             .get_column("_at"))
    return frame if order.len() == frame.height and order.is_sorted() else frame[order]


def load_folders(artifacts: Path, folders: list[tuple[CatalogFolder, int]], *, cache: bool,
                 meta: dict[str, Any] | None, listing: FindListing | None = None) -> Catalog:
    """The catalog of ``folders`` (:func:`~soakkit.catalog.folders.folder_mtimes` of the
    artifacts root ``artifacts``): :func:`soakkit.catalog.load_catalog` once polars is
    imported. ``meta``: the keys of the cached rows to start from (None: none, a refresh);
    ``cache``: write the cache; ``listing``: ``find`` started on the folders it expects to
    be read."""
    dirs = {folder.rel: mtime for folder, mtime in folders}
    cached = read_cache(artifacts, meta)
    if cached is not None and cached.dirs == dirs:  # nothing changed: no file is touched
        seen = {rel: list(lines) for rel, lines in cached.problems.items()}
        frame = _within_dates(cached.frame, seen)  # a cache an older soakkit wrote
        return Catalog(_public(frame), _flat(seen), 0, frame.height, _flat(cached.notes),
                       root=artifacts, dirs=dirs)
    by_dir: dict[str, pl.DataFrame] = {} if cached is None else {
        str(key[0]): part for key, part in cached.frame.partition_by(
            "_dir", as_dict=True, maintain_order=True).items()}
    problems: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    logged: list[LogFolder] = []
    histories: list[str] = []
    by_path = {str(folder.path): folder for folder, _ in folders}
    options_of: dict[str, dict[str, Any]] = {}
    keep: list[pl.DataFrame] = []
    tasks: list[Task] = []
    keys: dict[str, list[Any]] = {k: [] for k in KEY_SCHEMA}  # the cache keys of every file read
    history_rows: list[tuple[Any, ...]] = []

    def read(rel: str, run_id: str, layout: str, options: dict[str, Any],
             source: Source) -> None:
        """Queue one file to parse (a history, or an iteration's file) with its cache key."""
        path, kind, n, ino, size, mtime_ns, _ = source
        for key, value in zip(KEY_SCHEMA, (rel, path, ino, size, mtime_ns), strict=True):
            keys[key].append(value)
        if kind == "history":
            histories.append(path)
        else:
            tasks.append((path, run_id, layout, kind, options, n))

    changed = [(folder, by_dir.get(folder.rel)) for folder, mtime in folders
               if cached is None or cached.dirs.get(folder.rel) != mtime]
    for folder, mtime in folders:  # unchanged: the cached rows stand, no file is touched
        if cached is not None and cached.dirs.get(folder.rel) == mtime:
            if (mine := by_dir.get(folder.rel)) is not None:
                keep.append(mine)
            problems[folder.rel] = list(cached.problems.get(folder.rel, []))
            notes[folder.rel] = list(cached.notes.get(folder.rel, []))
    with FolderScan([folder.path for folder, _ in changed], listing) as scan:
        # while the files are listed: each run's options and log, and the tables of the
        # logs that will be read whatever the listing shows (a folder without cached rows)
        logs: dict[str, Source | None] = {}
        for folder, _ in changed:
            options_of[folder.rel] = _options(folder, problems.setdefault(folder.rel, []))
            logs[folder.rel] = log_source(folder.path)
        tables = read_tables([(folder.path, log[4]) for folder, mine in changed
                              if mine is None and (log := logs[folder.rel]) is not None])
        grown: set[str] = set()
        for folder, mine in changed:
            options, log = options_of[folder.rel], logs[folder.rel]
            files = scan.files(folder.path)
            if log is not None and mine is None and (now := log_source(folder.path)) not in (
                    None, log):
                # the log changed while the files were listed (a run appending): its table,
                # read before, could lack a file the listing has; read it again after
                log = now
                grown.add(str(folder.path))
            known = set() if mine is None else set(
                mine.select("_src", "_ino", "_size", "_mtime").iter_rows())
            if log is not None and (not known or any(
                    (path, ino, size, mtime_ns) not in known
                    for path, _, _, ino, size, mtime_ns, _ in [*files.rows(), log])):
                # one file for the whole run (its files are read below only where it lacks
                # them)
                logged.append(LogFolder(folder.path, folder.rel, folder.run_id, folder.layout,
                                        options, files, log))
                continue
            reuse: list[str] = []
            source: Source
            for source in files.rows():
                path = source[0]
                if (path, *source[3:6]) in known:
                    reuse.append(path)
                else:
                    read(folder.rel, folder.run_id, folder.layout, options, source)
            if mine is not None and reuse:
                keep.append(mine.filter(pl.col("_src").is_in(reuse)))
    from_logs = rows_from_logs(logged, tables.without(grown))
    for f in logged:
        problems[f.rel] += from_logs.problems.get(f.rel, [])
        notes[f.rel] = from_logs.notes.get(f.rel, [])
    # the files read outside the logs (their rows carry their own keys): those a log does
    # not match, and a legacy history
    outside = pl.concat([pl.DataFrame(schema=SOURCE_SCHEMA), *(f.files for f in logged)])
    for source in outside.filter((pl.col("_source") == "history") | pl.col("_path").is_in(
            list(from_logs.unmatched))).rows():
        folder = by_path[str(Path(source[0]).parent)]
        read(folder.rel, folder.run_id, folder.layout, options_of[folder.rel], source)
    for path in histories:  # legacy: iterations rotated before the iteration log existed
        folder = by_path[str(Path(path).parent)]
        rows, bad_lines = parse_history(path, folder.run_id, folder.layout,
                                        options_of[folder.rel])
        history_rows += rows
        problems[folder.rel] += [line for _, line in bad_lines]
    parsed, bad = frame_from_files(tasks)
    for path, line in bad:
        problems[by_path[str(Path(path).parent)].rel].append(line)
    fresh = pl.concat([with_keys(pl.concat([parsed, rows_to_frame(history_rows)]),
                                 pl.DataFrame(keys, schema=KEY_SCHEMA)), from_logs.frame])
    everything = _one_row_per_iteration(pl.concat([*keep, fresh]) if keep else fresh)
    everything = _within_dates(everything, problems)
    problems = {rel: lines for rel, lines in problems.items() if lines}
    notes = {rel: lines for rel, lines in notes.items() if lines}
    if cache:
        write_cache(artifacts, CatalogCache(everything, dirs, problems, notes))
    return Catalog(_public(everything), _flat(problems), len(tasks) + len(histories),
                   sum(f.height for f in keep), _flat(notes), from_logs.frame.height,
                   artifacts, dirs)


def _within_dates(frame: pl.DataFrame, problems: dict[str, list[str]]) -> pl.DataFrame:
    """``frame`` without the iterations dated outside soakkit's window (an older soakkit
    wrote runs in year 9999, which no chart or timestamp can hold); each is a problem."""
    started = pl.col("started_utc")
    outside = ((started < MIN_UTC) | (started > MAX_UTC)).fill_null(False)
    if not frame.select(outside.any()).item():
        return frame
    for rel, path, when in frame.filter(outside).select("_dir", "path", "started_utc").rows():
        problems.setdefault(rel, []).append(
            f"{path}: started_utc {when:%Y-%m-%dT%H:%M:%SZ} is outside {MIN_UTC:%Y-%m-%d}.."
            f"{MAX_UTC:%Y-%m-%d}; skipped")
    return frame.filter(~outside)


def to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (times as ISO-8601 UTC)."""
    out = []
    for row in frame.iter_rows(named=True):
        if isinstance(row.get("started_utc"), datetime):
            row["started_utc"] = row["started_utc"].isoformat().replace("+00:00", "Z")
        out.append(row)
    return out
