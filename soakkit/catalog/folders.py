"""The folders a catalog reads and the key that says whether any changed (no polars).

A catalog is valid while every folder it read has the mtime it had then and no folder came
or went: soakkit writes every file by rename, and rotation adds and removes files, all of
which change the folder's mtime (:mod:`soakkit.catalog.load`). Both the cached rows
(:mod:`soakkit.catalog.cache`) and the ready per-run view (:mod:`soakkit.catalog.runs_view`)
are checked against :func:`folder_mtimes`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from soakkit.artifacts.layout import LATEST, list_runs
from soakkit.core.io import file_time_ns

__all__ = ["LEGACY_RUN_ID", "CatalogFolder", "catalog_folders", "folder_mtimes"]

#: The run id of the legacy layout's ``latest/`` folder.
LEGACY_RUN_ID = "legacy-latest"


class CatalogFolder(NamedTuple):
    """A folder the catalog reads: a run folder (layout ``runs``) or ``latest/``."""

    path: Path
    rel: str  #: its key: ``runs/<run_id>`` or ``latest``
    run_id: str
    layout: str


def catalog_folders(artifacts: Path) -> list[CatalogFolder]:
    """Every run folder under ``artifacts``, then the legacy ``latest/`` (a real folder)."""
    out = [CatalogFolder(p, f"runs/{p.name}", p.name, "runs") for p in list_runs(artifacts)]
    legacy = artifacts / LATEST
    if legacy.is_dir() and not legacy.is_symlink():
        out.append(CatalogFolder(legacy, LATEST, LEGACY_RUN_ID, "legacy"))
    return out


def folder_mtimes(artifacts: Path) -> list[tuple[CatalogFolder, int]]:
    """Each folder of :func:`catalog_folders` with its mtime (ns); one gone meanwhile is
    left out."""
    out = []
    for folder in catalog_folders(artifacts):
        try:
            out.append((folder, file_time_ns(os.stat(folder.path))))
        except OSError:
            continue
    return out
