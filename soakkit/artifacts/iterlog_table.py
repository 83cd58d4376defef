"""The iteration log as a table: ``iterations.parquet``, written once when a run ends.

The soak runner appends to ``iterations.jsonl`` during the run
(:mod:`soakkit.artifacts.iterlog`) and, when the run ends, compacts it here into
``<run>/iterations.parquet``: one row per iteration (the last log line wins) with the file the
line copies (``file_name``, ``file_size``, ``file_mtime_ns``) and the document as flat typed
columns (:data:`DOC_SCHEMA`: the catalog's columns, from :data:`NARROW_SCHEMA` by
:func:`doc_columns`); a catalog reads it without parsing or unnesting anything. The parquet
metadata records the byte size of the log it was made from; a log that grew since (a resumed
run, rotation logging a file) makes the table stale, and readers use the log. A parquet file
is never rewritten per iteration.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.layout import ITER_LOG_FILE, ITER_TABLE_FILE
from soakkit.config.params import PARAMS
from soakkit.core.io import atomic_write_bytes
from soakkit.kpi import KPIS
from soakkit.tuning.guards import SUMMARY_COUNTERS

__all__ = ["BOOL_GUARDS", "DOC_SCHEMA", "FLOAT_KPIS", "GUARDS", "LOG_SCHEMA", "NARROW_SCHEMA",
           "REFERENCE_COLUMNS",
           "compact", "doc_columns", "flat_table", "read_log_frame", "table_is_current",
           "table_meta"]

FLOAT_KPIS: tuple[str, ...] = tuple(k for k in KPIS if k != "fill_count")
GUARDS: tuple[str, ...] = tuple(sorted(set(SUMMARY_COUNTERS.values())))
BOOL_GUARDS = frozenset({"freeze", "freeze_triggered", "panic_revert", "idempotent_skip",
                         "canary_rollback"})
#: ``summary.reference`` fields the catalog keeps (as ``reference_<field>``).
REFERENCE_COLUMNS: tuple[str, ...] = ("pnl_usd", "volume_usd", "risk_adjusted_pnl")
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
                            "taker_volume": _F}),
        "reference": pl.Struct({k: _F for k in REFERENCE_COLUMNS})}),
    "params": pl.Struct({k: pl.Struct({"value": _F}) for k in PARAMS}),
    "tuning": pl.Struct({
        "applied": _B, "skip_reason": _S, "rules_fired": pl.List(_S),
        "applied_deltas": _PARAM_FLOATS, "deltas": _PARAM_FLOATS,
        "guards": pl.Struct({g: (_B if g in BOOL_GUARDS else pl.List(_S)) for g in GUARDS})}),
}
#: Columns of an iteration that its document alone decides (the catalog's columns apart from
#: where a row came from: run, layout, source, path, profile; ``mode`` and ``gate`` are
#: completed from the run's options).
DOC_SCHEMA: dict[str, Any] = {
    "doc_iteration": _I(), "started_utc": pl.Datetime("us", "UTC"), "duration_s": _F(),
    "doc_mode": _S(), "regime": _S(),
    "regime_calm": _F(), "regime_volatile": _F(), "regime_spike": _F(),
    "seed": _I(), "doc_gate": _S(), "phase": _S(), "verdict": _S(), "reasons": pl.List(_S()),
    **{k: _F() for k in FLOAT_KPIS},
    "fill_count": _I(), "maker_count": _I(), "taker_count": _I(),
    "maker_volume": _F(), "taker_volume": _F(),
    **{f"reference_{k}": _F() for k in REFERENCE_COLUMNS},
    **{f"param_{k}": _F() for k in PARAMS},
    **{f"delta_{k}": _F() for k in PARAMS},
    "tuning_applied": _B(), "skip_reason": _S(), "rules_fired": pl.List(_S()),
    **{f"guard_{g}": _I() for g in GUARDS},
}
_FEES = FLOAT_KPIS.index("fees_bps")


def doc_columns() -> list[pl.Expr]:
    """Expressions: :data:`NARROW_SCHEMA` struct columns → :data:`DOC_SCHEMA` columns."""
    summary, tuning, gate = pl.col("summary"), pl.col("tuning"), pl.col("gate")
    fills = summary.struct.field("fills")
    deltas = pl.when(tuning.struct.field("applied_deltas").is_not_null()).then(
        tuning.struct.field("applied_deltas")).when(tuning.struct.field("applied")).then(
        tuning.struct.field("deltas"))
    guards = tuning.struct.field("guards")
    kpis = [summary.struct.field(k).alias(k) for k in FLOAT_KPIS]
    kpis[_FEES] = pl.coalesce(summary.struct.field("fees_bps"),
                              summary.struct.field("fees_eff_bps")).alias("fees_bps")
    empty = pl.lit([], dtype=pl.List(_S))
    return [
        pl.col("iteration").alias("doc_iteration"),
        pl.coalesce(pl.col("started_utc"), summary.struct.field("runtime_utc"))
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False)
        .alias("started_utc"),
        pl.col("duration_s"), pl.col("mode").alias("doc_mode"), pl.col("regime"),
        *(pl.col("regime_mix").struct.field(r).alias(f"regime_{r}")
          for r in ("calm", "volatile", "spike")),
        pl.col("seed").struct.field("run_seed").alias("seed"),
        gate.struct.field("gate").alias("doc_gate"),
        gate.struct.field("phase").alias("phase"),
        pl.coalesce(gate.struct.field("verdict"), summary.struct.field("kpi_verdict"))
        .alias("verdict"),
        pl.coalesce(gate.struct.field("reasons"), summary.struct.field("kpi_reasons"), empty)
        .alias("reasons"),
        *kpis,
        summary.struct.field("fill_count").alias("fill_count"),
        *(fills.struct.field(k).alias(k) for k in ("maker_count", "taker_count",
                                                    "maker_volume", "taker_volume")),
        *(summary.struct.field("reference").struct.field(k).alias(f"reference_{k}")
          for k in REFERENCE_COLUMNS),
        *(pl.col("params").struct.field(k).struct.field("value").alias(f"param_{k}")
          for k in PARAMS),
        *(deltas.struct.field(k).alias(f"delta_{k}") for k in PARAMS),
        tuning.struct.field("applied").alias("tuning_applied"),
        tuning.struct.field("skip_reason").alias("skip_reason"),
        pl.coalesce(tuning.struct.field("rules_fired"), empty).alias("rules_fired"),
        *((guards.struct.field(g).cast(_I) if g in BOOL_GUARDS
           else guards.struct.field(g).list.len().cast(_I)).fill_null(0).alias(f"guard_{g}")
          for g in GUARDS),
    ]


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


def flat_table(frame: pl.DataFrame) -> pl.DataFrame:
    """A log frame (:data:`LOG_SCHEMA`) as the table: iteration, the file it copies
    (``file_name``, ``file_size``, ``file_mtime_ns``) and :data:`DOC_SCHEMA` columns."""
    return frame.select(
        pl.col("iteration").alias("_logged"), *(pl.col("file").struct.field(k).alias(f"file_{k}")
                                               for k in ("name", "size", "mtime_ns")),
        pl.col("doc").struct.unnest()).select(
        pl.col("_logged").alias("iteration"), "file_name", "file_size", "file_mtime_ns",
        *doc_columns()).cast(
        DOC_SCHEMA)  # type: ignore[arg-type]


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
    flat_table(frame).write_parquet(buf, compression="zstd", statistics=False,
                        metadata={_LOG_BYTES: str(size)})
    path = Path(folder) / ITER_TABLE_FILE
    atomic_write_bytes(path, buf.getvalue(), mtime=mtime)
    return path


def table_meta(folder: Path) -> str | None:
    """The log size ``iterations.parquet`` was made from (its metadata), or None."""
    try:
        return pl.read_parquet_metadata(Path(folder) / ITER_TABLE_FILE).get(_LOG_BYTES)
    except (OSError, pl.exceptions.PolarsError):
        return None


def table_is_current(folder: Path) -> bool:
    """True when ``iterations.parquet`` was made from the whole current log."""
    try:
        size = os.stat(Path(folder) / ITER_LOG_FILE).st_size
    except FileNotFoundError:
        return False
    return table_meta(folder) == str(size)
