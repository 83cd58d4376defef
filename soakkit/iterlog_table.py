"""The iteration log as a table: ``iterations.parquet``, written once when a run ends.

The soak runner appends to ``iterations.jsonl`` during the run (:mod:`soakkit.iterlog`) and,
when the run ends, compacts it here into ``<run>/iterations.parquet``: one row per
iteration (the last log line wins) with the log line's ``file`` identity and the document
narrowed to :data:`NARROW_SCHEMA` (what the catalog reads) as typed columns. The parquet
metadata records the byte size of the log it was made from; a log that grew since (a
resumed run, rotation logging a file) makes the table stale, and readers use the log.
A parquet file is never rewritten per iteration.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts import ITER_LOG_FILE, ITER_TABLE_FILE
from soakkit.config.params import PARAMS
from soakkit.io import atomic_write_bytes
from soakkit.kpi import KPIS
from soakkit.tuning.guards import SUMMARY_COUNTERS

__all__ = ["BOOL_GUARDS", "FLOAT_KPIS", "GUARDS", "LOG_SCHEMA", "NARROW_SCHEMA", "compact",
           "read_log_frame", "read_table", "table_is_current"]

FLOAT_KPIS: tuple[str, ...] = tuple(k for k in KPIS if k != "fill_count")
GUARDS: tuple[str, ...] = tuple(sorted(set(SUMMARY_COUNTERS.values())))
BOOL_GUARDS = frozenset({"freeze", "freeze_triggered", "panic_revert", "idempotent_skip"})
_F, _I, _S, _B = pl.Float64, pl.Int64, pl.String, pl.Boolean
_PARAM_FLOATS = pl.Struct({k: _F for k in PARAMS})
#: The fields of an ITER_SUMMARY the catalog reads (polars skips everything else).
NARROW_SCHEMA: dict[str, Any] = {
    "iteration": _I, "started_utc": _S, "duration_s": _F, "mode": _S, "regime": _S,
    "regime_mix": pl.Struct({"calm": _F, "volatile": _F, "spike": _F}),
    "seed": pl.Struct({"run_seed": _I}),
    "gate": pl.Struct({"gate": _S, "phase": _S, "verdict": _S, "reasons": pl.List(_S)}),
    "summary": pl.Struct({
        **{k: _F for k in FLOAT_KPIS}, "fees_eff_bps": _F, "runtime_utc": _S,
        "kpi_verdict": _S, "kpi_reasons": pl.List(_S), "fill_count": _I,
        "fills": pl.Struct({"maker_count": _I, "taker_count": _I, "maker_volume": _F,
                            "taker_volume": _F})}),
    "params": pl.Struct({k: pl.Struct({"value": _F}) for k in PARAMS}),
    "tuning": pl.Struct({
        "applied": _B, "skip_reason": _S, "rules_fired": pl.List(_S),
        "applied_deltas": _PARAM_FLOATS, "deltas": _PARAM_FLOATS,
        "guards": pl.Struct({g: (_B if g in BOOL_GUARDS else pl.List(_S)) for g in GUARDS})}),
}
#: A log line, as read by polars: the file it copies and the narrowed document.
LOG_SCHEMA: dict[str, Any] = {
    "iteration": _I,
    "file": pl.Struct({"name": _S, "size": _I, "mtime_ns": _I, "sha256": _S}),
    "doc": pl.Struct(NARROW_SCHEMA),
}
_LOG_BYTES = "soakkit_log_bytes"


def read_log_frame(folder: Path) -> tuple[pl.DataFrame, int] | None:
    """The log parsed by polars (last line per iteration) and its size; None if absent.

    Raises ``polars`` errors for a log polars cannot read against :data:`LOG_SCHEMA` (a
    corrupt line, a legacy document with other types): callers fall back.
    """
    try:
        data = (Path(folder) / ITER_LOG_FILE).read_bytes()
    except FileNotFoundError:
        return None
    whole = data[:data.rfind(b"\n") + 1]  # a torn last line is not part of the log
    if not whole.strip():
        return pl.DataFrame(schema=LOG_SCHEMA), len(data)
    frame = (pl.read_ndjson(whole, schema=LOG_SCHEMA)
             .unique(subset="iteration", keep="last", maintain_order=True)
             .sort("iteration"))
    return frame, len(data)


def compact(folder: Path, *, mtime: float | None = None) -> Path | None:
    """Write ``iterations.parquet`` from the run's log (atomically); None when no log.

    A log polars cannot read is left as it is (readers use the log, then the files).
    """
    try:
        read = read_log_frame(folder)
    except pl.exceptions.PolarsError:
        return None
    if read is None:
        return None
    frame, size = read
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=False,
                        metadata={_LOG_BYTES: str(size)})
    path = Path(folder) / ITER_TABLE_FILE
    atomic_write_bytes(path, buf.getvalue(), mtime=mtime)
    return path


def read_table(folder: Path, log_size: int) -> pl.DataFrame | None:
    """The run's ``iterations.parquet`` when it was made from a log of ``log_size`` bytes."""
    path = Path(folder) / ITER_TABLE_FILE
    try:
        if pl.read_parquet_metadata(path).get(_LOG_BYTES) != str(log_size):
            return None
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return None


def table_is_current(folder: Path) -> bool:
    """True when ``iterations.parquet`` covers the whole log (tests and tools)."""
    try:
        size = os.stat(Path(folder) / ITER_LOG_FILE).st_size
    except FileNotFoundError:
        return False
    return read_table(folder, size) is not None
