"""Catalog speed, next to its baseline measured in the same run.

* exports – ``soakkit catalog --json``, ``--csv`` and ``--parquet`` (cold, ``--no-cache``) as whole
  processes with their peak RSS, next to the ``json.load`` loop discarding each document
  and the one keeping them all;
* catalog – ``load_catalog`` over ``--files`` iterations laid out as the soak runner writes
  them (real documents from a mini-soak, renumbered, 1,000 per run; each run with its
  iteration log and ``iterations.parquet``), then the same ITER_SUMMARY files alone (the
  legacy layout): cold (no cache) and warm (cache present), next to a plain ``json.load``
  loop over the same files, best of ``--reps``, both inside one process (in-process) and as
  whole ``python`` processes (interpreter start and imports included); and ``soakkit
  catalog`` warm (the per-run view, read ready without polars) as a whole process;
* floors – whole processes doing only what any catalog of the tree must: import polars and
  read the cache (warm); that plus one ``lstat`` per file and every ``iterations.parquet``
  (cold); that plus the consistency check, and plus writing the cache (cold_checked,
  cold_checked_cached); read and parse every file with orjson (legacy), and also build
  the rows in two processes (legacy_rows);

    python bench/bench_catalog.py --files 100000 --reps 3 --out bench/out/catalog.json
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from _common import SAFE_PATH, Child, load_average, make_parser, run_child, save

from soakkit.artifacts.iterlog import entry_line, file_id
from soakkit.artifacts.iterlog_table import NARROW_SCHEMA, compact
from soakkit.artifacts.layout import ITER_LOG_FILE, iter_summary_name
from soakkit.catalog import load_catalog
from soakkit.catalog.load import cache_dir
from soakkit.core.json_canonical import canonical_json
from soakkit.soak import SoakOptions, run_soak


def make_catalog_tree(root: Path, files: int) -> None:
    """``files`` iterations in runs of 1,000, laid out as the soak runner writes them.

    Documents: the 12 of a real mini-soak, renumbered. Each run gets what the runner writes
    (``soakkit.artifacts.iterlog``): ``ITER_SUMMARY_<n>.json`` (canonical JSON), its line in
    ``iterations.jsonl`` and, at the end, ``iterations.parquet`` (``iterlog_table.compact``);
    only the fsyncs are left out, to build the tree in seconds.
    """
    source = root / "source"
    run = run_soak(SoakOptions(iterations=12, sim_minutes=5, mode="mixed", gate="production",
                               artifacts=source, now="2026-01-01T00:00:00Z"), env={})
    docs = [json.loads((run.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
            for n in range(1, 13)]
    for start in range(0, files, 1000):
        folder = root / "soak" / "runs" / f"run{start // 1000:04d}"
        folder.mkdir(parents=True)
        shutil.copy(run.run_dir / "RUN.json", folder / "RUN.json")
        lines = []
        for k in range(start, min(files, start + 1000)):
            n = k % 1000 + 1
            doc = dict(docs[k % len(docs)], iteration=n)
            data = canonical_json(doc).encode()
            path = folder / iter_summary_name(n)
            path.write_bytes(data)
            lines.append(entry_line(n, file_id(path.name, data, path.stat().st_mtime_ns), doc))
        (folder / ITER_LOG_FILE).write_bytes(b"".join(lines))
        compact(folder)


def _child_seconds(code: str, *args: str, src: Path | None = None) -> tuple[float, float]:
    """(wall seconds of the whole process, seconds it timed inside) of ``python -c code``
    (with ``src``: that source tree's soakkit)."""
    env = None if src is None else {**os.environ, "PYTHONPATH": str(src), **SAFE_PATH}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env=env)
    return time.perf_counter() - start, float(done.stdout.split()[-1])


_JSON_LOOP = """
import json, sys, time, glob
start = time.perf_counter()
for path in sorted(glob.glob(sys.argv[1] + "/runs/*/ITER_SUMMARY_*.json")):
    with open(path) as fh:
        json.load(fh)
print(time.perf_counter() - start)
"""
#: Floors, each a whole process: what any Python catalog of this tree must do at the least.
#: warm: import polars and read the cached frame; cold: import polars, lstat every file
#: and read every run's iterations.parquet; cold_checked: that, plus the consistency check
#: the issue asks for (every file's name, size and mtime against its log's; with "cache" it
#: also writes the frame durably, what the next, warm, load reads); legacy: read and parse
#: every file with orjson, the fastest parser soakkit has, building nothing; legacy_rows:
#: the least that also builds the rows: two forked processes (forked before polars starts
#: its threads) that read, parse with orjson and pick the catalog's fields (NARROW_SCHEMA's
#: leaves, by key path) into columns, one pickle back, one polars frame.
_FLOORS = {
    "warm": """
import sys, time
start = time.perf_counter()
import polars as pl
assert pl.read_parquet(sys.argv[1] + "/catalog.parquet").height > 0
print(time.perf_counter() - start)
""",
    "cold": """
import glob, os, sys, time
start = time.perf_counter()
import polars as pl
for run in sorted(glob.glob(sys.argv[1] + "/runs/*")):
    with os.scandir(run) as it:
        for entry in it:
            entry.stat(follow_symlinks=False)
assert pl.read_parquet(sorted(glob.glob(sys.argv[1] + "/runs/*/iterations.parquet"))).height
print(time.perf_counter() - start)
""",
    "cold_checked": """
import glob, io, os, sys, time
start = time.perf_counter()
import polars as pl
runs = sorted(glob.glob(sys.argv[1] + "/runs/*"))
listed = []
for run in runs:
    with os.scandir(run) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            if entry.name.startswith("ITER_SUMMARY_"):
                listed.append((run, entry.name, st.st_size, st.st_mtime_ns))
frame = pl.read_parquet([run + "/iterations.parquet" for run in runs], include_file_paths="run")
frame = frame.with_columns(pl.col("run").str.strip_suffix("/iterations.parquet"))
key = ["run", "file_name", "file_size", "file_mtime_ns"]
files = pl.DataFrame(listed, schema=key, orient="row").sort(key)
assert frame.select(key).sort(key).equals(files), "the logs do not hold the files"
if sys.argv[2:] == ["cache"]:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="lz4", statistics=False)
    tmp = sys.argv[1] + "/../floor-cache.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, buf.getvalue())
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, sys.argv[1] + "/../floor-cache.parquet")
print(time.perf_counter() - start)
""",
    "legacy_rows": """
import gc, glob, json, os, pickle, sys, time
start = time.perf_counter()
gc.disable()  # millions of values held in lists: the collector would dominate
import orjson
paths = [tuple(p) for p in json.loads(sys.argv[2])]
files = sorted(glob.glob(sys.argv[1] + "/runs/*/ITER_SUMMARY_*.json"))
def columns(share):
    cols = [[] for _ in paths]
    for name in share:
        with open(name, "rb") as fh:
            doc = orjson.loads(fh.read())
        for col, path in zip(cols, paths):
            value = doc
            for key in path:
                value = value.get(key) if type(value) is dict else None
            col.append(value)
    return cols
r, w = os.pipe()
pid = os.fork()
mine = columns(files[pid == 0::2])
if pid == 0:
    with os.fdopen(w, "wb") as out:
        out.write(pickle.dumps(mine, protocol=pickle.HIGHEST_PROTOCOL))
    os._exit(0)
os.close(w)
with os.fdopen(r, "rb") as pipe:
    theirs = pickle.loads(pipe.read())
os.waitpid(pid, 0)
import polars as pl
frame = pl.DataFrame({"/".join(p): a + b for p, a, b in zip(paths, mine, theirs)}, strict=False)
assert frame.height == len(files)
print(time.perf_counter() - start)
""",
    "legacy": """
import glob, sys, time
start = time.perf_counter()
import orjson
for path in sorted(glob.glob(sys.argv[1] + "/runs/*/ITER_SUMMARY_*.json")):
    with open(path, "rb") as fh:
        orjson.loads(fh.read())
print(time.perf_counter() - start)
""",
}


def _leaves(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The key path of every field the catalog reads from a document (NARROW_SCHEMA)."""
    out: list[tuple[str, ...]] = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Struct):
            out += _leaves({f.name: f.dtype for f in dtype.fields}, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


_LEAVES = json.dumps(_leaves(NARROW_SCHEMA))
_LOAD = """
import sys, time
start = time.perf_counter()
from soakkit.catalog import load_catalog
catalog = load_catalog(sys.argv[1], cache=sys.argv[2] == "cache")
assert catalog.frame.height > 0
print(time.perf_counter() - start)
"""


def _layout(root: Path, reps: int, files: int, baseline_src: Path | None = None
            ) -> dict[str, Any]:
    """In-process and whole-process timings of one layout (cold without cache, warm); with
    ``baseline_src``, that source tree's cold load too, as a whole process."""
    soak = root / "soak"
    paths = sorted(str(p) for p in (soak / "runs").glob("*/ITER_SUMMARY_*.json"))
    base, cold, warm, base_p, cold_p, warm_p, view_p = [], [], [], [], [], [], []
    view = [sys.executable, "-m", "soakkit", "catalog", "--artifacts", str(soak)]
    logged = any((soak / "runs").glob(f"*/{ITER_LOG_FILE}"))
    floors: dict[str, list[float]] = {}
    for _ in range(reps):
        start = time.perf_counter()
        for path in paths:
            with open(path) as fh:
                json.load(fh)
        base.append(time.perf_counter() - start)
        shutil.rmtree(cache_dir(soak), ignore_errors=True)
        start = time.perf_counter()
        loaded = load_catalog(soak)
        cold.append(time.perf_counter() - start)
        assert loaded.frame.height == files, loaded.frame.height
        start = time.perf_counter()
        again = load_catalog(soak)
        warm.append(time.perf_counter() - start)
        assert again.cached_rows == files
        base_p.append(_child_seconds(_JSON_LOOP, str(soak))[0])
        shutil.rmtree(cache_dir(soak), ignore_errors=True)
        cold_p.append(_child_seconds(_LOAD, str(soak), "nocache")[0])
        if baseline_src is not None:
            floors.setdefault("baseline_cold", []).append(_child_seconds(
                _LOAD, str(soak), "nocache", src=baseline_src)[0])
        _child_seconds(_LOAD, str(soak), "cache")
        warm_p.append(_child_seconds(_LOAD, str(soak), "cache")[0])
        subprocess.run(view, check=True, capture_output=True)  # keeps the per-run view
        start = time.perf_counter()
        subprocess.run(view, check=True, capture_output=True)
        view_p.append(time.perf_counter() - start)
        for name, code in _FLOORS.items():
            if not name.startswith("cold") or logged:
                extra = [_LEAVES] if name == "legacy_rows" else []
                floors.setdefault(name, []).append(_child_seconds(
                    code, str(cache_dir(soak) if name == "warm" else soak), *extra)[0])
        if logged:
            floors.setdefault("cold_checked_cached", []).append(_child_seconds(
                _FLOORS["cold_checked"], str(soak), "cache")[0])
    b, c, w = min(base), min(cold), min(warm)
    bp, cp, wp, vp = min(base_p), min(cold_p), min(warm_p), min(view_p)
    return {"files": files, "logged_rows": loaded.logged_rows,
            "in_process": {"json_load_s": b, "cold_s": c, "warm_s": w,
                           "cold_speedup": b / c, "warm_speedup": b / w},
            "whole_process": {"json_load_s": bp, "cold_s": cp, "warm_s": wp,
                              "cold_speedup": bp / cp, "warm_speedup": bp / wp,
                              "view_warm_s": vp, "view_warm_speedup": bp / vp},
            "floors_whole_process": {f"{name}_s": min(v) for name, v in floors.items()}
            | {f"{name}_speedup": bp / min(v) for name, v in floors.items()},
            "json_load_files_per_s": files / b, "cold_files_per_s": files / c,
            "warm_files_per_s": files / w, "cold_speedup": b / c, "warm_speedup": b / w}


_KEEP_LOOP = """
import json, sys, time, glob
start = time.perf_counter()
kept = []
for path in sorted(glob.glob(sys.argv[1] + "/runs/*/ITER_SUMMARY_*.json")):
    with open(path) as fh:
        kept.append(json.load(fh))
print(time.perf_counter() - start)
"""


def exports(root: Path, reps: int, baseline_src: Path | None) -> dict[str, Any]:
    """``soakkit catalog --json`` (to /dev/null) and ``--parquet``, cold (``--no-cache``),
    whole processes with their peak RSS, next to the discard and the list-keeping
    ``json.load`` loops; with ``baseline_src``, that source tree's commands too."""
    soak = str(root / "soak")
    cli = [sys.executable, "-m", "soakkit", "catalog", "--artifacts", soak, "--no-cache"]
    commands = {"discard_loop": [sys.executable, "-c", _JSON_LOOP, soak],
                "keep_loop": [sys.executable, "-c", _KEEP_LOOP, soak],
                "json": [*cli, "--json"],
                "csv": [*cli, "--csv"],
                "parquet": [*cli, "--parquet", str(root / "export.parquet")]}
    envs: dict[str, dict[str, str] | None] = dict.fromkeys(commands)
    if baseline_src is not None:
        baseline_env = {**os.environ, "PYTHONPATH": str(baseline_src), **SAFE_PATH}
        for name in ("json", "csv", "parquet"):
            commands[f"baseline_{name}"] = commands[name]
            envs[f"baseline_{name}"] = baseline_env
    runs: dict[str, list[Child]] = {name: [] for name in commands}
    peaks: dict[str, list[int]] = {name: [] for name in commands}
    # a child's ru_maxrss counts this (large) process's memory it was forked from: its peak
    # is taken by /usr/bin/time, which forks it from a small process
    # (where it is missing: ru_maxrss, an upper bound)
    rss_file = root / "peak_rss_kib"
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] \
        if Path("/usr/bin/time").is_file() else []
    loads = []
    for _ in range(reps):
        loads.append(load_average())
        for name, cmd in commands.items():
            (root / "export.parquet").unlink(missing_ok=True)  # a new file each time
            child = run_child([*timer, *cmd], stdout=subprocess.DEVNULL, env=envs[name])
            runs[name].append(child)
            peaks[name].append(int(rss_file.read_text().split()[-1]) if timer
                               else child.max_rss_kib)
    out: dict[str, Any] = {"load_average": [min(loads), max(loads)]}
    for name, children in runs.items():
        out[f"{name}_s"] = min(c.wall_s for c in children)
        out[f"{name}_peak_rss_mib"] = max(peaks[name]) / 1024
    for name in commands:
        if not name.endswith("loop"):
            out[f"{name}_vs_discard"] = out["discard_loop_s"] / out[f"{name}_s"]
            out[f"{name}_vs_keep"] = out["keep_loop_s"] / out[f"{name}_s"]
    return out


def catalog(files: int, reps: int, parts: tuple[str, ...] = ("load", "exports"),
            baseline_src: Path | None = None) -> dict[str, Any]:
    """The runner's layout (one iteration log per run), then the same files without logs."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_catalog_tree(root, files)
        os.sync()
        out: dict[str, Any] = {"files": files}
        if "exports" in parts:
            out["exports"] = exports(root, reps, baseline_src)
        if "load" not in parts:
            return out
        out |= _layout(root, reps, files, baseline_src)
        for path in (root / "soak" / "runs").glob("*/iterations.*"):
            path.unlink()  # the legacy layout: ITER_SUMMARY files only
        os.sync()
        out["legacy"] = _layout(root, reps, files, baseline_src)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=["load", "exports"],
                        choices=["load", "exports"], help="which measurements (default: all)")
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="also time this soakkit source tree's exports and cold load "
                             "(e.g. `git archive main | tar -x -C DIR`)")
    args = parser.parse_args(argv)
    data = {"catalog": catalog(args.files, args.reps, tuple(args.parts), args.baseline_src)}
    c = data["catalog"]
    if "exports" in c:
        e = c["exports"]
        print(f"exports, {c['files']} iterations, cold, whole processes (best of {args.reps}, "
              f"load {e['load_average'][0]:.1f}-{e['load_average'][1]:.1f}): json.load loop "
              f"discarding {e['discard_loop_s']:.2f} s, keeping {e['keep_loop_s']:.2f} s ("
              f"{e['keep_loop_peak_rss_mib']:.0f} MiB); " + "; ".join(
                  f"{name} {e[name + '_s']:.2f} s, {e[name + '_peak_rss_mib']:.0f} MiB "
                  f"({e[name + '_vs_discard']:.1f}x the discard loop, "
                  f"{e[name + '_vs_keep']:.1f}x the keeping loop)"
                  for name in ("json", "csv", "parquet", "baseline_json", "baseline_csv",
                               "baseline_parquet")
                  if name + "_s" in e))
    if "legacy" not in c:
        save(args.out, data)
        return 0
    for label, layout in (("runner layout (iteration logs)", c), ("legacy layout (files)",
                                                                    c["legacy"])):
        i, w = layout["in_process"], layout["whole_process"]
        print(f"catalog {c['files']} iterations, {label}: in-process json.load loop "
              f"{i['json_load_s']:.2f} s, cold {i['cold_s']:.3f} s ({i['cold_speedup']:.1f}x), "
              f"warm {i['warm_s']:.3f} s ({i['warm_speedup']:.0f}x); whole process: json.load "
              f"loop {w['json_load_s']:.2f} s, cold {w['cold_s']:.3f} s "
              f"({w['cold_speedup']:.1f}x), warm {w['warm_s']:.3f} s ({w['warm_speedup']:.0f}x), "
              f"`soakkit catalog` warm {w['view_warm_s']:.3f} s ({w['view_warm_speedup']:.0f}x)")
        f = layout["floors_whole_process"]
        print("  floors, whole processes: " + ", ".join(
            f"{name} {f[name + '_s']:.3f} s ({f[name + '_speedup']:.1f}x the json.load loop)"
            for name in ("cold", "cold_checked", "cold_checked_cached", "warm", "legacy",
                         "legacy_rows", "baseline_cold") if name + "_s" in f))
    save(args.out, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
