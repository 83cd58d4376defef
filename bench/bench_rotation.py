"""Rotation speed: planning a 200,000-file tree next to `find`, and compression next to `gzip -6`.

* planning – ``plan_rotation`` (one scan + the planner, in a fresh process, as
  ``soakkit rotate --dry-run`` runs it) against
  ``find TREE -type f -mtime +7 > /dev/null`` on the same tree in the same run; peak RSS of
  the planning process. Tree: 200 run folders × 1,000 ``ITER_SUMMARY_<n>.json``, mtimes
  spread over 30 days (seeded).
* compression – a real rotation compressing ``--files`` ITER_SUMMARY-sized JSON documents
  (crash-safe protocol: temp file, fsync, verify, manifest, unlink) in MB/s, against
  ``gzip -6 -k`` on copies of the same files, and against zstd level 3 in-process.

    python bench/bench_rotation.py --files 200000 --reps 3 --out bench/out/rotation.json
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

PLAN_CHILD = """
import os, sys, time
os.environ["OPENBLAS_NUM_THREADS"] = "1"
from datetime import UTC, datetime
from pathlib import Path
from soakkit.rotation import RotationPolicy, plan_rotation
start = time.perf_counter()
plan = plan_rotation(Path(sys.argv[1]), RotationPolicy(), datetime.now(UTC), jobs=int(sys.argv[2]))
print(time.perf_counter() - start, plan.before.files)
"""


def make_tree(root: Path, files: int, per_dir: int = 1000) -> None:
    rng = np.random.default_rng(1)
    now = time.time()
    ages = rng.uniform(0, 30 * 86400, size=files)
    body = b'{"iteration": 1, "summary": {"net_bps": 2.0}}\n'
    for k in range(files):
        folder = root / "runs" / f"run{k // per_dir:04d}"
        if k % per_dir == 0:
            folder.mkdir(parents=True)
        path = folder / f"ITER_SUMMARY_{k % per_dir + 1}.json"
        path.write_bytes(body)
        t = now - ages[k]
        os.utime(path, (t, t))


def timed(cmd: list[str], **kw: Any) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed")
    out = proc.stdout.read().decode() if proc.stdout else ""
    return wall, usage.ru_maxrss, out


def planning(files: int, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        start = time.perf_counter()
        make_tree(tree, files)
        created = time.perf_counter() - start
        os.sync()  # no writeback in flight while measuring
        finds, plans, plans1, rss = [], [], [], []
        child = [sys.executable, "-c", PLAN_CHILD, str(tree)]
        timed(["find", str(tree), "-type", "f", "-mtime", "+7"], stdout=subprocess.DEVNULL)
        subprocess.run([*child, "2"], capture_output=True, check=True)  # warm both up once
        for _ in range(reps):
            finds.append(timed(["find", str(tree), "-type", "f", "-mtime", "+7"],
                               stdout=subprocess.DEVNULL)[0])
            _, peak, out = timed([*child, "2"], stdout=subprocess.PIPE)
            plans.append(float(out.split()[0]))
            rss.append(peak)
            plans1.append(float(timed([*child, "1"], stdout=subprocess.PIPE)[2].split()[0]))
        find, plan = statistics.median(finds), statistics.median(plans)
        return {"files": files, "tree_creation_s": created, "find_s": find, "plan_s": plan,
                "plan_over_find": plan / find, "plan_one_process_s": statistics.median(plans1),
                "plan_peak_rss_mib": max(rss) / 1024, "finds": finds, "plans": plans}


def compression(count: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    from soakkit.rotation import RotationPolicy, rotate

    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src" / "snapshots"
        src.mkdir(parents=True)
        total = 0
        old = time.time() - 30 * 86400
        for k in range(count):
            doc = {"iteration": k, "summary": {f"kpi_{j}": float(rng.normal()) for j in range(40)},
                   "params": {f"p{j}": {"value": float(rng.uniform()), "origin": "profile:x"}
                              for j in range(10)}, "regime_by_minute": ["volatile"] * 10}
            data = json.dumps(doc, indent=2, sort_keys=True).encode()
            (src / f"snap_{k}.json").write_bytes(data)
            os.utime(src / f"snap_{k}.json", (old, old))
            total += len(data)
        cli_dir = Path(tmp) / "cli"
        shutil.copytree(src, cli_dir)
        files = sorted(str(p) for p in cli_dir.iterdir())
        start = time.perf_counter()
        for chunk in range(0, len(files), 500):
            subprocess.run(["gzip", "-6", "-k", *files[chunk:chunk + 500]], check=True)
        gzip_cli = time.perf_counter() - start
        start = time.perf_counter()
        result = rotate(src.parent, RotationPolicy(keep_latest=100, ttl_days=7.0),
                        now=datetime.now(UTC), jobs=1)
        ours = time.perf_counter() - start
        assert result.exit_code == 0, result.record["errors"]
        compressed = sum(p.stat().st_size for p in src.iterdir())
        out: dict[str, Any] = {"files": count, "input_mb": total / 1e6,
                               "rotation_gzip6_mb_s": total / 1e6 / ours,
                               "gzip6_cli_mb_s": total / 1e6 / gzip_cli,
                               "rotation_over_cli_time": ours / gzip_cli,
                               "gzip6_ratio": total / compressed}
        try:
            import zstandard
        except ImportError:
            return out
        blobs = [p.read_bytes() for p in sorted(cli_dir.glob("*.json"))]
        start = time.perf_counter()
        sizes = [len(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(b))
                 for b in blobs]
        out["zstd3_inprocess_mb_s"] = total / 1e6 / (time.perf_counter() - start)
        out["zstd3_ratio"] = total / sum(sizes)
        import gzip

        start = time.perf_counter()
        sizes = [len(gzip.compress(b, compresslevel=6, mtime=0)) for b in blobs]
        out["gzip6_inprocess_mb_s"] = total / 1e6 / (time.perf_counter() - start)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--compress-files", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    report = {"planning": planning(args.files, args.reps),
              "compression": compression(args.compress_files)}
    p, c = report["planning"], report["compression"]
    print(f"planning {p['files']} files: {p['plan_s']:.2f} s (2 processes; 1 process "
          f"{p['plan_one_process_s']:.2f} s) vs find -mtime +7 {p['find_s']:.2f} s -> "
          f"{p['plan_over_find']:.2f}x; peak RSS {p['plan_peak_rss_mib']:.0f} MiB")
    print(f"compression {c['files']} files, {c['input_mb']:.1f} MB: rotation "
          f"{c['rotation_gzip6_mb_s']:.1f} MB/s vs gzip -6 CLI {c['gzip6_cli_mb_s']:.1f} MB/s "
          f"(time ratio {c['rotation_over_cli_time']:.2f}x), ratio {c['gzip6_ratio']:.2f}")
    if "zstd3_ratio" in c:
        print(f"in-process: gzip-6 {c['gzip6_inprocess_mb_s']:.0f} MB/s ratio "
              f"{c['gzip6_ratio']:.2f}; zstd-3 {c['zstd3_inprocess_mb_s']:.0f} MB/s ratio "
              f"{c['zstd3_ratio']:.2f}")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
