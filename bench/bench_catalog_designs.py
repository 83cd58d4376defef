"""The catalog's goals against other designs, each a whole process beside the discard loop.

Issue 31 accepts a goal as unreachable only with a floor no design doing the same job can
beat, that design tried and measured. Each design below is a whole ``python`` process on
the tree ``bench_catalog.py`` builds (``--tree DIR`` reuses one: ``DIR/soak`` with the
runner's layout, ``DIR/legacy`` is made from it by hard links without the iteration logs),
timed in turns with the ``json.load`` loop that discards each document (the goals'
baseline), best of ``--reps``, with CPU seconds (``wait4``: children included) and the
1-minute load average:

* ``soakkit_cold`` / ``soakkit_warm_frame`` – ``load_catalog(...).frame`` without cache /
  with it; ``soakkit_view_warm`` – ``soakkit catalog`` (the default per-run view) warm,
  read ready without polars; ``polars_import`` – ``python -c "import polars"``;
* ``cold_overlapped`` (+ ``_cached``) – the cold job's floor with the scan moved off the
  critical path: a process forked before polars is imported lstats every ITER_SUMMARY
  file while the parent imports polars, then the parent reads every ``iterations.parquet``
  and checks each file's name, size and mtime against its log (and writes the frame
  durably, the next warm load's cache); ``cold_checked_cached`` is bench_catalog's floor
  without the overlap;
* ``json_soakkit`` – ``soakkit catalog --json --no-cache`` to /dev/null; ``parquet_soakkit``
  – ``--parquet``;
* ``legacy_soakkit`` – ``load_catalog`` without cache on the legacy layout (ITER_SUMMARY
  files only); ``legacy_two_processes`` – soakkit's own reader and parser
  (``frame_from_files``) on half of the run folders in each of two processes forked before
  polars starts, the child's frame sent back as Arrow IPC; ``legacy_native_parse_floor`` –
  the same two processes reading every file and parsing it with polars' NDJSON reader
  against the catalog's narrow schema, building nothing else; ``legacy_orjson_two_frames``
  – two such processes parsing with orjson and picking the catalog's fields into columns,
  each making its own frame (the child's sent back as Arrow IPC);
  ``legacy_msgspec_one`` / ``legacy_msgspec_two`` – msgspec's typed decoder against the
  narrow schema, the Structs transposed into columns, soakkit's screen and flattening: the
  same rows as ``load_catalog`` (``catalog_msgspec_design.py``; timed only when msgspec is
  installed, ``pip install msgspec``), in one process and in two;

    python bench/bench_catalog_designs.py --files 100000 --reps 3 --out bench/out/designs.json
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import SAFE_PATH, load_average, make_parser, run_child, save
from bench_catalog import _FLOORS, _JSON_LOOP, _LEAVES, make_catalog_tree

#: The scan forked before polars is imported; the parent imports polars meanwhile.
_COLD_OVERLAPPED = """
import os, pickle, sys, time
start = time.perf_counter()
root = sys.argv[1]
runs = sorted(e.path for e in os.scandir(root + "/runs") if e.is_dir())
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    dirs, names, sizes, mtimes = [], [], [], []
    for run in runs:
        fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
        with os.scandir(fd) as it:
            for entry in it:
                if entry.name.startswith("ITER_SUMMARY_"):
                    st = entry.stat(follow_symlinks=False)
                    dirs.append(run)
                    names.append(entry.name)
                    sizes.append(st.st_size)
                    mtimes.append(st.st_mtime_ns)
        os.close(fd)
    with os.fdopen(w, "wb") as out:
        out.write(pickle.dumps((dirs, names, sizes, mtimes), protocol=5))
    os._exit(0)
os.close(w)
import io
import polars as pl
with os.fdopen(r, "rb") as pipe:
    dirs, names, sizes, mtimes = pickle.loads(pipe.read())
os.waitpid(pid, 0)
key = ["run", "file_name", "file_size", "file_mtime_ns"]
files = pl.DataFrame({"run": dirs, "file_name": names, "file_size": sizes,
                      "file_mtime_ns": mtimes}).sort(key)
frame = pl.read_parquet([run + "/iterations.parquet" for run in runs], include_file_paths="run")
frame = frame.with_columns(pl.col("run").str.strip_suffix("/iterations.parquet"))
assert frame.select(key).sort(key).equals(files), "the logs do not hold the files"
if sys.argv[2:] == ["cache"]:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="lz4", statistics=False)
    tmp = root + "/../floor-cache.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, buf.getvalue())
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, root + "/../floor-cache.parquet")
print(time.perf_counter() - start)
"""

#: soakkit's own legacy reader in two processes forked before polars starts its threads.
_LEGACY_TWO = """
import os, sys, time
start = time.perf_counter()
root = sys.argv[1]
runs = sorted(e.path for e in os.scandir(root + "/runs") if e.is_dir())
r, w = os.pipe()
pid = os.fork()
from pathlib import Path
from soakkit.catalog.load import _options, CatalogFolder
from soakkit.catalog.scan import folder_sources as _sources
from soakkit.catalog.parse import frame_from_files
def frame(share):
    tasks, problems = [], []
    for run in share:
        folder = CatalogFolder(Path(run), "runs/" + Path(run).name, Path(run).name, "runs")
        options = _options(folder, problems)
        tasks += [(s[0], folder.run_id, "runs", s[1], options, s[2]) for s in _sources(run)
                  if s[1] in ("file", "gz")]
    return frame_from_files(tasks)[0]
if pid == 0:
    os.close(r)
    with os.fdopen(w, "wb") as out:
        frame(runs[1::2]).write_ipc(out)
    os._exit(0)
os.close(w)
import io
import polars as pl
mine = frame(runs[0::2])
with os.fdopen(r, "rb") as pipe:
    theirs = pl.read_ipc(io.BytesIO(pipe.read()))
os.waitpid(pid, 0)
assert pl.concat([mine, theirs]).height == int(sys.argv[2])
print(time.perf_counter() - start)
"""

#: Two processes reading every file and parsing it with polars' NDJSON reader, no rows.
_LEGACY_NATIVE_FLOOR = """
import os, sys, time
start = time.perf_counter()
root = sys.argv[1]
runs = sorted(e.path for e in os.scandir(root + "/runs") if e.is_dir())
r, w = os.pipe()
pid = os.fork()
def blobs(share):
    out = []
    for run in share:
        for name in os.listdir(run):
            if name.startswith("ITER_SUMMARY_"):
                fd = os.open(run + "/" + name, os.O_RDONLY)
                out.append(os.read(fd, os.fstat(fd).st_size + 1).replace(b"\\n", b" "))
                os.close(fd)
    return out
mine = blobs(runs[pid == 0::2])
from soakkit.artifacts.iterlog_table import NARROW_SCHEMA
import polars as pl
n = pl.read_ndjson(b"\\n".join(mine), schema=NARROW_SCHEMA).height
if pid == 0:
    os.write(w, str(n).encode())
    os._exit(0)
os.close(w)
n += int(os.read(r, 64))
os.waitpid(pid, 0)
assert n == int(sys.argv[2])
print(time.perf_counter() - start)
"""

#: orjson in two processes forked before polars starts: each picks the catalog's fields
#: (NARROW_SCHEMA's leaves, by key path) into columns and makes its own polars frame; the
#: child's comes back as Arrow IPC (no pickle of millions of values).
_LEGACY_ORJSON_TWO = """
import gc, json, os, sys, time
start = time.perf_counter()
gc.disable()  # millions of values held in lists: the collector would dominate
import orjson
root = sys.argv[1]
paths = [tuple(p) for p in json.loads(sys.argv[3])]
runs = sorted(e.path for e in os.scandir(root + "/runs") if e.is_dir())
r, w = os.pipe()
pid = os.fork()
cols = [[] for _ in paths]
for run in runs[pid == 0::2]:
    for name in os.listdir(run):
        if name.startswith("ITER_SUMMARY_"):
            fd = os.open(run + "/" + name, os.O_RDONLY)
            doc = orjson.loads(os.read(fd, os.fstat(fd).st_size + 1))
            os.close(fd)
            for col, path in zip(cols, paths):
                value = doc
                for key in path:
                    value = value.get(key) if type(value) is dict else None
                col.append(value)
import io
import polars as pl
frame = pl.DataFrame({"/".join(p): c for p, c in zip(paths, cols)}, strict=False)
if pid == 0:
    with os.fdopen(w, "wb") as out:
        frame.write_ipc(out)
    os._exit(0)
os.close(w)
with os.fdopen(r, "rb") as pipe:
    theirs = pl.read_ipc(io.BytesIO(pipe.read()))
os.waitpid(pid, 0)
assert pl.concat([frame, theirs], how="vertical_relaxed").height == int(sys.argv[2])
print(time.perf_counter() - start)
"""

_LOAD = """
import sys
from soakkit.catalog import load_catalog
assert load_catalog(sys.argv[1], cache=sys.argv[2] == "cache").frame.height > 0
"""


def _legacy_tree(soak: Path, legacy: Path) -> None:
    """The same ITER_SUMMARY files by hard links, without the iteration logs."""
    for run in sorted((soak / "runs").iterdir()):
        target = legacy / "runs" / run.name
        target.mkdir(parents=True)
        for path in run.iterdir():
            if not path.name.startswith("iterations."):
                os.link(path, target / path.name)


def designs(tree: Path, files: int, reps: int, baseline_src: Path | None = None,
            only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every design and the discard loop, in turns; best wall of ``reps`` and its CPU."""
    soak, legacy = tree / "soak", tree / "legacy"
    if not legacy.exists():
        _legacy_tree(soak, legacy)
    py = sys.executable
    cache = tree / "cache"
    env = {**os.environ, "SOAKKIT_CACHE_DIR": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules compiled once
    subprocess.run([py, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "soakkit")],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    cli = [py, "-m", "soakkit", "catalog"]
    commands: dict[str, tuple[list[str], bool]] = {  # (command, remove the cache first)
        "discard_loop": ([py, "-c", _JSON_LOOP, str(soak)], False),
        "soakkit_cold": ([py, "-c", _LOAD, str(soak), "nocache"], True),
        "cold_checked_cached": ([py, "-c", _FLOORS["cold_checked"], str(soak), "cache"], False),
        "cold_overlapped": ([py, "-c", _COLD_OVERLAPPED, str(soak)], False),
        "cold_overlapped_cached": ([py, "-c", _COLD_OVERLAPPED, str(soak), "cache"], False),
        "soakkit_view_first": ([*cli, "--artifacts", str(soak)], True),
        "soakkit_view_warm": ([*cli, "--artifacts", str(soak)], False),
        "soakkit_warm_frame": ([py, "-c", _LOAD, str(soak), "cache"], False),
        "polars_import": ([py, "-c", "import polars"], False),
        "python_start": ([py, "-c", "pass"], False),
        "json_soakkit": ([*cli, "--artifacts", str(soak), "--json", "--no-cache"], False),
        "parquet_soakkit": ([*cli, "--artifacts", str(soak), "--no-cache", "--parquet",
                             str(tree / "export.parquet"), "--force"], False),
        "legacy_soakkit": ([py, "-c", _LOAD, str(legacy), "nocache"], False),
        "legacy_two_processes": ([py, "-c", _LEGACY_TWO, str(legacy), str(files)], False),
        "legacy_native_parse_floor": ([py, "-c", _LEGACY_NATIVE_FLOOR, str(legacy),
                                       str(files)], False),
        "legacy_orjson_two_frames": ([py, "-c", _LEGACY_ORJSON_TWO, str(legacy), str(files),
                                      _LEAVES], False),
    }
    if importlib.util.find_spec("msgspec") is None:
        print("msgspec is not installed: legacy_msgspec_one and _two are not timed")
    else:
        for how in ("one", "two"):
            commands[f"legacy_msgspec_{how}"] = (
                [py, str(Path(__file__).with_name("catalog_msgspec_design.py")), str(legacy),
                 str(files), how], False)
    if only:
        commands = {k: v for k, v in commands.items() if k == "discard_loop" or k in only}
    envs = dict.fromkeys(commands, env)
    if baseline_src is not None:  # another tree's soakkit (the code before a change)
        for name in ("soakkit_view_warm", "json_soakkit"):
            if name not in commands:
                continue
            commands[f"baseline_{name}"] = commands[name]
            envs[f"baseline_{name}"] = {**env, "PYTHONPATH": str(baseline_src), **SAFE_PATH}
        subprocess.run([py, "-m", "compileall", "-q", str(baseline_src)], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    loads = []
    for _ in range(reps):
        for name, (cmd, cold) in commands.items():
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            loads.append(load_average())
            child = run_child(cmd, stdout=subprocess.DEVNULL, env=envs[name], cwd=tree)
            runs[name].append((child.wall_s, child.cpu_s))
    base_wall, base_cpu = min(runs["discard_loop"])
    out: dict[str, Any] = {"files": files, "reps": reps, "load_average": [min(loads),
                                                                           max(loads)]}
    for name, timings in runs.items():
        wall, cpu = min(timings)
        out[name] = {"wall_s": wall, "cpu_s": cpu, "vs_discard_wall": base_wall / wall,
                     "vs_discard_cpu": base_cpu / cpu}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=None,
                        help="reuse this tree (DIR/soak, as bench_catalog builds it)")
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="also time this soakkit source tree's warm view and --json "
                             "(e.g. `git archive main soakkit | tar -x -C DIR`)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="time these designs only (and the discard loop)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree or Path(tmp)
        if not (tree / "soak").exists():
            make_catalog_tree(tree, args.files)
            os.sync()
        data = designs(tree, args.files, args.reps, args.baseline_src, tuple(args.only))
    print(f"catalog designs, {args.files} iterations, whole processes, best of {args.reps} "
          f"(load {data['load_average'][0]:.1f}-{data['load_average'][1]:.1f}):")
    for name, d in data.items():
        if isinstance(d, dict):
            print(f"  {name:28s} {d['wall_s']:7.3f} s wall {d['cpu_s']:7.3f} s CPU  "
                  f"{d['vs_discard_wall']:6.1f}x wall {d['vs_discard_cpu']:6.1f}x CPU")
    save(args.out, {"catalog_designs": data})
    return 0


if __name__ == "__main__":
    sys.exit(main())
