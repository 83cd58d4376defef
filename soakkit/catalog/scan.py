"""The files of the catalog's folders, listed beside the rest of a load.

A load that reads a folder checks each ITER_SUMMARY file against its iteration log (name,
size and mtime: :mod:`soakkit.catalog.log`), so it ``lstat``\\ s every file: 100,000 calls
for 100,000 iterations, a third of a cold load. :class:`FolderScan` makes them while the
caller reads what needs no listing (each run's ``RUN.json`` and its iteration tables):

* many folders (a cold load): GNU ``find`` (:mod:`soakkit.catalog.find`), started at
  those folders, lists them in a process of its own (from before polars was imported, where
  :func:`soakkit.catalog.load_catalog` started it), and polars parses its output into
  columns — no Python object per file;
* otherwise, or where ``find`` fails or prints what it should not (no GNU find, a name
  with a newline or a carriage return, a time before 1970 or outside int64 nanoseconds):
  :func:`folder_sources` in a thread.

Both give each folder's files as the same frame (:data:`SOURCE_SCHEMA`; a test holds them
to it).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from soakkit.artifacts.layout import HISTORY_FILE, ITER_LOG_FILE, ITER_RE
from soakkit.catalog.find import FindListing, findable
from soakkit.core.io import file_time_ns

__all__ = ["SOURCE_SCHEMA", "FolderScan", "Source", "folder_sources", "log_source"]

#: (path, kind, iteration, inode, size, mtime_ns, name) of a file of a catalog folder; kind:
#: ``file`` / ``gz`` (an ITER_SUMMARY), ``log`` (the iteration log), ``history``
Source = tuple[str, str, int | None, int, int, int, str]
#: :data:`Source` as columns, in its order
SOURCE_SCHEMA: dict[str, pl.DataType] = {
    "_path": pl.String(), "_source": pl.String(), "iteration": pl.Int64(), "_ino": pl.UInt64(),
    "_size": pl.Int64(), "_mtime": pl.Int64(), "_name": pl.String()}
_FIND_FIELDS = {"_folder": pl.String(), "_name": pl.String(), "_ino": pl.String(),
                "_size": pl.String(), "_t": pl.String()}
#: ``find -printf``'s time: seconds, a point, ten digits (nanoseconds and a zero)
_FIND_TIME = r"^[0-9]{1,10}\.[0-9]{9}0$"
_MAX_SECONDS = (2**63 - 1) // 10**9 - 1  # beyond, nanoseconds leave int64: file_time_ns


@functools.lru_cache(maxsize=1 << 16)
def _kind(name: str) -> tuple[str, int | None] | None:
    """What a file name is to the catalog (memoised: the same names recur in every run)."""
    if name == HISTORY_FILE:
        return "history", None
    if name == ITER_LOG_FILE:
        return "log", None
    if name.startswith("ITER_SUMMARY_") and (m := ITER_RE.fullmatch(name)):
        return ("gz" if name.endswith(".gz") else "file"), int(m.group(1))
    return None


def _regular(st: os.stat_result) -> bool:
    return st.st_mode & 0o170000 == 0o100000  # a regular file, never a symlink's target


def folder_sources(folder: Path) -> list[Source]:
    """The ITER_SUMMARY files, the iteration log and a legacy history of ``folder``
    (listed through a descriptor: one lookup per ``lstat``, not a whole path's)."""
    prefix = f"{folder}/"
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:  # removed since it was listed: as find leaves it out
        return []
    try:
        with os.scandir(fd) as it:
            found = [(entry, what) for entry in it if (what := _kind(entry.name)) is not None]
        out = []
        for entry, (kind, number) in found:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # rotated or renamed away since it was listed
                continue
            if _regular(st):
                out.append((prefix + entry.name, kind, number, st.st_ino, st.st_size,
                            file_time_ns(st), entry.name))
        return out
    finally:
        os.close(fd)


def log_source(folder: Path) -> Source | None:
    """The iteration log of ``folder`` as :func:`folder_sources` lists it, or None."""
    path = folder / ITER_LOG_FILE
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not _regular(st):
        return None
    return (str(path), "log", None, st.st_ino, st.st_size, file_time_ns(st), ITER_LOG_FILE)


def _files(folder: Path) -> pl.DataFrame:
    """:func:`folder_sources` of ``folder`` but its log, as :data:`SOURCE_SCHEMA`."""
    return pl.DataFrame([s for s in folder_sources(folder) if s[1] != "log"],
                        schema=SOURCE_SCHEMA, orient="row")


def _parse_find(out: bytes, folders: Sequence[Path]) -> dict[str, pl.DataFrame] | None:
    """``find``'s lines as each folder's :data:`SOURCE_SCHEMA` frame, or None when any
    line is not what it should be."""
    if b"\r" in out:
        return None  # polars drops a carriage return that ends a field: a name would lose it
    try:
        raw = pl.read_csv(out, has_header=False, separator="\x00", quote_char=None,
                          schema=_FIND_FIELDS, encoding="utf8-lossy")
    except pl.exceptions.PolarsError:
        return None
    if raw.null_count().sum_horizontal().item() or not raw.get_column("_t").str.contains(
            _FIND_TIME).all():
        return None  # a name with a newline, a time find printed otherwise
    if raw.select((pl.col("_t").str.head(-11).cast(pl.Int64) > _MAX_SECONDS).any()).item():
        return None
    name = pl.col("_name")
    number = name.str.extract(ITER_RE.pattern, 1).cast(pl.Int64)
    kind = (pl.when(name == HISTORY_FILE).then(pl.lit("history"))
            .when(number.is_not_null() & name.str.ends_with(".gz")).then(pl.lit("gz"))
            .when(number.is_not_null()).then(pl.lit("file")))
    files = raw.lazy().select(
        "_folder", pl.concat_str("_folder", pl.lit("/"), name).alias("_path"),
        kind.alias("_source"), number.alias("iteration"), pl.col("_ino").cast(pl.UInt64),
        pl.col("_size").cast(pl.Int64),
        (pl.col("_t").str.head(-11).cast(pl.Int64) * 10**9
         + pl.col("_t").str.slice(-10, 9).cast(pl.Int64)).alias("_mtime"),
        name).filter(pl.col("_source").is_not_null()).collect()
    wanted = {str(folder) for folder in folders}
    parts = {str(key[0]): part for key, part in
             files.filter(pl.col("_folder").is_in(wanted)).partition_by(
                 "_folder", as_dict=True, maintain_order=True, include_key=False).items()}
    empty = pl.DataFrame(schema=SOURCE_SCHEMA)
    return {folder: parts.get(folder, empty) for folder in wanted}


def _find_files(folders: Sequence[Path], listing: FindListing | None = None
                ) -> dict[str, pl.DataFrame] | None:
    """Each folder's files as ``find`` lists them (``listing``, started for these folders,
    else a listing started now), or None."""
    with listing or FindListing(folders) as running:
        out = running.output()
    return None if out is None else _parse_find(out, folders)


class FolderScan:
    """The files of ``folders`` but their logs (each as :data:`SOURCE_SCHEMA`; the log is
    :func:`log_source`'s), listed in the background (by ``listing`` where it was started
    for these folders; it is then the scan's to close).

    Use as a context manager; :meth:`files` waits for a folder's (and raises what listing it
    raised); leaving the block early drops the folders not listed yet.
    """

    def __init__(self, folders: Sequence[Path], listing: FindListing | None = None) -> None:
        self._folders = list(folders)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soakkit-scan")
        self._found: Future[dict[str, pl.DataFrame] | None] | None = None
        self._parts: dict[str, pl.DataFrame] = {}
        self._listed: dict[Path, Future[pl.DataFrame]] = {}
        if listing is not None and not (findable(self._folders)
                                        and listing.lists(self._folders)):
            listing.close()  # started for other folders (the cache changed meanwhile)
            listing = None
        self._listing = listing
        try:
            if findable(self._folders):
                self._listing = listing or FindListing(self._folders)
                self._found = self._pool.submit(_find_files, self._folders, self._listing)
            else:
                self._list()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise

    def _list(self) -> None:
        self._listed = {f: self._pool.submit(_files, f) for f in self._folders}

    def files(self, folder: Path) -> pl.DataFrame:
        """The files of ``folder`` (one of those given) but its log."""
        if self._found is not None:
            found = self._found.result()
            self._found = None
            if found is None:
                self._list()
            else:
                self._parts = found
        if (part := self._parts.get(str(folder))) is not None:
            return part
        return self._listed[folder].result()

    def __enter__(self) -> FolderScan:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and self._listing is not None:
            self._listing.close()  # left on an error or Ctrl-C: find stops now
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._listing is not None:
            self._listing.close()  # a find never waited for stops here
