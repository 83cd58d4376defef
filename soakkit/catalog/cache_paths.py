"""Where soakkit keeps its caches (no polars: the ready per-run view reads them quickly).

One folder per artifacts path under the user's cache directory (``$SOAKKIT_CACHE_DIR``,
else ``$XDG_CACHE_HOME/soakkit``, else ``~/.cache/soakkit``); never inside the artifacts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import SoakkitError, UsageError
from soakkit.core.inputs import check_user_path, show_value
from soakkit.core.json_strict import loads_strict

__all__ = ["CACHE_ENV", "CACHE_FILE", "CACHE_META_FILE", "RUNS_VIEW_FILE", "cache_dir",
           "cache_meta", "cache_root", "meta_dirs"]

#: Where caches go instead of ``$XDG_CACHE_HOME/soakkit``.
CACHE_ENV = "SOAKKIT_CACHE_DIR"
#: The ready per-run view's file in an artifacts path's cache folder
#: (:mod:`soakkit.catalog.runs_view`); removed whenever the cached rows are rewritten.
RUNS_VIEW_FILE = "runs-view.json"
#: The cached rows (parquet) and the keys naming them (JSON: schema, folder mtimes, problems,
#: notes) in an artifacts path's cache folder (:mod:`soakkit.catalog.cache`).
CACHE_FILE, CACHE_META_FILE = "catalog.parquet", "catalog.json"


def cache_root() -> Path:
    """soakkit's cache folder: ``$SOAKKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/soakkit``, else
    ``~/.cache/soakkit`` (never inside the artifacts).

    Raises
    ------
    UsageError
        ``SOAKKIT_CACHE_DIR`` is set but empty or not a usable path (an empty value would
        mean the working folder).
    """
    root = os.environ.get(CACHE_ENV)
    if root is not None and (why := check_user_path(root)):
        raise UsageError(f"{CACHE_ENV}={show_value(root)}: {why}; unset it or name a folder")
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "soakkit")
    return Path(root)


def cache_dir(artifacts: Path) -> Path:
    """Where the catalog cache of ``artifacts`` lives (one folder per artifacts path)."""
    key = sha256_bytes(os.fsencode(os.path.realpath(artifacts)))[:16]
    return cache_root() / f"catalog-{key}"


def cache_meta(artifacts: Path) -> dict[str, Any] | None:
    """The keys of the cached rows of ``artifacts`` (a JSON object), or None when missing or
    unreadable (no polars: what a load will read is known before polars is imported)."""
    path = cache_dir(artifacts) / CACHE_META_FILE
    try:
        meta = loads_strict(path.read_bytes(), str(path))
    except (OSError, SoakkitError):
        return None
    return meta if isinstance(meta, dict) else None


def meta_dirs(meta: dict[str, Any]) -> dict[str, int] | None:
    """The folder mtimes a cache's keys ``meta`` hold (:func:`cache_meta`), or None when they
    are not a JSON object of whole numbers."""
    dirs = meta.get("dirs")
    if not isinstance(dirs, dict) or not all(
            isinstance(k, str) and type(v) is int for k, v in dirs.items()):
        return None
    return dirs

