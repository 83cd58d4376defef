"""The run catalog: every run × iteration as one polars DataFrame.

Sources, all normalised into :data:`CATALOG_SCHEMA`:

* new layout – ``runs/<run_id>/ITER_SUMMARY_<n>.json`` (or ``.json.gz`` after rotation)
  and the run's compact history ``iterations.jsonl.gz`` (iterations whose files rotation
  deleted);
* legacy layout – ``latest/ITER_SUMMARY_<n>.json`` with ``{iteration, summary, tuning}``
  (legacy brief §2.1), read in numeric order, tolerating gaps and missing fields, under the
  run id ``legacy-latest``.

A corrupt file is reported in :attr:`Catalog.problems` and skipped; the rest still load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts import (
    HISTORY_FILE,
    LATEST,
    RUN_FILE,
    iteration_files,
    list_runs,
    read_history,
    read_json_maybe_gz,
)
from soakkit.config.params import PARAMS
from soakkit.errors import ArtifactError, SoakkitError
from soakkit.kpi import KPIS
from soakkit.tuning.guards import SUMMARY_COUNTERS

__all__ = ["CATALOG_SCHEMA", "LEGACY_RUN_ID", "Catalog", "load_catalog", "normalise"]

LEGACY_RUN_ID = "legacy-latest"
_FLOAT_KPIS = [k for k, spec in KPIS.items() if k != "fill_count"]
_GUARDS = sorted(set(SUMMARY_COUNTERS.values()))

#: Column → dtype of every catalog row (the one definition of the table's shape).
CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "iteration": pl.Int64(), "layout": pl.String(),
    "source": pl.String(), "path": pl.String(),
    "started_utc": pl.Datetime("ms", "UTC"), "duration_s": pl.Float64(),
    "profile": pl.String(), "mode": pl.String(), "regime": pl.String(),
    "regime_calm": pl.Float64(), "regime_volatile": pl.Float64(), "regime_spike": pl.Float64(),
    "seed": pl.Int64(), "gate": pl.String(), "phase": pl.String(),
    "verdict": pl.String(), "reasons": pl.List(pl.String()),
    **{k: pl.Float64() for k in _FLOAT_KPIS},
    "fill_count": pl.Int64(), "maker_count": pl.Int64(), "taker_count": pl.Int64(),
    "maker_volume": pl.Float64(), "taker_volume": pl.Float64(),
    **{f"param_{k}": pl.Float64() for k in PARAMS},
    **{f"delta_{k}": pl.Float64() for k in PARAMS},
    "tuning_applied": pl.Boolean(), "skip_reason": pl.String(),
    "rules_fired": pl.List(pl.String()),
    **{f"guard_{g}": pl.Int64() for g in _GUARDS},
}


@dataclass(frozen=True)
class Catalog:
    """The catalog table and the problems met while loading it."""

    frame: pl.DataFrame
    problems: tuple[str, ...]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _flag_count(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return len(value)
    return 0


def normalise(doc: Mapping[str, Any], *, run_id: str, layout: str, source: str, path: str,
              run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One catalog row from an ITER_SUMMARY document (new or legacy), tolerant of gaps."""
    summary = _obj(doc.get("summary"))
    tuning = _obj(doc.get("tuning"))
    gate = _obj(doc.get("gate"))
    fills = _obj(summary.get("fills"))
    params = _obj(doc.get("params"))
    mix = _obj(doc.get("regime_mix"))
    guards = _obj(tuning.get("guards"))
    if "applied_deltas" in tuning:
        applied = _obj(tuning.get("applied_deltas"))
    else:  # legacy: `deltas` were applied when `applied` is true
        applied = _obj(tuning.get("deltas")) if tuning.get("applied") is True else {}
    options = _obj(_obj(run).get("options"))
    seed = doc.get("seed")
    row: dict[str, Any] = {
        "run_id": run_id, "iteration": _int(doc.get("iteration")), "layout": layout,
        "source": source, "path": path,
        "started_utc": _time(doc.get("started_utc") or summary.get("runtime_utc")),
        "duration_s": _num(doc.get("duration_s")),
        "profile": options.get("profile"), "mode": doc.get("mode") or options.get("mode"),
        "regime": doc.get("regime"),
        "regime_calm": _num(mix.get("calm")), "regime_volatile": _num(mix.get("volatile")),
        "regime_spike": _num(mix.get("spike")),
        "seed": _int(seed.get("run_seed")) if isinstance(seed, dict) else _int(seed),
        "gate": gate.get("gate") or options.get("gate"), "phase": gate.get("phase"),
        "verdict": gate.get("verdict") or summary.get("kpi_verdict"),
        "reasons": [str(r) for r in (gate.get("reasons") or summary.get("kpi_reasons") or [])],
        "fill_count": _int(summary.get("fill_count")),
        "maker_count": _int(fills.get("maker_count")),
        "taker_count": _int(fills.get("taker_count")),
        "maker_volume": _num(fills.get("maker_volume")),
        "taker_volume": _num(fills.get("taker_volume")),
        "tuning_applied": tuning.get("applied") if isinstance(tuning.get("applied"), bool)
        else None,
        "skip_reason": tuning.get("skip_reason") if isinstance(tuning.get("skip_reason"), str)
        else None,
        "rules_fired": [str(r) for r in tuning.get("rules_fired", []) or []],
    }
    for k in _FLOAT_KPIS:
        row[k] = _num(summary.get(k))
    if row["fees_bps"] is None:  # legacy name
        row["fees_bps"] = _num(summary.get("fees_eff_bps"))
    for k in PARAMS:
        entry = params.get(k)
        row[f"param_{k}"] = _num(entry.get("value") if isinstance(entry, dict) else entry)
        row[f"delta_{k}"] = _num(applied.get(k))
    for g in _GUARDS:
        row[f"guard_{g}"] = _flag_count(guards.get(g))
    return row


def _frame(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=CATALOG_SCHEMA, orient="row", strict=False)


def _run_rows(run_dir: Path, problems: list[str]) -> list[dict[str, Any]]:
    run_id = run_dir.name
    try:
        meta = read_json_maybe_gz(run_dir / RUN_FILE)
    except SoakkitError as exc:
        problems.append(f"{run_id}: RUN.json unreadable ({exc}); iterations loaded without it")
        meta = {}
    rows: dict[int, dict[str, Any]] = {}
    try:
        for record in read_history(run_dir):
            row = normalise(record, run_id=run_id, layout="runs", source="history",
                            path=str(run_dir / HISTORY_FILE), run=meta)
            if row["iteration"] is not None:
                rows[row["iteration"]] = row
    except (SoakkitError, OSError, EOFError) as exc:
        problems.append(f"{run_dir / HISTORY_FILE}: {exc}; history skipped")
    for item in iteration_files(run_dir):
        try:
            doc = read_json_maybe_gz(item.path)
        except SoakkitError as exc:
            problems.append(f"{exc}; skipped")
            continue
        source = "gz" if item.path.name.endswith(".gz") else "file"
        rows[item.iteration] = normalise(doc, run_id=run_id, layout="runs", source=source,
                                         path=str(item.path), run=meta)
    return [rows[n] for n in sorted(rows)]


def _legacy_rows(folder: Path, problems: list[str]) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    try:
        for record in read_history(folder):
            row = normalise(record, run_id=LEGACY_RUN_ID, layout="legacy", source="history",
                            path=str(folder / HISTORY_FILE))
            if row["iteration"] is not None:
                rows[row["iteration"]] = row
    except (SoakkitError, OSError, EOFError) as exc:
        problems.append(f"{folder / HISTORY_FILE}: {exc}; history skipped")
    for item in iteration_files(folder):
        try:
            doc = read_json_maybe_gz(item.path)
        except SoakkitError as exc:
            problems.append(f"{exc}; skipped")
            continue
        doc = {"iteration": item.iteration, **doc}
        rows[item.iteration] = normalise(doc, run_id=LEGACY_RUN_ID, layout="legacy",
                                         source="gz" if item.path.name.endswith(".gz")
                                         else "file", path=str(item.path))
    return [rows[n] for n in sorted(rows)]


def load_catalog(artifacts: Path) -> Catalog:
    """Load every run × iteration under ``artifacts`` (new layout, legacy layout, history).

    Raises :class:`~soakkit.errors.ArtifactError` when ``artifacts`` is not a folder.
    """
    artifacts = Path(artifacts)
    if not artifacts.is_dir():
        raise ArtifactError(f"{artifacts}: artifacts folder not found")
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for run_dir in list_runs(artifacts):
        rows += _run_rows(run_dir, problems)
    legacy = artifacts / LATEST
    if legacy.is_dir() and not legacy.is_symlink():
        rows += _legacy_rows(legacy, problems)
    frame = _frame(rows).sort(["run_id", "iteration"])
    return Catalog(frame, tuple(problems))


def to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (times as ISO-8601 UTC)."""
    out = []
    for row in frame.iter_rows(named=True):
        if isinstance(row.get("started_utc"), datetime):
            row["started_utc"] = row["started_utc"].isoformat().replace("+00:00", "Z")
        out.append(row)
    return out
