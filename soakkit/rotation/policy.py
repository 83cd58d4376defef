"""Rotation policy: the arguments, their validation, and the constants of the rules.

Defaults are the legacy tool's (``--ttl-days 7``, ``--keep-latest 100``, no size budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soakkit.artifacts.layout import SWEEPS_DIR
from soakkit.core.errors import UsageError
from soakkit.core.inputs import choice_problem
from soakkit.core.json_canonical import JsonRecord

__all__ = [
    "FUTURE_TOLERANCE_S",
    "LOG_KEEP",
    "LOG_MAX_BYTES",
    "PROTECTED_DIRS",
    "PROTECTED_NAMES",
    "ROTATION_DIR",
    "RotationPolicy",
]

ROTATION_DIR = "rotation"
LOG_FILE = "ROTATION_LOG.jsonl"
MANIFEST_FILE = "MANIFEST.jsonl"
LOCK_FILE = ".lock"
TMP_SUFFIX = ".soakkit-tmp"
#: Files never touched, wherever they are.
PROTECTED_NAMES: frozenset[str] = frozenset({"runtime_overrides.json", "RUN.json",
                                             "TUNING_REPORT.json"})
#: Top-level folders never touched (rotation's own state, user profiles, sweep results).
PROTECTED_DIRS: frozenset[str] = frozenset({ROTATION_DIR, "profiles", SWEEPS_DIR})
#: A file whose mtime is this far in the future is never compressed or deleted.
FUTURE_TOLERANCE_S = 300.0
#: ROTATION_LOG.jsonl rotates itself when it grows past this; older generations kept.
LOG_MAX_BYTES = 4 * 1024 * 1024
LOG_KEEP = 3
MAX_KEEP_LATEST = 10**9
CODECS = ("gzip", "zstd")


@dataclass(frozen=True)
class RotationPolicy(JsonRecord):
    """What one rotation does (mirrors ``soakkit rotate``'s flags)."""

    keep_latest: int = 100
    ttl_days: float = 7.0
    max_size_mb: float | None = None
    allow_delete_all: bool = False
    delete_to_budget: bool = False
    codec: str = "gzip"
    level: int | None = None  #: codec level; gzip 6 and zstd 3 by default

    @property
    def ttl_s(self) -> float:
        return self.ttl_days * 86_400.0

    @property
    def budget_bytes(self) -> int | None:
        """The budget in bytes (MiB, as the legacy ``size_mb``), or ``None``."""
        return None if self.max_size_mb is None else int(self.max_size_mb * 1024 * 1024)

    @property
    def codec_level(self) -> int:
        if self.level is not None:
            return self.level
        return 6 if self.codec == "gzip" else 3

    def validate(self) -> RotationPolicy:
        """Raise :class:`UsageError` (one line naming the flag) for a bad policy."""
        if isinstance(self.keep_latest, bool) or not isinstance(self.keep_latest, int):
            raise UsageError(f"--keep-latest {self.keep_latest!r}: expected an integer")
        if self.keep_latest < 0 or self.keep_latest > MAX_KEEP_LATEST:
            raise UsageError(f"--keep-latest {self.keep_latest}: expected 1..{MAX_KEEP_LATEST}")
        if self.keep_latest == 0 and not self.allow_delete_all:
            raise UsageError("--keep-latest 0 deletes every ITER_SUMMARY; add "
                             "--allow-delete-all if that is really what you want")
        if not math.isfinite(self.ttl_days) or self.ttl_days < 0:
            raise UsageError(f"--ttl-days {self.ttl_days}: expected a finite number >= 0")
        if self.max_size_mb is not None and (not math.isfinite(self.max_size_mb)
                                             or self.max_size_mb <= 0):
            raise UsageError(f"--max-size-mb {self.max_size_mb}: expected a finite number > 0 "
                             "(leave it out for no budget)")
        if self.delete_to_budget and self.max_size_mb is None:
            raise UsageError("--delete-to-budget needs --max-size-mb")
        if self.codec not in CODECS:
            raise UsageError(str(choice_problem("--codec", self.codec, CODECS)))
        if self.codec == "zstd":
            try:
                import zstandard  # noqa: F401
            except ImportError:
                raise UsageError("--codec zstd needs the optional dependency: "
                                 "pip install 'soakkit[zstd]'") from None
        if self.level is not None and not 1 <= self.level <= (9 if self.codec == "gzip" else 19):
            raise UsageError(f"--level {self.level}: out of range for {self.codec}")
        return self

    def to_json(self) -> dict[str, Any]:
        """Every field, with the codec level in effect (``level``: its default when unset)."""
        return {**super().to_json(), "level": self.codec_level}


def now_epoch(now: datetime) -> float:
    """Seconds since the epoch of a timezone-aware instant."""
    return now.timestamp()
