"""``soakkit rotate restore <file|run>``: decompress back and prove the hash.

The compression protocol in reverse, under the rotation lock: the compressed file must
match the manifest's sha256 (else it is corrupt and nothing is restored); it is
decompressed into a temp file, whose sha256 and length must equal the original's; the
original name is published without clobbering (an existing file with a different hash is
never overwritten), gets its original mtime back, and only then is the compressed file
removed (kept with ``keep=True``). Plain ``gunzip -k`` works on every file too.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from soakkit.artifacts.layout import RUNS_DIR
from soakkit.core.errors import ExitCode, RotationError, os_reason
from soakkit.core.locks import exclusive_lock
from soakkit.rotation.codec import EXTENSIONS, codec_of, decompress_bytes
from soakkit.rotation.compress import temp_name
from soakkit.rotation.log import ensure_rotation_dir, read_manifest
from soakkit.rotation.policy import LOCK_FILE
from soakkit.rotation.scan import DIR_FLAGS, check_root, open_dir

__all__ = ["RestoreResult", "restore"]


@dataclass
class RestoreResult:
    """What was restored (relative paths) and what was refused, with reasons."""

    restored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return ExitCode.FAILED if self.errors else ExitCode.OK


def _targets(root: Path, target: str, manifest: dict[str, dict[str, object]]) -> list[str]:
    """Manifest keys (compressed relative paths) selected by ``target``."""
    run_dir = root / RUNS_DIR / target
    if "/" not in target and run_dir.is_dir() and not run_dir.is_symlink():
        prefix = f"{RUNS_DIR}/{target}/"
        return sorted(k for k in manifest if k.startswith(prefix))
    path = Path(target)
    absolute = path if path.is_absolute() else (Path.cwd() / path)
    try:
        rel = absolute.resolve(strict=False).relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.as_posix()
    if rel.startswith("../") or rel == "..":
        raise RotationError(f"{target}: outside --artifacts {root}")
    if rel in manifest:
        return [rel]
    matches = [k for k, v in manifest.items() if v.get("path") == rel]
    if not matches:
        raise RotationError(f"{target}: not in the rotation manifest "
                            f"({root}/rotation/MANIFEST.jsonl); nothing to restore")
    return matches


def _restore_one(root_fd: int, key: str, entry: dict[str, object], keep: bool) -> str | None:
    rel, _, cname = key.rpartition("/")
    original = str(entry["path"]).rpartition("/")[2]
    fd = open_dir(root_fd, rel, os.fstat(root_fd).st_dev)
    try:
        try:
            raw_fd = os.open(cname, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            return f"{key}: compressed file missing"
        with os.fdopen(raw_fd, "rb") as fh:
            raw = fh.read()
        if hashlib.sha256(raw).hexdigest() != entry.get("compressed_sha256"):
            return f"{key}: sha256 differs from the manifest (corrupted); not restored"
        try:
            data = decompress_bytes(raw, cname)
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError):
            return f"{key}: does not decompress (corrupted); not restored"
        if hashlib.sha256(data).hexdigest() != entry.get("sha256") or \
                len(data) != entry.get("size"):
            return f"{key}: decompressed content differs from the manifest; not restored"
        try:
            st = os.stat(original, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None:
            with os.fdopen(os.open(original, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd),
                           "rb") as fh:
                same = hashlib.sha256(fh.read()).hexdigest() == entry["sha256"]
            if not same:
                return f"{key}: {original} exists with different content; refusing to overwrite"
        else:
            tmp = temp_name(original)
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                          dir_fd=fd)
            try:
                with os.fdopen(out, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                mtime = int(entry.get("mtime_ns", 0))  # type: ignore[call-overload]
                os.utime(tmp, ns=(mtime, mtime), dir_fd=fd, follow_symlinks=False)
                os.link(tmp, original, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=fd)
            os.fsync(fd)
        if not keep:
            os.unlink(cname, dir_fd=fd)
            os.fsync(fd)
        return None
    except OSError as exc:
        return f"{key}: {os_reason(exc)}"
    finally:
        os.close(fd)


def restore(root: Path, target: str, *, keep: bool = False, wait_lock: float = 0.0
            ) -> RestoreResult:
    """Restore one compressed file (by either name) or every compressed file of a run."""
    root = Path(root)
    check_root(root)
    folder = ensure_rotation_dir(root)
    result = RestoreResult()
    with exclusive_lock(folder / LOCK_FILE, f"rotation of {root}", wait_s=wait_lock):
        manifest = read_manifest(folder)
        keys = _targets(root, target, manifest)
        root_fd = os.open(root, DIR_FLAGS)
        try:
            for key in keys:
                if codec_of(key) not in EXTENSIONS:
                    continue
                problem = _restore_one(root_fd, key, manifest[key], keep)
                if problem:
                    result.errors.append(problem)
                else:
                    result.restored.append(str(manifest[key]["path"]))
        finally:
            os.close(root_fd)
    return result
