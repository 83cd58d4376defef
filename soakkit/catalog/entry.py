""":func:`load_catalog`: what a load reads is worked out, and its files' listing started,
before polars is imported (no polars here).

A cold load ``lstat``\\ s every ITER_SUMMARY file it reads (:mod:`soakkit.catalog.scan`).
Which folders it reads is known from their mtimes and the cache's keys alone
(:func:`~soakkit.catalog.cache_paths.cache_meta`, read once), so ``find`` starts on them
first and lists them on the other core while the interpreter imports polars
(:mod:`soakkit.catalog.find`); the load itself is :func:`soakkit.catalog.load.load_folders`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from soakkit.artifacts.layout import resolve_artifacts
from soakkit.catalog.cache_paths import cache_meta, meta_dirs
from soakkit.catalog.find import FindListing, findable
from soakkit.catalog.folders import folder_mtimes
from soakkit.core.errors import ArtifactError

if TYPE_CHECKING:
    from soakkit.catalog.load import Catalog

__all__ = ["load_catalog"]


def load_catalog(artifacts: Path | str | None = None, *, cache: bool = True,
                 refresh: bool = False) -> Catalog:
    """Load every run × iteration under ``artifacts`` into one DataFrame.

    Parameters
    ----------
    artifacts
        The artifacts root; ``None``: ``$SOAKKIT_ARTIFACTS``, else the nearest
        ``artifacts/soak`` (:func:`soakkit.artifacts.layout.resolve_artifacts`).
    cache
        Read and update the cache in :func:`~soakkit.catalog.cache_paths.cache_dir`
        (incremental loads).
    refresh
        Ignore the cached rows and re-read every file (the cache is rewritten).

    Returns
    -------
    Catalog
        The rows (:data:`~soakkit.catalog.parse.CATALOG_SCHEMA`), the problems met and how
        they were loaded (:class:`soakkit.catalog.load.Catalog`).

    Raises
    ------
    ArtifactError
        ``artifacts`` is not a folder, or none was given and none is found.
    """
    root = resolve_artifacts(artifacts)
    if not root.is_dir():
        raise ArtifactError(f"{root}: artifacts folder not found")
    folders = folder_mtimes(root)
    meta = cache_meta(root) if cache and not refresh else None
    dirs = None if meta is None else meta_dirs(meta)
    reading = [folder.path for folder, mtime in folders
               if dirs is None or dirs.get(folder.rel) != mtime]
    listing = FindListing(reading) if findable(reading) else None
    try:
        from soakkit.catalog.load import load_folders  # polars: after find has started

        return load_folders(root, folders, cache=cache, meta=meta, listing=listing)
    finally:
        if listing is not None:
            listing.close()
