"""Crash-safe compression (C1–C9), restore, and kill -9 at random points of a rotation."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from soakkit.artifacts.iterlog import preserved_documents
from soakkit.rotation import RotationPolicy, rotate, syscalls
from soakkit.rotation import compress as compress_module

from .rotation_helpers import NOW, assert_nothing_lost, make_tree, sha, write

POLICY = RotationPolicy(keep_latest=5, ttl_days=7.0)


def _compress_one(tmp_path: Path, data: bytes = b'{"a": 1}' * 200) -> tuple[Path, dict]:  # type: ignore[type-arg]
    path = tmp_path / "snapshots/s.json"
    write(path, data, 30)
    result = rotate(tmp_path, POLICY, now=NOW)
    action = next(a for a in result.record["actions"] if a["path"] == "snapshots/s.json")
    return path, action


def test_compression_is_verified_manifested_and_readable_with_gzip(tmp_path: Path) -> None:
    data = b'{"a": 1}' * 200
    path, action = _compress_one(tmp_path, data)
    assert action["result"] == "done"
    gz = path.with_name("s.json.gz")
    assert gzip.decompress(gz.read_bytes()) == data and not path.exists()
    assert subprocess.run(["gzip", "-t", str(gz)], check=False).returncode == 0
    assert gz.stat().st_mtime_ns == int((NOW.timestamp() - 30 * 86400) * 1e9) // 1000 * 1000
    entry = json.loads((tmp_path / "rotation/MANIFEST.jsonl").read_text())
    assert entry["sha256"] == sha(data) and entry["compressed_sha256"] == sha(gz.read_bytes())
    assert entry["path"] == "snapshots/s.json" and entry["compressed"] == "snapshots/s.json.gz"


def test_c1_file_appended_while_compressing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snapshots/s.json"
    write(path, b"x" * 300_000, 30)

    def append(stage: str, name: str) -> None:
        if stage == "tmp_synced":
            with open(path, "ab") as fh:
                fh.write(b"more")

    monkeypatch.setattr(compress_module, "checkpoint", append)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.record["actions"][0]["result"] == "skipped:modified_during_compress"
    assert path.read_bytes().endswith(b"more") and not path.with_name("s.json.gz").exists()
    assert [p for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_c2_file_removed_while_compressing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snapshots/s.json"
    write(path, b"x" * 3000, 30)
    monkeypatch.setattr(compress_module, "checkpoint",
                        lambda stage, name: path.unlink() if stage == "verified" else None)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.record["actions"][0]["result"] == "skipped:modified_during_compress"
    assert list(path.parent.iterdir()) == []


def test_c4_disk_full_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "snapshots/s.json"
    write(path, b"x" * 3000, 30)

    def full(stage: str, name: str) -> None:
        if stage == "writing":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compress_module, "checkpoint", full)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.exit_code == 1 and result.record["actions"][0]["result"] == "error:ENOSPC"
    assert path.read_bytes() == b"x" * 3000 and sorted(os.listdir(path.parent)) == ["s.json"]
    monkeypatch.undo()
    assert rotate(tmp_path, POLICY, now=NOW).exit_code == 0  # the next run retries
    assert path.with_name("s.json.gz").exists()


@pytest.mark.parametrize("durable_by", ["syncfs_fails", "no_syncfs"])
def test_c5_fsync_failure_keeps_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           durable_by: str) -> None:
    """A temp that cannot be made durable: its file's error, the source kept, whether the
    batch's ``syncfs`` failed first or the kernel has no syncfs that reports errors."""
    path = tmp_path / "snapshots/s.json"
    write(path, b"x" * 3000, 30)
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".soakkit-tmp"):  # the temp file
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    def failing_syncfs(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(compress_module.os, "fsync", failing)
    if durable_by == "syncfs_fails":
        monkeypatch.setattr(compress_module, "syncfs_covers", lambda fd: True)
        monkeypatch.setattr(compress_module, "syncfs", failing_syncfs)
    else:
        monkeypatch.setattr(compress_module, "syncfs_covers", lambda fd: False)
        monkeypatch.setattr(compress_module, "syncfs", None)  # never called
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.record["actions"][0]["result"] == "error:EIO"
    assert path.exists() and sorted(os.listdir(path.parent)) == ["s.json"]


def test_c5_failed_syncfs_falls_back_to_an_fsync_per_temp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``syncfs`` failing (another file's write-back, say) costs an fsync per temp, not the
    batch: every temp whose own fsync succeeds is published; a working ``syncfs`` is the
    only sync of the temps."""
    for k in range(3):
        write(tmp_path / f"snapshots/s{k}.json", b"x" * 3000, 30)
    synced: list[str] = []
    real_fsync = os.fsync

    def counting(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def failing_syncfs(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(compress_module.os, "fsync", counting)
    monkeypatch.setattr(compress_module, "syncfs_covers", lambda fd: True)
    monkeypatch.setattr(compress_module, "syncfs", failing_syncfs)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert [a["result"] for a in result.record["actions"]] == ["done"] * 3
    assert sum(name.endswith(".soakkit-tmp") for name in synced) == 3
    monkeypatch.undo()
    for k in range(3):
        write(tmp_path / f"more/s{k}.json", b"y" * 3000, 30)
    synced.clear()
    monkeypatch.setattr(compress_module.os, "fsync", counting)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert [a["result"] for a in result.record["actions"]] == ["done"] * 3
    temps_synced = sum(name.endswith(".soakkit-tmp") for name in synced)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        covered = syscalls.syncfs_covers(fd)
    finally:
        os.close(fd)
    assert temps_synced == (0 if covered else 3)


def test_c6_destination_already_exists(tmp_path: Path) -> None:
    same = tmp_path / "snapshots/same.json"
    other = tmp_path / "snapshots/other.json"
    write(same, b"A" * 4000, 30)
    write(other, b"B" * 4000, 30)
    write(tmp_path / "snapshots/same.json.gz", gzip.compress(b"A" * 4000), 30)
    write(tmp_path / "snapshots/other.json.gz", gzip.compress(b"C" * 4000), 30)
    result = rotate(tmp_path, POLICY, now=NOW)
    got = {a["path"]: (a["reason"], a["result"]) for a in result.record["actions"]}
    assert got["snapshots/same.json"] == ("recover:finish_compression", "done")
    assert got["snapshots/other.json"][1] == "error:compressed_copy_differs(kept both)"
    assert not same.exists() and other.exists()
    assert result.exit_code == 1


def test_c7_unreadable_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "snapshots/locked.json", b"x" * 3000, 30)
    write(tmp_path / "snapshots/fine.json", b"y" * 3000, 30)
    real_open = os.open

    def deny(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path == "locked.json":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(compress_module.os, "open", deny)
    result = rotate(tmp_path, POLICY, now=NOW)
    got = {a["path"]: a["result"] for a in result.record["actions"]}
    assert got == {"snapshots/fine.json": "done", "snapshots/locked.json": "error:EACCES"}
    assert result.exit_code == 1


def test_c8_incompressible_and_empty_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    write(tmp_path / "snapshots/noise.bin", rng.bytes(5000), 30)
    write(tmp_path / "snapshots/empty.json", b"", 30)
    result = rotate(tmp_path, POLICY, now=NOW)
    got = {a["path"]: a["result"] for a in result.record["actions"]}
    assert got == {"snapshots/noise.bin": "skipped:incompressible"}
    assert result.record["kept"]["keep:empty"] == 1
    assert sorted(os.listdir(tmp_path / "snapshots")) == ["empty.json", "noise.bin"]


def test_restore_file_and_run_prove_the_hash(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    originals = make_tree(tmp_path, runs={"runs/r1": 8}, snapshots=4)
    rotate(tmp_path, RotationPolicy(keep_latest=10, ttl_days=2.0), now=NOW)
    assert (tmp_path / "runs/r1/ITER_SUMMARY_1.json.gz").exists()
    out = cli("rotate", "restore", "snapshots/snap_3.json", "--path", str(tmp_path))
    assert out.code == 0, out.err  # either name works; relative to the cwd or to --path
    assert (tmp_path / "snapshots/snap_3.json").read_bytes() == originals["snapshots/snap_3.json"]
    assert not (tmp_path / "snapshots/snap_3.json.gz").exists()
    out = cli("rotate", "restore", "r1", "--path", str(tmp_path), "--keep")
    assert out.code == 0 and out.out.count("restored") == 4
    for n in (1, 2, 3, 4):
        rel = f"runs/r1/ITER_SUMMARY_{n}.json"
        assert (tmp_path / rel).read_bytes() == originals[rel]
        assert (tmp_path / (rel + ".gz")).exists()  # --keep


def test_c9_corrupted_compressed_file_is_not_restored(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    make_tree(tmp_path, runs={}, snapshots=4)
    rotate(tmp_path, POLICY, now=NOW)
    gz = tmp_path / "snapshots/snap_3.json.gz"
    data = bytearray(gz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    gz.write_bytes(bytes(data))
    out = cli("rotate", "restore", str(gz), "--path", str(tmp_path))
    assert out.code == 1 and "corrupted" in out.err
    assert not (tmp_path / "snapshots/snap_3.json").exists() and gz.exists()
    write(tmp_path / "snapshots/snap_2.json", b"someone else's file", 1)
    out = cli("rotate", "restore", "snapshots/snap_2.json.gz", "--path", str(tmp_path))
    assert out.code == 1 and "refusing to overwrite" in out.err
    assert (tmp_path / "snapshots/snap_2.json").read_bytes() == b"someone else's file"
    out = cli("rotate", "restore", "snapshots/nope.json", "--path", str(tmp_path))
    assert out.code == 1 and "not in the rotation manifest" in out.err


_DRIVER = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from soakkit.rotation import RotationPolicy, rotate
    from soakkit.rotation import compress
    root, stage, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = {"n": 0}

    def hit():
        calls["n"] += 1
        if calls["n"] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    if stage == "unlink":
        real_unlink = os.unlink
        def unlink(*a, **k):
            hit()
            return real_unlink(*a, **k)
        os.unlink = unlink
    elif stage != "none":
        def checkpoint(s, name):
            if s == stage:
                hit()
        compress.checkpoint = checkpoint
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    rotate(Path(root), RotationPolicy(keep_latest=5, ttl_days=7.0), now=now, jobs=1)
""")


def _driver(tmp_path: Path) -> Path:
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    return script


@pytest.mark.parametrize("stage", ["writing", "tmp_synced", "verified", "linked", "published",
                                   "unlink"])
@pytest.mark.parametrize("nth", [1, 3])
def test_c3_kill_at_each_stage_then_rerun_converges(tmp_path: Path, stage: str, nth: int) -> None:
    root = tmp_path / "tree"
    originals = make_tree(root)
    proc = subprocess.run([sys.executable, str(_driver(tmp_path)), str(root), stage, str(nth)],
                          check=False, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    result = rotate(root, POLICY, now=NOW)
    assert result.exit_code == 0, result.record["errors"]
    assert_nothing_lost(root, originals)
    again = rotate(root, POLICY, now=NOW)
    assert [a for a in again.record["actions"] if a["phase"] != "skip"] == []


@pytest.mark.slow
def test_kill_9_at_random_moments_many_times(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    script = _driver(tmp_path)
    root = tmp_path / "tree"
    originals = make_tree(root, runs={"runs/r1": 60, "runs/r2": 40, "latest": 30}, snapshots=30)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(root), "none", "0"], check=True)
    full = time.perf_counter() - start
    killed = 0
    for _ in range(24):
        root = tmp_path / f"tree{killed}"
        originals = make_tree(root, runs={"runs/r1": 60, "runs/r2": 40, "latest": 30},
                              snapshots=30)
        proc = subprocess.Popen([sys.executable, str(script), str(root), "none", "0"])
        time.sleep(float(rng.uniform(0.0, full)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        result = rotate(root, POLICY, now=NOW)
        assert result.exit_code == 0, result.record["errors"]
        assert_nothing_lost(root, originals)
    assert killed >= 12  # most kills landed while the rotation was running


_LOOP_DRIVER = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from soakkit.rotation import RotationPolicy, rotate
    from soakkit.rotation import compress
    root, day, stage, nth = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    compress.BATCH_FILES = 16  # many batch boundaries in one day's work
    compress.PARALLEL_MIN_FILES = 8  # and the second process in most batches
    calls = {"n": 0}

    def hit():
        calls["n"] += 1
        if calls["n"] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(name):
        real = getattr(os, name)
        def call(*a, **k):
            hit()
            return real(*a, **k)
        setattr(os, name, call)

    if stage in ("unlink", "fsync", "write"):
        wrap(stage)
    elif stage in ("link", "syncfs"):  # publishing a temp (renameat2), syncing the temps
        real = getattr(compress, {"link": "rename_noreplace", "syncfs": "syncfs"}[stage])
        def killing(*a, **k):
            hit()
            return real(*a, **k)
        setattr(compress, {"link": "rename_noreplace", "syncfs": "syncfs"}[stage], killing)
    elif stage != "time":
        compress.checkpoint = lambda s, name: hit() if s == stage else None
    now = datetime(2026, 11, 24, 12, tzinfo=UTC) + timedelta(days=day)
    print("go", flush=True)
    rotate(Path(root), RotationPolicy(keep_latest=5, ttl_days=7.0), now=now, jobs=2)
""")
_STAGES = ("time", "time", "time", "writing", "tmp_synced", "verified", "linked", "published",
           "unlink", "fsync", "link", "write", "syncfs")


def _crash_tree(root: Path, per_day: int) -> dict[str, bytes]:
    """5,000 files: 3 folders of 100 ITER_SUMMARY and 4,700 snapshots turning 7 days old
    ``per_day`` at a time as the injected clock advances a day per rotation."""
    originals = make_tree(root, runs={"runs/r1": 100, "runs/r2": 100, "latest": 100},
                          snapshots=0)
    for k in range(4700):
        rel = f"snapshots/d{k // 500}/snap_{k}.json"
        data = json.dumps({"k": k, "v": "y" * (300 + k % 700)}).encode()
        write(root / rel, data, 7.0 - (k // per_day) - 0.5)
        originals[rel] = data
    return originals


def _assert_exactly_one(root: Path, originals: dict[str, bytes], where: object) -> None:
    """Each original: exactly one of itself or its compressed copy, with its exact bytes, or
    (a deleted ITER_SUMMARY) its exact content in the run's log; no temp file anywhere."""
    listing = {os.path.relpath(d, root): set(names) for d, _, names in os.walk(root)}
    temps = [n for names in listing.values() for n in names if n.endswith(".soakkit-tmp")]
    assert temps == [], (where, temps)
    logged: dict[str, dict[int, object]] = {}
    for rel, data in originals.items():
        folder, name = os.path.split(rel)
        names = listing.get(folder, set())
        plain, packed = name in names, name + ".gz" in names
        assert not (plain and packed), (where, rel, "both")
        if plain:
            assert (root / rel).read_bytes() == data, (where, rel)
        elif packed:
            assert gzip.decompress((root / (rel + ".gz")).read_bytes()) == data, (where, rel)
        else:
            if folder not in logged:
                logged[folder] = preserved_documents(root / folder)  # type: ignore[assignment]
            n = int(name.split("_")[-1].split(".")[0])
            assert logged[folder].get(n) == json.loads(data), (where, rel, "lost")


@pytest.mark.slow
def test_kill_9_loop_100_times_on_a_5000_file_tree(tmp_path: Path) -> None:
    """Each day a rotation (two processes, small batches) is killed at a random moment or
    protocol step; the next rotation recovers; exactly one of source or compressed copy
    remains with the original's hash, iterations are in the log, and no temp is left."""
    rng = np.random.default_rng(14)
    script = tmp_path / "loop_driver.py"
    script.write_text(_LOOP_DRIVER)
    root = tmp_path / "tree"
    originals = _crash_tree(root, per_day=36)
    assert len(originals) == 5000 + 7  # + RUN.json etc. of the two runs, a profile
    killed = day = 0
    while killed < 100 and day < 200:  # a kill can miss (the rotation finished first)
        day += 1
        stage = str(rng.choice(_STAGES))
        nth = int(rng.integers(1, 30))
        proc = subprocess.Popen([sys.executable, str(script), str(root), str(day), stage,
                                 str(nth)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        with proc.stdout:
            assert proc.stdout.readline() == b"go\n"
            if stage == "time":
                time.sleep(float(rng.uniform(0.0, 0.05)))  # inside even a day with little to do
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        # recovers and finishes; a forked worker of the killed rotation may not yet have
        # run far enough to drop its copy of the lock, so wait for it as an operator would
        result = rotate(root, POLICY, now=NOW + timedelta(days=day), wait_lock=60.0)
        assert result.exit_code == 0, (day, stage, result.record["errors"])
        _assert_exactly_one(root, originals, (day, stage, nth))
        if day % 10 == 0:
            assert_nothing_lost(root, originals)  # the shared helper, now and then
    compressed = sum(1 for rel in originals if not (root / rel).exists())
    assert killed >= 100 and compressed >= 3500, (killed, day, compressed)
