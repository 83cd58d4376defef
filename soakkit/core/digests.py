"""Digests: sha256 of bytes, of a file, and the signature of a JSON-able value."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from soakkit.core.json_canonical import canonical_json

__all__ = ["sha256_bytes", "sha256_file", "signature"]


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def signature(obj: Any) -> str:
    """sha256 over the canonical compact JSON of ``obj`` (stable across processes)."""
    return sha256_bytes(canonical_json(obj, compact=True).encode("ascii"))
