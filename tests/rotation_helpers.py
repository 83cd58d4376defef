"""Build artifact trees for rotation tests and check what survives."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soakkit.artifacts.iterlog import preserved_documents

#: The injected clock of rotation tests; every file they create is aged against it.
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
NOW_ISO = "2026-11-24T12:00:00Z"
DAY = 86_400.0


def stamp(path: Path, age_days: float) -> None:
    """Set ``path``'s mtime to ``age_days`` before the injected clock :data:`NOW`."""
    t = NOW.timestamp() - age_days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


def write(path: Path, data: bytes, age_days: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp(path, age_days)


def iter_doc(run: str, n: int) -> bytes:
    doc = {"iteration": n, "run_id": run, "summary": {"net_bps": 2.0 + n / 100,
                                                       "risk_ratio": 0.3, "padding": "x" * 600}}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def make_tree(root: Path, runs: dict[str, int] | None = None, snapshots: int = 6,
              reverse: bool = False) -> dict[str, bytes]:
    """A soak tree: runs with ITER_SUMMARY 1..n (older iterations older), legacy latest/,
    snapshots of mixed ages, protected files. Returns {relative path: original bytes}."""
    runs = {"runs/r1": 30, "runs/r2": 8, "latest": 12} if runs is None else runs
    files: list[tuple[str, bytes, float]] = []
    for folder, count in runs.items():
        for n in range(1, count + 1):
            files.append((f"{folder}/ITER_SUMMARY_{n}.json", iter_doc(folder, n),
                          (count - n) * 0.5 + 0.1))
        if folder.startswith("runs/"):
            files.append((f"{folder}/RUN.json", b'{"run_id": "x"}\n', 40.0))
            files.append((f"{folder}/runtime_overrides.json", b"{}\n", 40.0))
            files.append((f"{folder}/TUNING_REPORT.json", b"{}\n", 40.0))
    for k in range(snapshots):
        files.append((f"snapshots/snap_{k}.json", json.dumps({"k": k, "v": "y" * 800}).encode(),
                      2.0 + 3.0 * k))
    files.append(("profiles/mine.json", b'{"schema_version": 1, "params": {}}', 90.0))
    for rel, data, age in (reversed(files) if reverse else files):
        write(root / rel, data, age)
    return {rel: data for rel, data, _ in files}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root (no following) → (size, mtime_ns)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


def assert_nothing_lost(root: Path, originals: dict[str, bytes]) -> None:
    """Every original is present as itself, compressed with the same bytes, or in the run's
    iteration log (or a legacy history) with exactly its content."""
    histories: dict[str, dict[int, dict[str, Any]]] = {}
    for rel, data in originals.items():
        path = root / rel
        if path.is_file():
            assert sha(path.read_bytes()) == sha(data), rel
            continue
        gz = path.with_name(path.name + ".gz")
        if gz.is_file():
            assert sha(gzip.decompress(gz.read_bytes())) == sha(data), rel
            continue
        folder = str(path.parent)
        if folder not in histories:
            histories[folder] = preserved_documents(path.parent)
        n = int(path.name.split("_")[-1].split(".")[0])
        assert histories[folder].get(n) == json.loads(data), f"{rel} lost"
    temps = [p for p in root.rglob("*") if p.name.endswith(".soakkit-tmp")]
    assert temps == [], temps
