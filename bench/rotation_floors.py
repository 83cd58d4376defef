"""The floors ``bench_rotation.py`` measures next to soakkit: what any Python implementation
of a dry run or of crash-safe compression in place must do at the least."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["DURABLE_CHILD", "FLOOR_CHILD", "SAME_OUTPUT_CHILD", "inplace_floor_parts"]

#: The floor of any Python process that lstat()s every file: os.scandir + DirEntry.stat,
#: in one or two (forked) processes. With ``print`` it also writes one line per file, as
#: long as a dry run's (``  would delete    <path>  <reason>``): the least a dry run does.
#: With ``numpy`` it imports numpy first: the floor of a design that plans in arrays.
FLOOR_CHILD = """
import os, sys
printing = "print" in sys.argv[3:]
if "numpy" in sys.argv[3:]:
    import numpy
def walk(top, lines):
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif printing:
                    lines.append(f"  would delete    {e.path[cut:]}  delete:beyond_keep_latest"
                                 f"(rank={st.st_size}/100)\\n")
root = sys.argv[1]
cut = len(root) + 1  # paths relative to the root, as a dry run prints them
lines = []
if sys.argv[2] == "2":
    runs = sorted(os.scandir(os.path.join(root, "runs")), key=lambda e: e.name)
    r, w = os.pipe()
    pid = os.fork()
    for e in runs[(pid == 0)::2]:
        walk(e.path, lines)
    if pid == 0:
        os.close(r)
        with os.fdopen(w, "w") as out:
            out.write("".join(lines))
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        theirs = pipe.read()
    os.waitpid(pid, 0)
    lines.append(theirs)
else:
    walk(root, lines)
sys.stdout.write("".join(lines))
"""

#: The floor of this dry run in Python: the least program that prints the very lines
#: ``soakkit rotate --dry-run`` prints for the benchmark's tree (200 ``runs/<run>`` folders of
#: ITER_SUMMARY files, no iteration log, the default policy: keep the 100 highest numbers,
#: compress at 7 days), byte for byte (``bench_rotation.py`` checks it). Two forked
#: processes each list, lstat, rank, decide and render half the folders; the child sends its
#: text back through a pipe; one write to stdout. No imports, no arrays, no summary lines.
SAME_OUTPUT_CHILD = """
import os, sys
from datetime import datetime
root, now_iso = sys.argv[1], sys.argv[2]
now_ns = int(datetime.fromisoformat(now_iso.replace("Z", "+00:00")).timestamp()) * 10**9
KEEP, TTL_NS, DAY_NS = 100, 7 * 86400 * 10**9, 86400 * 10**9
def plan(runs):
    out = []
    for run in runs:
        rel = f"runs/{run}/"
        fd = os.open(f"{root}/{rel}", os.O_RDONLY | os.O_DIRECTORY)
        files = []
        with os.scandir(fd) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                name = e.name
                if name.startswith("ITER_SUMMARY_") and name.endswith(".json"):
                    files.append((int(name[13:-5]), name, st.st_mtime_ns))
        os.close(fd)
        files.sort()
        cut = len(files) - KEEP
        deletes = "".join(f"  would delete    {rel}{name}  delete:beyond_keep_latest"
                          f"(rank={len(files) - i}/{KEEP})\\n"
                          for i, (_, name, _) in enumerate(files[:cut]))
        compress = "".join(f"  would compress  {rel}{name}  compress:older_than_ttl"
                           f"(age_d={(now_ns - m) / DAY_NS:.1f})\\n"
                           for _, name, m in files[cut:] if now_ns - m >= TTL_NS)
        preserve = (f"  would preserve  {rel}iterations.jsonl  history:preserve"
                    f"(iterations={cut})\\n") if cut > 0 else ""
        out.append((preserve, deletes, compress))
    return out
runs = sorted(os.listdir(f"{root}/runs"))
r, w = os.pipe()
pid = os.fork()
mine = plan(runs[(pid == 0)::2])
if pid == 0:
    os.close(r)
    with os.fdopen(w, "wb") as out:
        out.write("\\x00".join(p for parts in mine for p in parts).encode())
    os._exit(0)
os.close(w)
with os.fdopen(r, "rb") as pipe:
    flat = pipe.read().decode().split("\\x00")
os.waitpid(pid, 0)
merged = [None] * len(runs)
merged[0::2] = mine
merged[1::2] = [tuple(flat[i:i + 3]) for i in range(0, len(flat), 3)]
sys.stdout.write("".join("".join(p[k] for p in merged) for k in range(3)))
"""

#: The floor of any crash-safe compression: gzip in memory, write each output to a new
#: file, fsync each (write-back started first) and the folder per 256 files. With
#: ``inplace`` (``src`` is then a copy it may change) it also unlinks each batch's sources
#: and fsyncs the folder again: what compressing *in place* must do at the least.
DURABLE_CHILD = """
import ctypes, gzip, os, sys
src, dst, inplace = sys.argv[1], sys.argv[2], sys.argv[3] == "inplace"
os.mkdir(dst)
names = sorted(os.listdir(src))
blobs = [gzip.compress(open(os.path.join(src, n), "rb").read(), 6, mtime=0) for n in names]
libc = ctypes.CDLL(None, use_errno=True)
dfd = os.open(dst, os.O_RDONLY)
sfd = os.open(src, os.O_RDONLY)
for start in range(0, len(blobs), 256):
    fds = []
    for k, blob in enumerate(blobs[start:start + 256]):
        fd = os.open(os.path.join(dst, f"{start + k}.gz"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.write(fd, blob)
        fds.append(fd)
    for fd in fds:
        libc.sync_file_range(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), 2)
    for fd in fds:
        os.fsync(fd)
        os.close(fd)
    os.fsync(dfd)
    if inplace:
        for name in names[start:start + 256]:
            os.unlink(name, dir_fd=sfd)
        os.fsync(sfd)
"""


def inplace_floor_parts(template: Path, work: Path) -> dict[str, float]:
    """In-process split of the in-place floor (one core) on a copy of ``template``: read,
    gzip -6, create and write the outputs, fsync them (write-back started first), fsync the
    folder, unlink the sources, fsync their folder; seconds of each, in batches of 256."""
    import ctypes
    import gzip

    src, dst = work / "src", work / "dst"
    shutil.copytree(template, src)
    dst.mkdir()
    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    parts = dict.fromkeys(("read", "gzip6", "create_write", "fsync_outputs", "fsync_folder",
                           "unlink_sources", "fsync_source_folder"), 0.0)
    clock = time.perf_counter()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        parts[part] += now - clock
        clock = now

    names = sorted(os.listdir(src))
    datas = [(src / n).read_bytes() for n in names]
    lap("read")
    blobs = [gzip.compress(d, 6, mtime=0) for d in datas]
    lap("gzip6")
    dfd, sfd = os.open(dst, os.O_RDONLY), os.open(src, os.O_RDONLY)
    try:
        for start in range(0, len(blobs), 256):
            fds = []
            for k, blob in enumerate(blobs[start:start + 256]):
                fd = os.open(f"{start + k}.gz", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             dir_fd=dfd)
                os.write(fd, blob)
                fds.append(fd)
            lap("create_write")
            for fd in fds:
                libc.sync_file_range(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), 2)
            for fd in fds:
                os.fsync(fd)
                os.close(fd)
            lap("fsync_outputs")
            os.fsync(dfd)
            lap("fsync_folder")
            for name in names[start:start + 256]:
                os.unlink(name, dir_fd=sfd)
            lap("unlink_sources")
            os.fsync(sfd)
            lap("fsync_source_folder")
    finally:
        os.close(dfd)
        os.close(sfd)
    return parts
