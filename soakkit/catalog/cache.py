"""The catalog's cache: one parquet file of rows plus one JSON file of folder keys.

One folder per artifacts path under the user's cache directory (``$SOAKKIT_CACHE_DIR``,
else ``$XDG_CACHE_HOME/soakkit``, else ``~/.cache/soakkit``); never inside the artifacts.
A cache written by another soakkit version or for another schema is ignored; an unreadable
one is a cold load, an unwritable one only costs speed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from soakkit import __version__
from soakkit.catalog.cache_paths import (
    CACHE_ENV,
    CACHE_FILE,
    CACHE_META_FILE,
    RUNS_VIEW_FILE,
    cache_dir,
    cache_meta,
    cache_root,
    meta_dirs,
)
from soakkit.catalog.log import KEY_SCHEMA
from soakkit.catalog.parse import CATALOG_SCHEMA
from soakkit.core.io import atomic_write_bytes, canonical_json, sha256_bytes

__all__ = ["CACHE_ENV", "CatalogCache", "cache_dir", "cache_meta", "cache_root", "read_cache",
           "write_cache"]

#: The columns a cache file must have: the catalog's and the key of each row's source.
_FRAME_SCHEMA = pl.Schema({**CATALOG_SCHEMA, **KEY_SCHEMA})

_SCHEMA_ID = sha256_bytes(canonical_json(
    {"version": __version__, "columns": {k: str(v) for k, v in CATALOG_SCHEMA.items()}},
    compact=True).encode())


@dataclass(frozen=True)
class CatalogCache:
    """The cached rows (with their source keys), folder mtimes, problems and notes."""

    frame: pl.DataFrame
    dirs: dict[str, int]
    problems: dict[str, list[str]]
    notes: dict[str, list[str]]


def read_cache(artifacts: Path, meta: dict[str, Any] | None) -> CatalogCache | None:
    """The cache of ``artifacts`` whose keys are ``meta`` (:func:`cache_meta`, read once by
    the load's entry), or None if it is missing, unreadable or of another schema."""
    if meta is None or meta.get("schema") != _SCHEMA_ID:
        return None
    try:
        frame = pl.read_parquet(cache_dir(artifacts) / CACHE_FILE)
    except (OSError, pl.exceptions.PolarsError):
        return None
    problems: Any = meta.get("problems")
    dirs, notes = meta_dirs(meta), meta.get("notes", {})
    if dirs is None or not (_mapping_of(problems, _lines) and _mapping_of(notes, _lines)) \
            or frame.schema != _FRAME_SCHEMA:
        return None  # written by something else, or damaged: a cold load rebuilds it
    return CatalogCache(frame, dirs, problems, notes)


def _lines(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(line, str) for line in value)


def _mapping_of(value: object, valid: Callable[[object], bool]) -> bool:
    """``value`` is a JSON object of text keys whose every value is ``valid``."""
    return isinstance(value, dict) and all(isinstance(k, str) and valid(v)
                                           for k, v in value.items())


def write_cache(artifacts: Path, cache: CatalogCache) -> None:
    """Write the cache of ``artifacts`` atomically (rows first, then the keys naming them)."""
    folder = cache_dir(artifacts)
    try:
        # the ready per-run view was derived from the rows being replaced: never outlive them
        (folder / RUNS_VIEW_FILE).unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        # lz4: the fastest to read back; no statistics: nothing filters on them
        cache.frame.write_parquet(buf, compression="lz4", statistics=False)
        atomic_write_bytes(folder / CACHE_FILE, buf.getvalue())
        atomic_write_bytes(folder / CACHE_META_FILE, canonical_json(
            {"schema": _SCHEMA_ID, "dirs": cache.dirs, "problems": cache.problems,
             "notes": cache.notes}).encode())
    except OSError:
        pass  # an unwritable cache directory only costs speed
