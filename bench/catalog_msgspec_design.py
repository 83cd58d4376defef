"""A design for the legacy catalog goal: msgspec's typed decoder, the catalog's fields only.

The design ``bench_catalog_designs.py`` had not tried: a native decoder typed by the
catalog's narrow schema (msgspec Structs made from ``NARROW_SCHEMA``, unknown fields
skipped in C), its values turned into polars columns by transposing the Structs, then
soakkit's own screen (``_suspects``) and flattening (``flatten_narrow``): the frame
``load_catalog`` returns, row for row (``check`` compares them). ``one``: one process;
``two``: half of the run folders in a process forked before polars is imported, its frame
sent back as Arrow IPC. Files are opened relative to their folder and read into a 64 KiB
buffer (a 1 MiB buffer per read costs 2.3 s more over 100,000 files on this machine).
Needs ``pip install msgspec`` (not a soakkit dependency).

    python bench/catalog_msgspec_design.py TREE/legacy FILES one|two [check]

Prints the seconds it took inside the process.
"""

# ruff: noqa: E402  (polars is imported after the fork, on purpose)
from __future__ import annotations

import gc
import os
import sys
import time

START = time.perf_counter()
gc.disable()  # millions of values held in lists: the collector would dominate
ROOT_DIR, FILES, HOW = sys.argv[1], int(sys.argv[2]), sys.argv[3]
RUNS = sorted(e.path for e in os.scandir(ROOT_DIR + "/runs") if e.is_dir())
if HOW == "two":
    PIPE_R, PIPE_W = os.pipe()
    PID = os.fork()
    SHARE = RUNS[PID == 0::2]
else:
    PID, SHARE = 1, RUNS

import io
import typing
from itertools import chain
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
from msgspec.structs import astuple

from soakkit.artifacts.iterlog_table import NARROW_SCHEMA
from soakkit.catalog.load import CatalogFolder, _options
from soakkit.catalog.parse import (
    _SCREEN_SCHEMA,
    META_SCHEMA,
    _suspects,
    flatten_narrow,
    meta_columns,
)
from soakkit.catalog.scan import folder_sources as _sources

SCHEMA = {**NARROW_SCHEMA, **_SCREEN_SCHEMA}
PYTHON_TYPE = {pl.Float64: float, pl.Int64: int, pl.String: str, pl.Boolean: bool}
BUFFER = 65536


def _dtype(dt: Any) -> Any:
    return dt() if isinstance(dt, type) else dt


def typed(name: str, dt: Any) -> Any:
    """The msgspec type decoding ``dt`` (a Struct of optional fields for a polars Struct)."""
    dt = _dtype(dt)
    if isinstance(dt, pl.Struct):
        fields = [(f.name, typing.Optional[typed(f.name, f.dtype)], None)  # noqa: UP045
                  for f in dt.fields]
        return msgspec.defstruct("S_" + name, fields, gc=False)
    if isinstance(dt, pl.List):
        return list[typed(name, dt.inner)]  # type: ignore[misc]
    return PYTHON_TYPE[type(dt)]


DOC = typed("doc", pl.Struct(SCHEMA))


def child(tp: Any, name: str) -> Any:
    hint = typing.get_type_hints(tp)[name]
    return next(a for a in typing.get_args(hint) if a is not type(None))


def list_series(name: str, dt: Any, values: Any) -> pl.Series:
    """A list column from lists (None: null) without a Series per row."""
    rows = pl.DataFrame({"l": [None if v is None else len(v) for v in values]},
                        schema={"l": pl.Int64}).with_row_index("i")
    flat = pl.Series(name, list(chain.from_iterable(v for v in values if v)), dtype=dt.inner)
    owners = rows.filter(pl.col("l") > 0).select(pl.col("i").repeat_by("l").explode())["i"]
    grouped = pl.DataFrame({"i": owners, name: flat}).group_by("i", maintain_order=True).agg(
        pl.col(name))
    return rows.join(grouped, on="i", how="left").sort("i").select(
        pl.when(pl.col("l").is_null()).then(None).when(pl.col("l") == 0)
        .then(pl.lit([], dtype=dt)).otherwise(pl.col(name)).alias(name)).to_series()


def series(name: str, dt: Any, values: Any, tp: Any) -> pl.Series:
    """The column ``name`` of ``dt`` from decoded values (Structs transposed level by level)."""
    dt = _dtype(dt)
    if isinstance(dt, pl.Struct):
        empty = tp()
        cols = zip(*map(astuple, [empty if v is None else v for v in values]), strict=False)
        kids = [series(f.name, f.dtype, col, child(tp, f.name))
                for f, col in zip(dt.fields, cols, strict=True)]
        out = pl.select(pl.struct(kids).alias(name)).to_series()
        valid = pl.Series([v is not None for v in values])
        return out if valid.all() else pl.select(pl.when(valid).then(out).alias(name)).to_series()
    if isinstance(dt, pl.List):
        return list_series(name, dt, values)
    return pl.Series(name, values, dtype=dt)


def read_blob(name: str, folder_fd: int) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder_fd)
    try:
        blob = os.read(fd, BUFFER)
        while len(blob) % BUFFER == 0 and (more := os.read(fd, BUFFER)):
            blob += more
        return blob
    finally:
        os.close(fd)


def frame(share: list[str]) -> pl.DataFrame:
    """The catalog rows of the run folders ``share``."""
    problems: list[str] = []
    tasks: list[Any] = []
    decode = msgspec.json.Decoder(DOC).decode
    docs = []
    for run in share:
        folder = CatalogFolder(Path(run), "runs/" + Path(run).name, Path(run).name, "runs")
        options = _options(folder, problems)
        mine = [(s[0], folder.run_id, "runs", s[1], options, s[2]) for s in _sources(Path(run))
                if s[1] == "file"]
        folder_fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
        try:
            docs += [decode(read_blob(t[0].rpartition("/")[2], folder_fd)) for t in mine]
        finally:
            os.close(folder_fd)
        tasks += mine
    cols = zip(*map(astuple, docs), strict=False)
    raw = pl.DataFrame([series(k, v, c, child(DOC, k))
                        for (k, v), c in zip(SCHEMA.items(), cols, strict=True)])
    assert not _suspects(raw, [t[5] for t in tasks]).any()
    meta = pl.DataFrame(meta_columns(tasks), schema=META_SCHEMA)
    return flatten_narrow(pl.concat([raw, meta], how="horizontal"))


def main() -> None:
    mine = frame(SHARE)
    if HOW == "two":
        if PID == 0:
            with os.fdopen(PIPE_W, "wb") as out:
                mine.write_ipc(out)
            os._exit(0)
        os.close(PIPE_W)
        with os.fdopen(PIPE_R, "rb") as pipe:
            theirs = pl.read_ipc(io.BytesIO(pipe.read()))
        os.waitpid(PID, 0)
        mine = pl.concat([mine, theirs])
    assert mine.height == FILES, mine.height
    if len(sys.argv) > 4:  # the same rows as soakkit's own load
        from soakkit.catalog import load_catalog
        ref = load_catalog(ROOT_DIR, cache=False).frame
        same = mine.sort("run_id", "iteration").select(ref.columns).equals(
            ref.sort("run_id", "iteration"))
        print("the same rows as load_catalog:", same)
    print(time.perf_counter() - START)


main()
