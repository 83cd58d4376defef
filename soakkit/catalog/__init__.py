"""The run catalog: every run × iteration as one polars DataFrame, with an incremental cache.

* :mod:`soakkit.catalog.entry` – :func:`load_catalog`, which starts listing the files it
  reads before polars is imported (:mod:`soakkit.catalog.find`);
* :mod:`soakkit.catalog.load` – the load itself and :class:`Catalog`;
* :mod:`soakkit.catalog.parse` – files to rows (polars, schema screen, tolerant path);
* :mod:`soakkit.catalog.log` – rows from the runs' iteration logs;
* :mod:`soakkit.catalog.scan` – the folders' files, listed while the logs are read;
* :mod:`soakkit.catalog.cache` – the warm cache under the user's cache directory;
* :mod:`soakkit.catalog.runs_view` – the per-run view kept ready (read without polars);
* :mod:`soakkit.catalog.folders`, :mod:`soakkit.catalog.cache_paths` – the folders read
  and where caches go (no polars).

``load_catalog`` and ``Catalog`` are imported on first use, so that the modules without
polars start without it (``load_catalog`` imports polars once it has started ``find``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soakkit.catalog.entry import load_catalog
    from soakkit.catalog.load import Catalog

__all__ = ["Catalog", "load_catalog"]


def __getattr__(name: str) -> Any:
    if name == "load_catalog":
        from soakkit.catalog.entry import load_catalog

        return load_catalog
    if name == "Catalog":
        from soakkit.catalog.load import Catalog

        return Catalog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
