"""``soakkit_rotation.prom``: the outcome of the last rotation, for alerts and the disk panel.

Written by ``soakkit rotate --metrics-dir DIR`` after every rotation (never for a dry run,
which changes nothing). Counters (actions by kind, errors) continue from the file already
in ``DIR``, so they only grow while that file lives; the last-success timestamp survives
failed rotations, which is what a "rotation failed" alert compares against.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from soakkit.core.io import parse_utc
from soakkit.metrics import names as N
from soakkit.metrics.textfile import Exposition, SampleKey, read_samples, write_textfile

__all__ = ["export_rotation", "export_rotation_failure", "render_rotation"]

_SIZES = ((N.ROT_BEFORE_ALLOCATED, "before", "allocated_bytes"),
          (N.ROT_BEFORE_APPARENT, "before", "apparent_bytes"),
          (N.ROT_AFTER_ALLOCATED, "after", "allocated_bytes"),
          (N.ROT_AFTER_APPARENT, "after", "apparent_bytes"),
          (N.ROT_AFTER_FILES, "after", "files"))


def _previous(previous: Mapping[SampleKey, float], metric: N.Metric,
              labels: Mapping[str, str] | None = None) -> float | None:
    return previous.get((metric.name, tuple(sorted((labels or {}).items()))))


def _common(out: Exposition, previous: Mapping[SampleKey, float], *, status: str, now: float,
            duration_s: float | None, actions: Mapping[str, int], errors: int) -> None:
    for kind in N.ACTION_KINDS:
        before = _previous(previous, N.ROT_ACTIONS, {"action": kind}) or 0.0
        out.add(N.ROT_ACTIONS, before + actions.get(kind, 0), {"action": kind})
    out.add(N.ROT_ERRORS, (_previous(previous, N.ROT_ERRORS) or 0.0) + errors)
    for name in N.ROTATION_STATUSES:
        out.add(N.ROT_STATUS, int(name == status), {"status": name})
    if duration_s is not None:
        out.add(N.ROT_DURATION, duration_s)
    out.add(N.ROT_LAST_RUN, now, exact=True)
    success = now if status != "error" else _previous(previous, N.ROT_LAST_SUCCESS)
    if success is not None:
        out.add(N.ROT_LAST_SUCCESS, success, exact=True)


def render_rotation(record: Mapping[str, Any], previous: Mapping[SampleKey, float], *,
                    duration_s: float | None = None) -> Exposition:
    """The samples of ``soakkit_rotation.prom`` for one rotation's log ``record``.

    ``previous`` are the samples of the file it replaces (counters continue from them).
    """
    out = Exposition()
    for metric, stage, key in _SIZES:
        out.add(metric, int(record[stage][key]))
    if record.get("budget_bytes") is not None:
        out.add(N.ROT_BUDGET, int(record["budget_bytes"]))
    actions: dict[str, int] = {}
    for action in record.get("actions", []):
        if str(action.get("result", "")).startswith("done"):
            actions[action["phase"]] = actions.get(action["phase"], 0) + 1
    errors = len(record.get("errors", [])) + len(record.get("scan_errors", []))
    _common(out, previous, status=str(record["status"]), now=parse_utc(record["now"]).timestamp(),
            duration_s=duration_s, actions=actions, errors=errors)
    return out


def export_rotation(directory: Path, record: Mapping[str, Any], *,
                    duration_s: float | None = None, mtime: float | None = None) -> Path:
    """Write ``<directory>/soakkit_rotation.prom`` for a rotation (not a dry run)."""
    if record.get("dry_run"):
        raise ValueError("a dry run changes nothing and exports no metrics")
    previous = read_samples(Path(directory) / N.ROTATION_FILE)
    return write_textfile(directory, N.ROTATION_FILE,
                          render_rotation(record, previous, duration_s=duration_s), mtime=mtime)


def export_rotation_failure(directory: Path, now: datetime, *, duration_s: float | None = None,
                            mtime: float | None = None) -> Path:
    """Record a rotation that could not run: status ``error``, one more error, sizes kept."""
    previous = read_samples(Path(directory) / N.ROTATION_FILE)
    out = Exposition()
    for metric in (*(m for m, _, _ in _SIZES), N.ROT_BUDGET):
        value = _previous(previous, metric)
        if value is not None:
            out.add(metric, int(value))
    _common(out, previous, status="error", now=now.timestamp(), duration_s=duration_s,
            actions={}, errors=1)
    return write_textfile(directory, N.ROTATION_FILE, out, mtime=mtime)
