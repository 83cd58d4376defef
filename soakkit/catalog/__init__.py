"""The run catalog: every run × iteration as one polars DataFrame, with an incremental cache.

* :mod:`soakkit.catalog.load` – :func:`load_catalog` and :class:`Catalog`;
* :mod:`soakkit.catalog.parse` – files to rows (polars, schema screen, tolerant path);
* :mod:`soakkit.catalog.log` – rows from the runs' iteration logs;
* :mod:`soakkit.catalog.cache` – the warm cache under the user's cache directory.
"""

from soakkit.catalog.load import Catalog, load_catalog

__all__ = ["Catalog", "load_catalog"]
