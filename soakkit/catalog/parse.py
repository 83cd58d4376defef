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

import functools
import gzip
import json
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
import polars as pl

from soakkit.artifacts.iterlog_table import (
    DOC_SCHEMA,
    FLOAT_KPIS,
    GUARDS,
    NARROW_SCHEMA,
    REFERENCE_COLUMNS,
    doc_columns,
)
from soakkit.artifacts.layout import ITER_SUMMARY_SCHEMA, iter_summary_problems
from soakkit.artifacts.runid import run_facts
from soakkit.config.params import PARAMS
from soakkit.core.errors import READ_ERRORS, unreadable_reason

__all__ = ["COLUMNS", "FLOAT_KPIS", "GUARDS", "FileProblem", "Task", "extract_row",
           "parse_files"]


#: Columns every row of a run takes from the run's ``RUN.json`` options
#: (:func:`run_values`): what it ran, beside ``mode`` (soakkit.artifacts.runid).
RUN_COLUMNS: dict[str, pl.DataType] = {"profile": pl.String(), "strategy": pl.String(),
                                       "tune": pl.Boolean(), "market": pl.String()}


def run_values(options: dict[str, Any]) -> tuple[Any, ...]:
    """:data:`RUN_COLUMNS` of a run from its options (all None for the legacy layout)."""
    facts = run_facts(options)
    return (_str(options.get("profile")), facts["strategy"], facts["tune"], facts["market"])


def _catalog_schema() -> dict[str, pl.DataType]:
    out: dict[str, pl.DataType] = {"run_id": pl.String(), "iteration": pl.Int64(),
                                   "layout": pl.String(), "source": pl.String(),
                                   "path": pl.String()}
    for name, dtype in DOC_SCHEMA.items():
        if name == "doc_mode":
            out.update(RUN_COLUMNS, mode=pl.String())
        elif name != "doc_iteration":
            out[name.removeprefix("doc_")] = dtype
    return out


#: Column → dtype of every catalog row: where the row came from, then :data:`DOC_SCHEMA`.
CATALOG_SCHEMA: dict[str, pl.DataType] = _catalog_schema()
#: Column order of a row.
COLUMNS: tuple[str, ...] = tuple(CATALOG_SCHEMA)

_F, _I, _S = pl.Float64, pl.Int64, pl.String
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
    reference = _obj(summary.get("reference"))
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
        _num(doc.get("duration_s")), *run_values(options),
        _str(_first(doc.get("mode"), options.get("mode"))), _str(doc.get("regime")),
        _num(mix.get("calm")), _num(mix.get("volatile")), _num(mix.get("spike")),
        _int(seed.get("run_seed")) if isinstance(seed, dict) else _int(seed),
        _str(_first(gate.get("gate"), options.get("gate"))), _str(gate.get("phase")),
        _str(_first(gate.get("verdict"), summary.get("kpi_verdict"))),
        _strs(_first(gate.get("reasons"), summary.get("kpi_reasons"))),
        *kpis, _int(summary.get("fill_count")), _int(fills.get("maker_count")),
        _int(fills.get("taker_count")), _num(fills.get("maker_volume")),
        _num(fills.get("taker_volume")), *_nums(reference, REFERENCE_COLUMNS), *param_values,
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
        except READ_ERRORS as exc:
            out.append(exc)
    return out


def _chunks(tasks: Sequence[Task], size: int) -> Iterator[Sequence[Task]]:
    for start in range(0, len(tasks), size):
        yield tasks[start:start + size]


def _document(blob: bytes, path: str, where: str, problems: list[FileProblem],
              iteration: int | None = None) -> dict[str, Any] | None:
    """``blob`` parsed as an ITER_SUMMARY that passes :func:`iter_summary_problems` (its
    schema, and ``iteration`` the number of its file name), or None with one problem line
    per finding, each naming ``where``."""
    try:
        doc = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        problems.append((path, f"{where}: not valid JSON ({exc}); skipped"))
        return None
    found = iter_summary_problems(doc, iteration)
    problems += [(path, f"{where}: {problem}; skipped") for problem in found]
    return None if found else cast(dict[str, Any], doc)


def parse_files(tasks: Sequence[Task]) -> tuple[list[tuple[Any, ...]], list[FileProblem]]:
    """Rows of every readable ITER_SUMMARY in ``tasks``, and one problem line per bad file."""
    rows: list[tuple[Any, ...]] = []
    problems: list[FileProblem] = []
    for chunk in _chunks(tasks, 256):
        for (path, run_id, layout, source, options, n), blob in zip(
                chunk, _read_chunk(chunk), strict=True):
            if isinstance(blob, Exception):
                problems.append((path, f"{path}: {unreadable_reason(blob)}; skipped"))
                continue
            doc = _document(blob, path, path, problems, n)
            if doc is not None:
                rows.append(extract_row(doc, run_id, layout, source, path, options, n))
    return rows, problems


def parse_history(path: str, run_id: str, layout: str, options: dict[str, Any]
                  ) -> tuple[list[tuple[Any, ...]], list[FileProblem]]:
    """Rows of a compact history file (``iterations.jsonl.gz``)."""
    try:
        lines = _read(path).splitlines()
    except READ_ERRORS as exc:
        return [], [(path, f"{path}: {unreadable_reason(exc)}; history skipped")]
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


#: Where each document came from, next to it: the columns :func:`flatten_narrow` reads.
META_SCHEMA: dict[str, Any] = {"_path": _S, "_run_id": _S, "_layout": _S, "_source": _S,
                               "_n": _I, **{f"_{k}": t for k, t in RUN_COLUMNS.items()},
                               "_mode": _S, "_gate": _S}
#: The :data:`META_SCHEMA` columns that come from a run's options.
RUN_META: tuple[str, ...] = (*(f"_{k}" for k in RUN_COLUMNS), "_mode", "_gate")


def run_meta(options: dict[str, Any]) -> tuple[Any, ...]:
    """The :data:`RUN_META` values of a run with ``options``."""
    return (*run_values(options), _str(options.get("mode")), _str(options.get("gate")))


def meta_columns(tasks: Sequence[Task]) -> dict[str, list[Any]]:
    """:data:`META_SCHEMA` columns of ``tasks`` (as lists)."""
    per_run: dict[int, tuple[Any, ...]] = {}  # the tasks of a run share its options
    values = [per_run.get(id(t[4])) or per_run.setdefault(id(t[4]), run_meta(t[4]))
              for t in tasks]
    return {"_path": [t[0] for t in tasks], "_run_id": [t[1] for t in tasks],
            "_layout": [t[2] for t in tasks], "_source": [t[3] for t in tasks],
            "_n": [t[5] for t in tasks],
            **{name: [v[i] for v in values] for i, name in enumerate(RUN_META)}}


def with_meta(flat: pl.DataFrame) -> pl.DataFrame:
    """:data:`DOC_SCHEMA` columns with their :data:`META_SCHEMA` columns → catalog rows."""
    completed = {
        "run_id": pl.col("_run_id"), "layout": pl.col("_layout"),
        "source": pl.col("_source"), "path": pl.col("_path"),
        **{k: pl.col(f"_{k}") for k in RUN_COLUMNS},
        "iteration": pl.coalesce(pl.col("doc_iteration"), pl.col("_n")),
        "mode": pl.coalesce(pl.col("doc_mode"), pl.col("_mode")),
        "gate": pl.coalesce(pl.col("doc_gate"), pl.col("_gate")),
    }
    out = flat.select(completed.get(name, pl.col(name)).alias(name) for name in CATALOG_SCHEMA)
    return out.cast(CATALOG_SCHEMA)  # type: ignore[arg-type]


def flatten_narrow(df: pl.DataFrame) -> pl.DataFrame:
    """Narrow-parsed documents with their :data:`META_SCHEMA` columns → catalog rows,
    with polars expressions only."""
    return with_meta(df.select(*doc_columns(), *META_SCHEMA))


_BATCH = 4000
#: The fast path reads two more fields, for :func:`_suspects`.
_SCREEN_SCHEMA: dict[str, Any] = {"schema_version": _I, "run_id": _S}
_VERDICTS = ("PASS", "WARN", "FAIL")
#: Fields a v1 ITER_SUMMARY must have that the narrow parse reads (the schema requires them).
_V1_REQUIRED = ("run_id", "iteration", "started_utc", "duration_s", "mode", "regime",
                "regime_mix", "seed", "params", "summary", "gate", "tuning")


@functools.cache
def _not_null_kpis() -> tuple[str, ...]:
    """The float KPIs the ITER_SUMMARY schema does not allow to be null."""
    schema = json.loads(ITER_SUMMARY_SCHEMA.read_text(encoding="utf-8"))
    types = {k: v.get("type") for k, v in schema["properties"]["summary"]["properties"].items()}
    return tuple(k for k in FLOAT_KPIS if types.get(k) == "number")


def _suspects(raw: pl.DataFrame, numbers: Sequence[int | None]) -> pl.Series:
    """Rows the full schema check must see (a cheap screen; a value of the wrong type has
    already sent the whole batch to :func:`parse_files`): a missing required field or
    verdict, an unknown schema version or verdict, an ``iteration`` that is not the file's."""
    summary, gate = pl.col("summary"), pl.col("gate")
    n = pl.Series("_n", numbers, dtype=_I)
    v1 = pl.col("schema_version").is_not_null()
    checks = [
        summary.is_null(),
        pl.col("iteration").is_not_null() & n.is_not_null() & (pl.col("iteration") != n),
        v1 & ((pl.col("schema_version") != 1) | pl.any_horizontal(
            *(pl.col(c).is_null() for c in _V1_REQUIRED),
            summary.struct.field("kpi_verdict").is_null(),
            *(summary.struct.field(k).is_null() for k in _not_null_kpis()),
            ~gate.struct.field("verdict").is_in(_VERDICTS).fill_null(False))),
        ~summary.struct.field("kpi_verdict").is_in(_VERDICTS).fill_null(True),
    ]
    return raw.select(pl.any_horizontal(*(c.fill_null(False) for c in checks))).to_series()


def frame_from_files(tasks: Sequence[Task]) -> tuple[pl.DataFrame, list[FileProblem]]:
    """The catalog frame of ``tasks`` (fast path, falling back batch by batch)."""
    frames: list[pl.DataFrame] = []
    problems: list[FileProblem] = []
    for batch in _chunks(tasks, _BATCH):
        blobs = _read_chunk(batch)
        good = [(t, b) for t, b in zip(batch, blobs, strict=True) if isinstance(b, bytes)]
        # a file removed since its folder was listed (rotation, a run removed) is left out,
        # as the listing leaves out one removed before it: no problem
        problems += [(t[0], f"{t[0]}: {unreadable_reason(b)}; skipped")
                     for t, b in zip(batch, blobs, strict=True)
                     if not isinstance(b, bytes | FileNotFoundError)]
        if not good:
            continue
        try:
            raw = pl.read_ndjson(b"\n".join(b.replace(b"\n", b" ") for _, b in good),
                                 schema={**NARROW_SCHEMA, **_SCREEN_SCHEMA})
            if raw.height != len(good):
                raise ValueError("document count mismatch")
            suspect = _suspects(raw, [t[5] for t, _ in good])
            if suspect.any():  # the full check decides: a row, or problem lines
                rows, bad = parse_files([t for (t, _), s in zip(good, suspect, strict=True) if s])
                frames.append(rows_to_frame(rows))
                problems += bad
                raw = raw.filter(~suspect)
                good = [g for g, s in zip(good, suspect, strict=True) if not s]
            meta = pl.DataFrame(meta_columns([t for t, _ in good]), schema=META_SCHEMA)
            frames.append(flatten_narrow(pl.concat([raw, meta], how="horizontal")))
        except (pl.exceptions.PolarsError, ValueError):
            rows, bad = parse_files([t for t, _ in good])
            frames.append(rows_to_frame(rows))
            problems += bad
    frame = pl.concat(frames) if frames else rows_to_frame([])
    return frame, problems

