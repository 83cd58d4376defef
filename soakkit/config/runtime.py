"""``runtime_overrides.json``: the tuner's live parameter values, one file per run.

Format (``schema_version`` 1)::

    {"schema_version": 1, "revision": 3, "base_profile": "steady_safe",
     "base_profile_sha256": "<64 hex>", "values": {"min_interval_ms": 95, ...},
     "applied": {"iteration": 3, "signature": "<64 hex>", "values_before": {...}} | null}

Only tunable parameters, within their bounds, may appear in ``values``. Writes are
atomic and guarded by a compare-and-swap on ``revision`` (under an ``flock``), so two
writers can never overwrite each other; ``applied`` records the last decision applied,
which makes re-applying it (a re-run, a restart after a crash) a recognisable no-op.
A corrupt, truncated or invalid file fails closed: it is reported, never reset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from soakkit.config.params import PARAMS, Value, check_value
from soakkit.core.errors import (
    JsonFormatError,
    RuntimeOverridesError,
    StaleRevisionError,
    did_you_mean,
)
from soakkit.core.io import atomic_write_json
from soakkit.core.json_canonical import JsonRecord, json_ready
from soakkit.core.json_strict import loads_strict, read_limited
from soakkit.core.locks import exclusive_lock

__all__ = [
    "RUNTIME_FILE",
    "RUNTIME_SCHEMA_VERSION",
    "AppliedRecord",
    "RuntimeOverrides",
    "read_runtime_overrides",
    "validate_runtime_values",
    "write_runtime_overrides",
]

RUNTIME_FILE = "runtime_overrides.json"
RUNTIME_SCHEMA_VERSION = 1
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_KEYS = frozenset({"schema_version", "revision", "base_profile", "base_profile_sha256",
                   "values", "applied"})


@dataclass(frozen=True)
class AppliedRecord(JsonRecord):
    """The last tuning decision written into the file (for idempotent re-application)."""

    iteration: int
    signature: str
    values_before: Mapping[str, Value]


@dataclass(frozen=True)
class RuntimeOverrides:
    """A validated runtime-overrides file."""

    path: Path
    revision: int
    base_profile: str
    base_profile_sha256: str
    values: Mapping[str, Value]
    applied: AppliedRecord | None

    def to_json(self) -> dict[str, Any]:
        """The file's content: every field but ``path``, and the schema version."""
        fields = {k: v for k, v in json_ready(self).items() if k != "path"}
        return {"schema_version": RUNTIME_SCHEMA_VERSION, **fields}


def validate_runtime_values(values: Any, where: str) -> tuple[dict[str, Value], list[str]]:
    """Check a ``values`` mapping: tunable keys only, within bounds. Returns (values, problems)."""
    if not isinstance(values, dict):
        return {}, [f"{where}: must be a JSON object"]
    good: dict[str, Value] = {}
    problems: list[str] = []
    for key, value in values.items():
        spec = PARAMS.get(key)
        if spec is None:
            problems.append(f"{where}.{key}: unknown parameter" + did_you_mean(key, list(PARAMS)))
        elif not spec.tunable:
            problems.append(f"{where}.{key}: not tunable; only the tuner's parameters may "
                            "appear in runtime overrides")
        elif why := check_value(spec, value):
            problems.append(f"{where}.{key}: {why}")
        else:
            good[key] = value
    return good, problems


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(doc: dict[str, Any], path: Path) -> RuntimeOverrides:
    problems: list[str] = []
    for key in sorted(set(doc) - _KEYS):
        problems.append(f"unknown key {key!r}" + (
            " (legacy in-band provenance; run `soakkit config migrate`)" if key == "_sources"
            else ""))
    version = doc.get("schema_version")
    if version != RUNTIME_SCHEMA_VERSION or not _is_int(version):
        problems.append(f"schema_version: expected {RUNTIME_SCHEMA_VERSION}, got {version!r}")
    raw_revision = doc.get("revision")
    revision = raw_revision if _is_int(raw_revision) and raw_revision >= 0 else -1
    if revision < 0:
        problems.append(f"revision: expected an integer >= 0, got {raw_revision!r}")
    base = doc.get("base_profile")
    if not isinstance(base, str) or not base:
        problems.append(f"base_profile: expected a profile name, got {base!r}")
        base = ""
    sha = doc.get("base_profile_sha256")
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
        problems.append("base_profile_sha256: expected 64 lower-case hex digits")
        sha = ""
    values, value_problems = validate_runtime_values(doc.get("values"), "values")
    problems += value_problems
    applied = None
    raw_applied = doc.get("applied")
    if raw_applied is not None:
        if (not isinstance(raw_applied, dict) or not _is_int(raw_applied.get("iteration"))
                or not isinstance(raw_applied.get("signature"), str)):
            problems.append("applied: expected {iteration, signature, values_before} or null")
        else:
            before, before_problems = validate_runtime_values(
                raw_applied.get("values_before", {}), "applied.values_before")
            problems += before_problems
            applied = AppliedRecord(raw_applied["iteration"], raw_applied["signature"], before)
    if problems:
        raise RuntimeOverridesError("\n".join(
            f"{path}: invalid runtime overrides: {p}; refusing to use or reset it"
            for p in problems))
    return RuntimeOverrides(path, revision, base, sha, values, applied)


def read_runtime_overrides(path: Path) -> RuntimeOverrides:
    """Read and validate ``path``; raises :class:`RuntimeOverridesError` (fail closed)."""
    path = Path(path)
    try:
        data = read_limited(path)
    except FileNotFoundError:
        raise RuntimeOverridesError(f"{path}: runtime overrides file not found") from None
    except IsADirectoryError:
        raise RuntimeOverridesError(f"{path}: is a folder, not a runtime overrides file") \
            from None
    try:
        doc = loads_strict(data, str(path))
    except JsonFormatError as exc:
        raise RuntimeOverridesError(f"{exc} (corrupt or truncated runtime overrides; "
                                    "refusing to use or reset it)") from None
    return _parse(doc, path)


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def write_runtime_overrides(
    path: Path,
    *,
    expected_revision: int | None,
    base_profile: str,
    base_profile_sha256: str,
    values: Mapping[str, Value],
    applied: AppliedRecord | None,
    mtime: float | None = None,
) -> RuntimeOverrides:
    """Compare-and-swap write: succeeds only if the file is still at ``expected_revision``.

    ``expected_revision=None`` creates the file and fails if it already exists. The new
    file has ``revision = expected + 1`` (0 when created). Values are validated first;
    nothing is written if anything is wrong. ``mtime``: the writer's clock (epoch seconds).
    """
    path = Path(path)
    good, problems = validate_runtime_values(dict(values), "values")
    if problems:
        raise RuntimeOverridesError("\n".join(f"{path}: refusing to write: {p}"
                                               for p in problems))
    with exclusive_lock(_lock_path(path), f"runtime overrides {path.name}", wait_s=10.0):
        if path.exists():
            current = read_runtime_overrides(path).revision
            if expected_revision != current:
                raise StaleRevisionError(str(path), -1 if expected_revision is None
                                         else expected_revision, current)
            revision = current + 1
        else:
            if expected_revision is not None:
                raise StaleRevisionError(str(path), expected_revision, -1)
            revision = 0
        doc = RuntimeOverrides(path, revision, base_profile, base_profile_sha256, good, applied)
        atomic_write_json(path, doc.to_json(), mtime=mtime)
    return doc
