"""The per-run view of the catalog (what ``soakkit catalog`` prints), kept ready.

:func:`runs_view` gives one row per run (:func:`soakkit.catalog.load.run_summary`) with the
catalog's problems and notes. Each time it loads the catalog it also writes that view to the
cache folder (``runs-view.json`` beside the cached rows, :mod:`soakkit.catalog.cache_paths`),
keyed by the mtime each folder had before it was read (:func:`~soakkit.catalog.folders.
folder_mtimes`). While no folder changed, came or went, the view is read back from that file:
without polars and without opening any artifact, so a warm ``soakkit catalog`` costs the
interpreter, one ``stat`` per run folder and one small read. The guarantee is the cached rows'
(:mod:`soakkit.catalog.load`): soakkit and rotation change a folder's mtime whenever they
change its files; ``refresh=True`` ignores the view as it ignores the rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from soakkit import __version__
from soakkit.artifacts.layout import resolve_artifacts
from soakkit.catalog.cache_paths import RUNS_VIEW_FILE, cache_dir
from soakkit.catalog.folders import folder_mtimes
from soakkit.core.io import atomic_write_bytes, canonical_json

__all__ = ["RUNS_VIEW_FILE", "RunsView", "read_runs_view", "runs_view", "write_runs_view"]

_FORMAT = 1


class RunsView(NamedTuple):
    """One row per run as Python values (``columns``: those of
    :data:`~soakkit.catalog.load.RUN_SUMMARY_SCHEMA`), with the catalog's problems and notes."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def _dirs(artifacts: Path) -> dict[str, int]:
    return {folder.rel: mtime for folder, mtime in folder_mtimes(artifacts)}


def read_runs_view(artifacts: Path, need: Collection[str] = ()) -> RunsView | None:
    """The ready view of ``artifacts``, or None when it is missing, unreadable, written by
    another soakkit, lacks a column of ``need``, or any folder changed since (then the
    catalog must be loaded)."""
    try:
        data = json.loads((cache_dir(artifacts) / RUNS_VIEW_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT \
            or data.get("version") != __version__ or data.get("dirs") != _dirs(artifacts):
        return None
    try:
        columns = tuple(data["columns"])
        times = [columns.index(name) for name in data["times"]]
        rows = []
        for values in data["rows"]:
            if len(values) != len(columns):
                return None
            for i in times:
                if values[i] is not None:
                    values[i] = datetime.fromisoformat(values[i])
            rows.append(tuple(values))
        problems, notes = tuple(data["problems"]), tuple(data["notes"])
    except (KeyError, TypeError, ValueError):
        return None  # damaged or written by something else: the catalog rebuilds it
    if not all(isinstance(x, str) for x in (*columns, *problems, *notes)) \
            or not set(need) <= set(columns):
        return None
    return RunsView(columns, rows, problems, notes)


def write_runs_view(artifacts: Path, dirs: dict[str, int], view: RunsView) -> None:
    """Keep ``view``, loaded when the folders had the mtimes ``dirs``, for the next
    :func:`runs_view` (atomically; an unwritable cache folder, or a value JSON cannot hold,
    only costs speed)."""
    times = sorted({view.columns[i] for row in view.rows for i, v in enumerate(row)
                    if isinstance(v, datetime)})
    rows = [[v.isoformat() if isinstance(v, datetime) else v for v in row] for row in view.rows]
    try:
        text = canonical_json({"format": _FORMAT, "version": __version__, "dirs": dirs,
                               "columns": list(view.columns), "times": times, "rows": rows,
                               "problems": list(view.problems), "notes": list(view.notes)},
                              compact=True, digits=None)  # every float as it is
        folder = cache_dir(artifacts)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / RUNS_VIEW_FILE, text.encode())
    except (OSError, ValueError):
        pass


def runs_view(artifacts: Path | str | None = None, *, cache: bool = True,
              refresh: bool = False, need: Collection[str] = ()) -> RunsView:
    """One row per run of the catalog under ``artifacts``, read ready when nothing changed.

    Parameters are those of :func:`~soakkit.catalog.load_catalog`; with ``cache`` the
    view is also kept for the next call. A ready view without every column of ``need`` (one
    written by an older soakkit of the same version) is not used.

    Raises
    ------
    ArtifactError
        As :func:`~soakkit.catalog.load_catalog`.
    """
    root = resolve_artifacts(artifacts)
    if cache and not refresh and root.is_dir() and (ready := read_runs_view(root, need)):
        return ready
    from soakkit.catalog.entry import load_catalog  # polars: only when the view is not ready

    catalog = load_catalog(root, cache=cache, refresh=refresh)
    summary = catalog.runs()
    view = RunsView(tuple(summary.columns), summary.rows(), catalog.problems, catalog.notes)
    if cache:
        write_runs_view(root, catalog.dirs, view)
    return view
