"""Read and flatten ITER_SUMMARY documents into catalog rows (the catalog's hot path).

Two paths give identical frames (a test holds them to it):

* :func:`frame_from_files` – the fast path: a batch of files is joined into NDJSON and
  parsed by polars against :data:`NARROW_SCHEMA` (only the fields the catalog needs), then
  flattened with polars expressions; no Python object per value;
* :func:`parse_files` – the tolerant path: orjson per file and :func:`extract_row`, a tuple
  in :data:`COLUMNS` order; used for any batch polars rejects (a legacy document with other
  types, a corrupt file) so that one bad file is reported and the rest still load.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
import polars as pl

from soakkit.config.params import PARAMS
from soakkit.kpi import KPIS
from soakkit.tuning.guards import SUMMARY_COUNTERS

__all__ = ["COLUMNS", "FLOAT_KPIS", "GUARDS", "FileProblem", "Task", "extract_row",
           "parse_files"]

FLOAT_KPIS: tuple[str, ...] = tuple(k for k in KPIS if k != "fill_count")
#: ``summary.untuned`` fields the catalog keeps (as ``untuned_<field>``).
UNTUNED_COLUMNS: tuple[str, ...] = ("pnl_usd", "volume_usd", "risk_adjusted_pnl")
GUARDS: tuple[str, ...] = tuple(sorted(set(SUMMARY_COUNTERS.values())))
_BOOL_GUARDS = frozenset({"freeze", "freeze_triggered", "panic_revert", "idempotent_skip",
                          "canary_rollback"})

#: Column → dtype of every catalog row (the one definition of the table's shape).
CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "iteration": pl.Int64(), "layout": pl.String(),
    "source": pl.String(), "path": pl.String(),
    "started_utc": pl.Datetime("us", "UTC"), "duration_s": pl.Float64(),
    "profile": pl.String(), "mode": pl.String(), "regime": pl.String(),
    "regime_calm": pl.Float64(), "regime_volatile": pl.Float64(), "regime_spike": pl.Float64(),
    "seed": pl.Int64(), "gate": pl.String(), "phase": pl.String(),
    "verdict": pl.String(), "reasons": pl.List(pl.String()),
    **{k: pl.Float64() for k in FLOAT_KPIS},
    "fill_count": pl.Int64(), "maker_count": pl.Int64(), "taker_count": pl.Int64(),
    "maker_volume": pl.Float64(), "taker_volume": pl.Float64(),
    **{f"untuned_{k}": pl.Float64() for k in UNTUNED_COLUMNS},
    **{f"param_{k}": pl.Float64() for k in PARAMS},
    **{f"delta_{k}": pl.Float64() for k in PARAMS},
    "tuning_applied": pl.Boolean(), "skip_reason": pl.String(),
    "rules_fired": pl.List(pl.String()),
    **{f"guard_{g}": pl.Int64() for g in GUARDS},
}
#: Column order of a row.
COLUMNS: tuple[str, ...] = tuple(CATALOG_SCHEMA)

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
        "untuned": pl.Struct({k: _F for k in UNTUNED_COLUMNS})}),
    "params": pl.Struct({k: pl.Struct({"value": _F}) for k in PARAMS}),
    "tuning": pl.Struct({
        "applied": _B, "skip_reason": _S, "rules_fired": pl.List(_S),
        "applied_deltas": _PARAM_FLOATS, "deltas": _PARAM_FLOATS,
        "guards": pl.Struct({g: (_B if g in _BOOL_GUARDS else pl.List(_S)) for g in GUARDS})}),
}
_EMPTY: dict[str, Any] = {}
_PARAM_NAMES = tuple(PARAMS)
_FEES = FLOAT_KPIS.index("fees_bps")

#: (path, run_id, layout, source, options of the run, iteration from the file name)
Task = tuple[str, str, str, str, dict[str, Any], int | None]
#: (path of the file, one line saying what is wrong with it)
FileProblem = tuple[str, str]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _num(value: Any) -> float | None:
    kind = type(value)  # exact types: bool is not a number here
    if kind is float:
        return value  # type: ignore[no-any-return]
    return float(value) if kind is int else None


def _nums(mapping: dict[str, Any], keys: Sequence[str]) -> list[float | None]:
    """``_num`` of many keys at once (the hot loop: ~40 values per document)."""
    out: list[float | None] = []
    append = out.append
    get = mapping.get
    for key in keys:
        value = get(key)
        kind = type(value)
        append(value if kind is float else float(cast(int, value)) if kind is int else None)
    return out


def _first(*values: Any) -> Any:
    """The first value that is not None (JSON null and a missing key are alike)."""
    return next((v for v in values if v is not None), None)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _count(value: Any) -> int:
    if value is True:
        return 1
    return len(value) if isinstance(value, list) else 0


def extract_row(doc: dict[str, Any], run_id: str, layout: str, source: str, path: str,
                options: dict[str, Any], iteration: int | None = None) -> tuple[Any, ...]:
    """One catalog row from an ITER_SUMMARY document, new or legacy, tolerant of gaps.

    ``iteration`` (from the file name) is used when the document does not say.
    """
    summary = _obj(doc.get("summary"))
    tuning = _obj(doc.get("tuning"))
    gate = _obj(doc.get("gate"))
    fills = _obj(summary.get("fills"))
    untuned = _obj(summary.get("untuned"))
    params = _obj(doc.get("params"))
    mix = _obj(doc.get("regime_mix"))
    guards = _obj(tuning.get("guards"))
    if tuning.get("applied_deltas") is not None:
        applied = _obj(tuning.get("applied_deltas"))
    else:  # legacy: `deltas` were applied when `applied` is true
        applied = _obj(tuning.get("deltas")) if tuning.get("applied") is True else _EMPTY
    seed = doc.get("seed")
    kpis = _nums(summary, FLOAT_KPIS)
    if kpis[_FEES] is None:  # legacy name
        kpis[_FEES] = _num(summary.get("fees_eff_bps"))
    param_values = [_num(entry.get("value") if type(entry) is dict else entry)
                    for entry in map(params.get, _PARAM_NAMES)]
    applied_flag = tuning.get("applied")
    skip = tuning.get("skip_reason")
    doc_n = _int(doc.get("iteration"))
    return (
        run_id, doc_n if doc_n is not None else iteration, layout, source, path,
        _time(_first(doc.get("started_utc"), summary.get("runtime_utc"))),
        _num(doc.get("duration_s")), _str(options.get("profile")),
        _str(_first(doc.get("mode"), options.get("mode"))), _str(doc.get("regime")),
        _num(mix.get("calm")), _num(mix.get("volatile")), _num(mix.get("spike")),
        _int(seed.get("run_seed")) if isinstance(seed, dict) else _int(seed),
        _str(_first(gate.get("gate"), options.get("gate"))), _str(gate.get("phase")),
        _str(_first(gate.get("verdict"), summary.get("kpi_verdict"))),
        _strs(_first(gate.get("reasons"), summary.get("kpi_reasons"))),
        *kpis, _int(summary.get("fill_count")), _int(fills.get("maker_count")),
        _int(fills.get("taker_count")), _num(fills.get("maker_volume")),
        _num(fills.get("taker_volume")), *_nums(untuned, UNTUNED_COLUMNS), *param_values,
        *_nums(applied, _PARAM_NAMES),
        applied_flag if isinstance(applied_flag, bool) else None, _str(skip),
        _strs(tuning.get("rules_fired")),
        *[_count(guards.get(g)) for g in GUARDS],
    )


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        data = os.read(fd, os.fstat(fd).st_size + 1)  # sized buffer: never one mmap per file
    finally:
        os.close(fd)
    return gzip.decompress(data) if path.endswith(".gz") else data


def _read_chunk(tasks: Sequence[Task]) -> list[bytes | Exception]:
    out: list[bytes | Exception] = []
    for task in tasks:
        try:
            out.append(_read(task[0]))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            out.append(exc)
    return out


def _chunks(tasks: Sequence[Task], size: int) -> Iterator[Sequence[Task]]:
    for start in range(0, len(tasks), size):
        yield tasks[start:start + size]


def _document(blob: bytes, path: str, where: str,
              problems: list[FileProblem]) -> dict[str, Any] | None:
    """``blob`` parsed as a JSON object, or None with a problem line naming ``where``."""
    try:
        doc = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        problems.append((path, f"{where}: not valid JSON ({exc}); skipped"))
        return None
    if not isinstance(doc, dict):
        problems.append((path, f"{where}: not a JSON object; skipped"))
        return None
    return doc


def parse_files(tasks: Sequence[Task]) -> tuple[list[tuple[Any, ...]], list[FileProblem]]:
    """Rows of every readable ITER_SUMMARY in ``tasks``, and one problem line per bad file."""
    rows: list[tuple[Any, ...]] = []
    problems: list[FileProblem] = []
    for chunk in _chunks(tasks, 256):
        for (path, run_id, layout, source, options, n), blob in zip(
                chunk, _read_chunk(chunk), strict=True):
            if isinstance(blob, Exception):
                problems.append((path, f"{path}: unreadable ({blob}); skipped"))
                continue
            doc = _document(blob, path, path, problems)
            if doc is not None:
                rows.append(extract_row(doc, run_id, layout, source, path, options, n))
    return rows, problems


def parse_history(path: str, run_id: str, layout: str, options: dict[str, Any]
                  ) -> tuple[list[tuple[Any, ...]], list[FileProblem]]:
    """Rows of a compact history file (``iterations.jsonl.gz``)."""
    try:
        lines = _read(path).splitlines()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return [], [(path, f"{path}: unreadable ({exc}); history skipped")]
    rows: list[tuple[Any, ...]] = []
    problems: list[FileProblem] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        doc = _document(line, path, f"{path}:{lineno}", problems)
        if doc is not None:
            rows.append(extract_row(doc, run_id, layout, "history", path, options))
    return rows, problems


def rows_to_frame(rows: Sequence[tuple[Any, ...]]) -> pl.DataFrame:
    """Rows (tuples in COLUMNS order) → a frame, column by column on polars' strict path."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    return pl.DataFrame([pl.Series(name, col, dtype=dtype)
                         for (name, dtype), col in zip(CATALOG_SCHEMA.items(), columns,
                                                       strict=True)])


def _flatten(raw: pl.DataFrame, tasks: Sequence[Task]) -> pl.DataFrame:
    """Narrow-parsed documents → catalog columns, with polars expressions only."""
    meta = pl.DataFrame({
        "_path": [t[0] for t in tasks], "_run_id": [t[1] for t in tasks],
        "_layout": [t[2] for t in tasks], "_source": [t[3] for t in tasks],
        "_n": pl.Series([t[5] for t in tasks], dtype=_I),
        "_profile": pl.Series([_str(t[4].get("profile")) for t in tasks], dtype=_S),
        "_mode": pl.Series([_str(t[4].get("mode")) for t in tasks], dtype=_S),
        "_gate": pl.Series([_str(t[4].get("gate")) for t in tasks], dtype=_S)})
    df = pl.concat([raw, meta], how="horizontal")
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
    out = df.select(
        pl.col("_run_id").alias("run_id"),
        pl.coalesce(pl.col("iteration"), pl.col("_n")).alias("iteration"),
        pl.col("_layout").alias("layout"), pl.col("_source").alias("source"),
        pl.col("_path").alias("path"),
        pl.coalesce(pl.col("started_utc"), summary.struct.field("runtime_utc"))
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False)
        .alias("started_utc"),
        pl.col("duration_s"), pl.col("_profile").alias("profile"),
        pl.coalesce(pl.col("mode"), pl.col("_mode")).alias("mode"), pl.col("regime"),
        *(pl.col("regime_mix").struct.field(r).alias(f"regime_{r}")
          for r in ("calm", "volatile", "spike")),
        pl.col("seed").struct.field("run_seed").alias("seed"),
        pl.coalesce(gate.struct.field("gate"), pl.col("_gate")).alias("gate"),
        gate.struct.field("phase").alias("phase"),
        pl.coalesce(gate.struct.field("verdict"), summary.struct.field("kpi_verdict"))
        .alias("verdict"),
        pl.coalesce(gate.struct.field("reasons"), summary.struct.field("kpi_reasons"), empty)
        .alias("reasons"),
        *kpis,
        summary.struct.field("fill_count").alias("fill_count"),
        *(fills.struct.field(k).alias(k) for k in ("maker_count", "taker_count",
                                                    "maker_volume", "taker_volume")),
        *(summary.struct.field("untuned").struct.field(k).alias(f"untuned_{k}")
          for k in UNTUNED_COLUMNS),
        *(pl.col("params").struct.field(k).struct.field("value").alias(f"param_{k}")
          for k in PARAMS),
        *(deltas.struct.field(k).alias(f"delta_{k}") for k in PARAMS),
        tuning.struct.field("applied").alias("tuning_applied"),
        tuning.struct.field("skip_reason").alias("skip_reason"),
        pl.coalesce(tuning.struct.field("rules_fired"), empty).alias("rules_fired"),
        *((guards.struct.field(g).cast(_I) if g in _BOOL_GUARDS
           else guards.struct.field(g).list.len().cast(_I)).fill_null(0).alias(f"guard_{g}")
          for g in GUARDS),
    )
    return out.cast(CATALOG_SCHEMA)  # type: ignore[arg-type]


_BATCH = 4000


def frame_from_files(tasks: Sequence[Task]) -> tuple[pl.DataFrame, list[FileProblem]]:
    """The catalog frame of ``tasks`` (fast path, falling back batch by batch)."""
    frames: list[pl.DataFrame] = []
    problems: list[FileProblem] = []
    for batch in _chunks(tasks, _BATCH):
        blobs = _read_chunk(batch)
        good = [(t, b) for t, b in zip(batch, blobs, strict=True) if isinstance(b, bytes)]
        problems += [(t[0], f"{t[0]}: unreadable ({b}); skipped")
                     for t, b in zip(batch, blobs, strict=True) if not isinstance(b, bytes)]
        if not good:
            continue
        try:
            raw = pl.read_ndjson(b"\n".join(b.replace(b"\n", b" ") for _, b in good),
                                 schema=NARROW_SCHEMA)
            if raw.height != len(good):
                raise ValueError("document count mismatch")
            frames.append(_flatten(raw, [t for t, _ in good]))
        except (pl.exceptions.PolarsError, ValueError):
            rows, bad = parse_files([t for t, _ in good])
            frames.append(rows_to_frame(rows))
            problems += bad
    frame = pl.concat(frames) if frames else rows_to_frame([])
    return frame, problems

