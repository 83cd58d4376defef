"""``soakkit_catalog.prom``: runs, iterations and verdicts by profile and mode, for cron.

Entry point: :func:`export_catalog` (``soakkit metrics --artifacts A --out DIR``).
Labels stay bounded: profiles (a handful per artifacts folder), the simulator's modes and
three verdicts; runs and iterations are counted, never labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from soakkit.catalog.entry import load_catalog
from soakkit.core.io import Clock, clock_from
from soakkit.metrics import names as N
from soakkit.metrics.textfile import Exposition, write_textfile

__all__ = ["CatalogExport", "export_catalog", "render_catalog"]

#: Label value for rows without a profile or mode (legacy ``latest/`` files).
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CatalogExport:
    """What :func:`export_catalog` wrote."""

    path: Path
    runs: int
    iterations: int
    problems: tuple[str, ...]


def render_catalog(frame: pl.DataFrame, problems: int, now: float) -> Exposition:
    """The samples of ``soakkit_catalog.prom`` for a catalog ``frame``."""
    out = Exposition()
    rows = frame.select(
        pl.col("run_id"), pl.col("profile").fill_null(UNKNOWN), pl.col("mode").fill_null(UNKNOWN),
        pl.col("verdict").fill_null(UNKNOWN))
    runs = rows.group_by("profile", "mode").agg(pl.col("run_id").n_unique().alias("n"))
    for profile, mode, n in runs.sort("profile", "mode").iter_rows():
        out.add(N.CAT_RUNS, n, {"profile": profile, "mode": mode})
    counts = rows.group_by("profile", "mode", "verdict").len()
    seen = {(p, m, v): n for p, m, v, n in counts.iter_rows()}
    for profile, mode, _ in runs.iter_rows():
        verdicts = sorted({*N.VERDICTS, *(v for (p, m, v) in seen if (p, m) == (profile, mode))})
        for verdict in verdicts:
            out.add(N.CAT_ITERATIONS, seen.get((profile, mode, verdict), 0),
                    {"profile": profile, "mode": mode, "verdict": verdict})
    out.add(N.CAT_PROBLEMS, problems)
    out.add(N.CAT_LAST_SUCCESS, now, exact=True)
    return out


def export_catalog(artifacts: Path | None, out_dir: Path, *, clock: Clock | None = None,
                   cache: bool = True) -> CatalogExport:
    """Load the catalog of ``artifacts`` and write ``<out_dir>/soakkit_catalog.prom``.

    Parameters
    ----------
    artifacts
        The artifacts root (``runs/``, legacy ``latest/``); ``None``: resolved by
        :func:`soakkit.artifacts.layout.resolve_artifacts`.
    out_dir
        The textfile collector's folder (must exist and be writable).
    clock
        The export's "now" (the last-success timestamp and the file's mtime).
    cache
        Use the catalog's incremental cache.

    Returns
    -------
    CatalogExport
    """
    clock = clock or clock_from(None)
    catalog = load_catalog(artifacts, cache=cache)
    now = clock.now().timestamp()
    path = write_textfile(out_dir, N.CATALOG_FILE,
                          render_catalog(catalog.frame, len(catalog.problems), now), mtime=now)
    return CatalogExport(path, catalog.frame["run_id"].n_unique(), catalog.frame.height,
                         catalog.problems)
