"""What every benchmark shares: its command line and writing its measurements."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from soakkit.core.io import atomic_write_json


def save(path: Path | None, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` (``--out``) as canonical JSON, atomically; no-op for None."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, data)


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """A command line described by the benchmark's docstring, with ``--out FILE``."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the measurements here as JSON")
    return p
