"""The life of a report folder: ``.partial`` while written, then final or ``.failed``; pruning.

``<out>/<day>/<name>-<run_id>.partial`` is created and locked (``flock`` on the folder, which
follows renames) by the process that writes it. It ends as ``<name>-<run_id>`` (good) or
``<name>-<run_id>.failed`` (failed, timed out, interrupted: ``manifest.json`` says why).
No ``.partial`` folder outlives its writer: every report run first renames the ``.partial``
folders whose writer is gone (killed, or the machine rebooted) to ``.failed`` with the
reason ``abandoned``. Failed folders are pruned: the newest :data:`FAILED_KEEP` of each
report name are kept (for the post-mortem), older ones are removed. Good reports are never
pruned here.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from soakkit.core.errors import SoakkitError, fs_errors
from soakkit.core.io import atomic_write_json, fsync_dir
from soakkit.core.json_strict import load_json_file
from soakkit.core.locks import folder_lock, is_locked

__all__ = ["FAILED_KEEP", "FAILED_SUFFIX", "PARTIAL_SUFFIX", "create_partial",
           "failed_folder", "mark_failed", "prune_failed", "sweep_abandoned"]

PARTIAL_SUFFIX = ".partial"
FAILED_SUFFIX = ".failed"
#: Failed report folders kept per report name (the newest); older ones are removed.
FAILED_KEEP = 5
MANIFEST = "manifest.json"
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FOLDER_RE = re.compile(r"^(?P<name>.+?)-\d{8}T\d{6}Z-")


def failed_folder(final: Path) -> Path:
    """Where a failed report of ``final`` goes (``<final>.failed``)."""
    return final.with_name(final.name + FAILED_SUFFIX)


@contextlib.contextmanager
def create_partial(final: Path) -> Iterator[Path]:
    """Create ``<final>.partial`` and hold its lock while the ``with`` body writes it."""
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    with fs_errors(partial, "cannot create the report folder"):
        partial.mkdir()
    with folder_lock(partial):
        yield partial


def _day_folders(out: Path) -> list[Path]:
    try:
        return sorted(p for p in Path(out).iterdir() if p.is_dir() and _DAY_RE.fullmatch(p.name))
    except OSError:
        return []


def _children(day: Path, suffix: str) -> list[Path]:
    try:
        return sorted(p for p in day.iterdir() if p.name.endswith(suffix) and p.is_dir()
                      and not p.is_symlink())
    except OSError:
        return []


def mark_failed(partial: Path, status: str, reason: str,
                manifest: Mapping[str, Any] | None = None) -> Path:
    """Rename ``partial`` to ``.failed`` with a ``manifest.json`` saying why (``status``)."""
    final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    doc: dict[str, Any] = dict(manifest or {})
    if not doc:
        with contextlib.suppress(SoakkitError, OSError):
            doc = dict(load_json_file(partial / MANIFEST))
    match = _FOLDER_RE.match(final.name)
    doc.setdefault("name", match.group("name") if match else final.name)
    doc.update(status=status, error={"cell_index": None, "ename": status, "evalue": reason})
    atomic_write_json(partial / MANIFEST, doc)
    done = failed_folder(final)
    k = 1
    while done.exists():  # never replace an earlier failed folder
        k += 1
        done = failed_folder(final.with_name(f"{final.name}-{k}"))
    partial.rename(done)
    fsync_dir(partial.parent)
    return done


def sweep_abandoned(out: Path) -> list[Path]:
    """Rename every ``.partial`` folder whose writer is gone to ``.failed`` (``abandoned``)."""
    done = []
    for day in _day_folders(out):
        for partial in _children(day, PARTIAL_SUFFIX):
            if is_locked(partial):
                continue
            with contextlib.suppress(OSError):
                done.append(mark_failed(partial, "abandoned", "the process writing this "
                                         "report stopped before it finished (killed, or the "
                                         "machine restarted)"))
    return done


def prune_failed(out: Path, keep: int = FAILED_KEEP) -> list[Path]:
    """Remove all but the newest ``keep`` ``.failed`` folders of each report name."""
    by_name: dict[str, list[tuple[str, str, Path]]] = {}
    for day in _day_folders(out):
        for folder in _children(day, FAILED_SUFFIX):
            match = _FOLDER_RE.match(folder.name)
            name = match.group("name") if match else folder.name
            by_name.setdefault(name, []).append((day.name, folder.name, folder))
    removed = []
    for folders in by_name.values():
        for _, _, folder in sorted(folders, reverse=True)[keep:]:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def update_latest(out: Path, name: str, folder: Path) -> None:
    """Point ``<out>/latest/<name>`` at ``folder`` (a symlink, replaced atomically)."""
    latest = out / "latest"
    latest.mkdir(exist_ok=True)
    link = latest / name
    tmp = latest / f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(folder, latest))
    tmp.replace(link)
    fsync_dir(latest)
