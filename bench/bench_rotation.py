"""Rotation speed, as a user meets it (whole processes) and inside the process (labelled).

* planning – ``soakkit rotate --dry-run`` (the summary), ``--dry-run --list`` (every
  action) and the legacy ``python -m soakkit.rotation --dry-run`` (both ways) as whole
  processes against ``find TREE -type f -mtime +7 > /dev/null`` on the same tree, best of
  ``--reps``, alternating; plus the scan, plan and rendering alone timed inside a fresh
  process. Tree: 200 run folders × 1,000 ``ITER_SUMMARY_<n>.json``, mtimes spread over 30
  days (seeded);
* start-up – ``soakkit --help`` and ``soakkit rotate --dry-run`` on an empty tree next to
  ``python -c pass``, and the largest imports of the rotation path (``-X importtime``);
* compression – ``soakkit rotate`` compressing ``--compress-files`` ITER_SUMMARY documents
  (group commit, two processes) as a whole process and in-process, against ``gzip -6`` in
  place and ``gzip -6 -k`` on copies of the same files, the floors and (``--baseline-src``)
  an older source tree's ``soakkit rotate``.

Every soakkit process runs from bytecode, as an installed package does
(``_common.bytecode_cache``; warm-up runs fill it).

    python bench/bench_rotation.py --files 200000 --reps 3 --out bench/out/rotation.json
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import SAFE_PATH, Child, bytecode_cache, make_parser, run_child, save
from rotation_floors import DURABLE_CHILD, FLOOR_CHILD, SAME_OUTPUT_CHILD, inplace_floor_parts

PLAN_CHILD = """
import os, sys, time
start = time.perf_counter()
os.environ["OPENBLAS_NUM_THREADS"] = "1"
from datetime import UTC, datetime
from pathlib import Path
from soakkit.rotation import RotationPolicy, plan_rotation
from soakkit.rotation.apply import RotationResult, _exit_code, _summary
from soakkit.cli.rotate import _render
imported = time.perf_counter()
plan = plan_rotation(Path(sys.argv[1]), RotationPolicy(), datetime.now(UTC), jobs=int(sys.argv[2]),
                     render=True)  # as `--dry-run --list`: each scan process renders its lines
planned = time.perf_counter()
summary = _summary(plan, True, plan.projected_after(), [], [])
result = RotationResult(summary, _exit_code(summary), plan)
recorded = time.perf_counter()
text = _render(result, [], True)
with open(os.devnull, "w") as sink:
    sink.write(text)
rendered = time.perf_counter()
print(planned - imported, plan.before.files, imported - start, recorded - planned,
      rendered - recorded)
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


def timed(cmd: list[str], **kw: Any) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS (KiB), stdout and CPU seconds (user + system, waited-for
    descendants included) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed")
    out = proc.stdout.read().decode() if proc.stdout else ""
    return wall, usage.ru_maxrss, out, usage.ru_utime + usage.ru_stime


def _best(cmd: list[str], reps: int, **kw: Any) -> float:
    return min(timed(cmd, stdout=subprocess.DEVNULL, **kw)[0] for _ in range(reps))


_NOW = ["--now", "2026-11-24T12:00:00Z"]


def planning(files: int, reps: int) -> dict[str, Any]:
    """Whole processes, best of ``reps``, alternating: ``soakkit rotate --dry-run`` (what a
    user runs: interpreter, imports, scan, plan, printing every action) against ``find``;
    then the scan and plan alone, timed inside a fresh process (in-process)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        start = time.perf_counter()
        make_tree(tree, files)
        created = time.perf_counter() - start
        os.sync()  # no writeback in flight while measuring
        find = ["find", str(tree), "-type", "f", "-mtime", "+7"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        dry = [sys.executable, "-m", "soakkit", "rotate", "--path", str(tree), "--dry-run",
               "--now", now]
        # the legacy spelling has no --now: the same instant through SOAKKIT_NOW
        legacy = [sys.executable, "-m", "soakkit.rotation", "--path", str(tree), "--dry-run"]
        legacy_env = {**os.environ, "SOAKKIT_NOW": now}
        subprocess.run(legacy, env=legacy_env, capture_output=True, check=True)  # warm up
        same = [sys.executable, "-c", SAME_OUTPUT_CHILD, str(tree), now]
        timed(find, stdout=subprocess.DEVNULL)  # warm the dentry cache for both
        printed = subprocess.run([*dry, "--list"], capture_output=True, text=True,
                                 check=True).stdout
        summary_lines = subprocess.run(dry, capture_output=True, text=True,
                                       check=True).stdout.count("\n")
        actions = "".join(line + "\n" for line in printed.splitlines()
                          if line.startswith("  would "))
        floor_printed = subprocess.run(same, capture_output=True, text=True, check=True).stdout
        if floor_printed != actions:  # the floor prints the very same lines
            raise RuntimeError("the same-output floor printed other lines than the dry run")
        finds, drys, plans, plans1, rss, parts = [], [], [], [], [], []
        floor1, floor2, floor2p, floor_same, floor2np = [], [], [], [], []
        lists, legacies, legacy_lists = [], [], []
        cpu: dict[str, list[float]] = {"find": [], "dry_run": [], "floor_two_processes": [],
                                       "floor_two_processes_numpy": []}
        for _ in range(reps):
            wall, _, _, seconds = timed(find, stdout=subprocess.DEVNULL)
            finds.append(wall)
            cpu["find"].append(seconds)
            wall, peak, _, seconds = timed(dry, stdout=subprocess.DEVNULL)
            drys.append(wall)
            cpu["dry_run"].append(seconds)
            rss.append(peak)
            lists.append(timed([*dry, "--list"], stdout=subprocess.DEVNULL)[0])
            legacies.append(timed(legacy, stdout=subprocess.DEVNULL, env=legacy_env)[0])
            legacy_lists.append(timed([*legacy, "--list"], stdout=subprocess.DEVNULL,
                                      env=legacy_env)[0])
            child = [sys.executable, "-c", PLAN_CHILD, str(tree)]
            fields = [float(x) for x in timed([*child, "2"], stdout=subprocess.PIPE)[2].split()]
            plans.append(fields[0])
            parts.append({"imports_s": fields[2], "scan_and_plan_s": fields[0],
                          "record_s": fields[3], "render_s": fields[4]})
            plans1.append(float(timed([*child, "1"], stdout=subprocess.PIPE)[2].split()[0]))
            for jobs, out in (("1", floor1), ("2", floor2)):
                wall, _, _, seconds = timed([sys.executable, "-c", FLOOR_CHILD, str(tree), jobs])
                out.append(wall)
            cpu["floor_two_processes"].append(seconds)  # the last: two processes
            wall, _, _, seconds = timed([sys.executable, "-c", FLOOR_CHILD, str(tree), "2",
                                         "numpy"])
            floor2np.append(wall)
            cpu["floor_two_processes_numpy"].append(seconds)
            floor2p.append(timed([sys.executable, "-c", FLOOR_CHILD, str(tree), "2", "print"],
                                 stdout=subprocess.DEVNULL)[0])
            floor_same.append(timed(same, stdout=subprocess.DEVNULL)[0])
        find_s, dry_s = min(finds), min(drys)
        list_s, legacy_s, legacy_list_s = min(lists), min(legacies), min(legacy_lists)
        return {"files": files, "tree_creation_s": created, "find_s": find_s,
                "dry_run_process_s": dry_s, "dry_run_over_find": dry_s / find_s,
                "summary_lines": summary_lines, "listed_lines": printed.count("\n"),
                "dry_run_list_process_s": list_s, "dry_run_list_over_find": list_s / find_s,
                "legacy_dry_run_process_s": legacy_s,
                "legacy_dry_run_over_find": legacy_s / find_s,
                "legacy_dry_run_list_process_s": legacy_list_s,
                "legacy_dry_run_list_over_find": legacy_list_s / find_s,
                "finds_all": finds, "dry_runs_all": drys, "lists_all": lists,
                "legacies_all": legacies, "legacy_lists_all": legacy_lists,
                "load_average": os.getloadavg()[0],
                "dry_run_peak_rss_mib": max(rss) / 1024,
                "plan_in_process_s": min(plans), "plan_over_find": min(plans) / find_s,
                "plan_one_process_in_process_s": min(plans1), "finds": finds,
                "dry_runs": drys,
                "dry_run_parts_in_process": min(parts, key=lambda p: sum(p.values())),
                "python_lstat_floor_one_process_s": min(floor1),
                "python_lstat_floor_two_processes_s": min(floor2),
                "python_lstat_print_floor_two_processes_s": min(floor2p),
                "python_lstat_print_floor_over_find": min(floor2p) / find_s,
                "python_lstat_numpy_floor_two_processes_s": min(floor2np),
                "python_lstat_numpy_floor_over_find": min(floor2np) / find_s,
                "cpu_best_s": {k: min(v) for k, v in cpu.items()},
                "dry_run_over_find_cpu": min(cpu["dry_run"]) / min(cpu["find"]),
                "python_same_output_floor_s": min(floor_same),
                "python_same_output_floor_over_find": min(floor_same) / find_s,
                "dry_run_over_same_output_floor": dry_s / min(floor_same)}


def startup(reps: int) -> dict[str, Any]:
    """``soakkit --help`` and ``soakkit rotate --dry-run`` on an empty tree, whole processes,
    next to ``python -c pass``; the largest imports of the rotation path
    (``python -X importtime``)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "runs").mkdir()
        bare = _best([sys.executable, "-c", "pass"], reps)
        helps = _best([sys.executable, "-m", "soakkit", "--help"], reps)
        rotate_empty = _best([sys.executable, "-m", "soakkit", "rotate", "--path", tmp,
                              "--dry-run", *_NOW], reps)
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "soakkit", "rotate",
                               "--path", tmp, "--dry-run", *_NOW], capture_output=True,
                              text=True, check=True)
    imports: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].strip()
            if name.split(".")[0] in ("numpy", "soakkit", "argparse", "ctypes") and \
                    name.count(".") <= 1:
                imports[name] = max(imports.get(name, 0.0), int(parts[1]) / 1e6)
    top = dict(sorted(imports.items(), key=lambda kv: -kv[1])[:8])
    return {"python_pass_s": bare, "help_s": helps, "rotate_empty_tree_s": rotate_empty,
            "rotate_imports_cumulative_s": top}


#: The durability floor of compression in place: write each file's compressed bytes to a new
#: file and fsync it (write-back started for all first), then fsync the folder: what any
#: crash-safe protocol pays at least, without compressing, verifying or unlinking anything.


def compression(count: int, reps: int, baseline_src: Path | None = None) -> dict[str, Any]:
    """``soakkit rotate`` compressing ``count`` ITER_SUMMARY-sized documents (real ones from
    a mini-soak), as a whole process and timed inside (``rotate()``), against ``gzip -6``
    in place (it replaces each file by its ``.gz``, unlinking the sources, as rotate does)
    and ``gzip -6 -k`` on copies of the same files (one process for all of them), the floors
    (fsync per file or one syncfs per 256), and with ``baseline_src`` that source tree's
    ``soakkit rotate`` (``PYTHONPATH``); best of ``reps``, interleaved, wall and CPU."""
    from datetime import UTC, datetime

    from soakkit.rotation import RotationPolicy, rotate
    from soakkit.soak import SoakOptions, run_soak

    with tempfile.TemporaryDirectory() as tmp:
        run = run_soak(SoakOptions(iterations=12, sim_minutes=5, mode="mixed",
                                   gate="production", artifacts=Path(tmp) / "source",
                                   now="2026-01-01T00:00:00Z"), env={})
        docs = [(run.run_dir / f"ITER_SUMMARY_{n}.json").read_bytes() for n in range(1, 13)]
        template = Path(tmp) / "template" / "snapshots"
        template.mkdir(parents=True)
        old = time.time() - 30 * 86400
        total = 0
        for k in range(count):
            path = template / f"snap_{k}.json"
            path.write_bytes(docs[k % 12])
            os.utime(path, (old, old))
            total += len(docs[k % 12])
        walls: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}

        def note(key: str, child: Child) -> None:
            walls.setdefault(key, []).append(child.wall_s)
            cpus.setdefault(key, []).append(child.cpu_s)

        def fresh(name: str, rep: int, tree: Path = template.parent) -> Path:
            copy = Path(tmp) / f"{name}{rep}"
            shutil.copytree(tree, copy)
            os.sync()  # no write-back of the copy in flight while measuring
            return copy

        soakkit = [sys.executable, "-m", "soakkit", "rotate", "--path"]
        for rep in range(reps):
            kept = fresh("cli", rep, template)
            note("gzip6_keep", run_child(["gzip", "-6", "-k", *sorted(
                str(p) for p in kept.iterdir())], stdout=subprocess.DEVNULL))
            inplace = fresh("gzip_inplace", rep, template)
            note("gzip6_inplace", run_child(["gzip", "-6", *sorted(
                str(p) for p in inplace.iterdir())], stdout=subprocess.DEVNULL))
            assert not list(inplace.glob("*.json")), "gzip left sources"
            proc_root = fresh("proc", rep)
            note("rotate", run_child([*soakkit, str(proc_root)], stdout=subprocess.DEVNULL))
            assert not list(proc_root.glob("snapshots/*.json")), "not all compressed"
            if baseline_src is not None:
                base_root = fresh("base", rep)
                note("rotate_baseline_src", run_child(
                    [*soakkit, str(base_root)], stdout=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": str(baseline_src), **SAFE_PATH}))
                assert not list(base_root.glob("snapshots/*.json")), "not all compressed"
            note("durable_floor", run_child([sys.executable, "-c", DURABLE_CHILD,
                                             str(template), str(Path(tmp) / f"durable{rep}"),
                                             "copy"]))
            for mode in ("inplace", "inplace_syncfs"):
                sources = fresh(f"{mode}_src", rep, template)
                note(f"{mode}_floor", run_child([sys.executable, "-c", DURABLE_CHILD,
                                                 str(sources), str(Path(tmp) / f"{mode}{rep}"),
                                                 mode]))
            in_root = fresh("inproc", rep)
            cpu0 = time.process_time()
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            result = rotate(in_root, RotationPolicy(), now=datetime.now(UTC), jobs=2)
            wall = time.perf_counter() - start
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            note("rotate_in_process", Child(
                wall, time.process_time() - cpu0 + children.ru_utime - children0.ru_utime,
                children.ru_stime - children0.ru_stime, 0, ""))
            assert result.exit_code == 0, result.record["errors"]
        if baseline_src is not None:  # the same bytes as the baseline tree's rotate
            def gz_files(root: Path) -> dict[str, bytes]:
                return {p.name: p.read_bytes() for p in (root / "snapshots").glob("*.gz")}
            assert gz_files(Path(tmp) / "proc0") == gz_files(Path(tmp) / "base0"), \
                "rotate's .gz files differ from the baseline tree's"
        split = inplace_floor_parts(template, Path(tmp) / "floor_parts")
        compressed = sum(p.stat().st_size for p in (Path(tmp) / "inproc0").rglob("*.gz"))
        best = {key: min(values) for key, values in walls.items()}
        best_cpu = {key: min(values) for key, values in cpus.items()}
        inplace_s, keep_s = best["gzip6_inplace"], best["gzip6_keep"]
        out: dict[str, Any] = {
            "files": count, "input_mb": total / 1e6, "load_average": os.getloadavg()[0],
            "best_wall_s": best, "best_cpu_s": best_cpu, "walls_all": walls,
            "throughput_vs_gzip6_inplace": {k: inplace_s / v for k, v in best.items()},
            "throughput_vs_gzip6_keep": {k: keep_s / v for k, v in best.items()},
            "process_throughput_vs_gzip_inplace": inplace_s / best["rotate"],
            "process_throughput_vs_gzip_cli": keep_s / best["rotate"],  # gzip -6 -k
            "inplace_floor_parts_in_process_s": split,
            "gzip6_ratio": total / compressed}
        import gzip

        blobs = [p.read_bytes() for p in sorted(template.iterdir())]
        start = time.perf_counter()
        sizes = [len(gzip.compress(b, compresslevel=6, mtime=0)) for b in blobs]
        out["gzip6_inprocess_codec_only_mb_s"] = total / 1e6 / (time.perf_counter() - start)
        try:
            import zstandard
        except ImportError:
            return out
        start = time.perf_counter()
        sizes = [len(zstandard.ZstdCompressor(level=3, write_checksum=True).compress(b))
                 for b in blobs]
        out["zstd3_inprocess_codec_only_mb_s"] = total / 1e6 / (time.perf_counter() - start)
        out["zstd3_ratio"] = total / sum(sizes)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--compress-files", type=int, default=5_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="compression: also time this source tree's soakkit rotate "
                             "(PYTHONPATH=DIR; e.g. a `git archive` of an older commit)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS,
                        help="which measurements (default: all)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    with bytecode_cache():  # soakkit from bytecode, as installed (numpy has its own)
        if "planning" in args.parts:
            report["planning"] = planning(args.files, args.reps)
        if "startup" in args.parts:
            report["startup"] = startup(args.reps)
        if "compression" in args.parts:
            report["compression"] = compression(args.compress_files, args.reps,
                                                args.baseline_src)
    _print(report, args.reps)
    save(args.out, report)
    return 0


PARTS = ("planning", "startup", "compression")


def _print(report: dict[str, Any], reps: int) -> None:
    p, s, c = (report.get(k, {}) for k in PARTS)
    if p:
        _print_planning(p, reps)
    if s:
        _print_startup(s)
    if c:
        _print_compression(c)


def _print_planning(p: dict[str, Any], reps: int) -> None:
    print(f"planning {p['files']} files, whole processes (best of {reps}, load "
          f"{p['load_average']:.1f}): find -mtime +7 {p['find_s']:.3f} s; soakkit rotate "
          f"--dry-run (summary, {p['summary_lines']} lines) {p['dry_run_process_s']:.3f} s -> "
          f"{p['dry_run_over_find']:.2f}x; peak RSS {p['dry_run_peak_rss_mib']:.0f} MiB; "
          f"--list ({p['listed_lines']} lines) {p['dry_run_list_process_s']:.3f} s -> "
          f"{p['dry_run_list_over_find']:.2f}x")
    print(f"legacy spelling python -m soakkit.rotation --dry-run "
          f"{p['legacy_dry_run_process_s']:.3f} s -> {p['legacy_dry_run_over_find']:.2f}x "
          f"find; with --list {p['legacy_dry_run_list_process_s']:.3f} s -> "
          f"{p['legacy_dry_run_list_over_find']:.2f}x")
    parts = ", ".join(f"{k.removesuffix('_s')} {v:.3f} s"
                      for k, v in p["dry_run_parts_in_process"].items())
    print("planning, in-process (scan + plan + rendering in the scan processes): "
          f"{p['plan_in_process_s']:.3f} s "
          f"({p['plan_over_find']:.2f}x find); one process "
          f"{p['plan_one_process_in_process_s']:.3f} s; dry run's parts: {parts}")
    print(f"floor, whole processes: python scandir+lstat of every file, one process "
          f"{p['python_lstat_floor_one_process_s']:.3f} s, two processes "
          f"{p['python_lstat_floor_two_processes_s']:.3f} s; two processes that also print "
          f"a line per file {p['python_lstat_print_floor_two_processes_s']:.3f} s "
          f"({p['python_lstat_print_floor_over_find']:.2f}x find); importing numpy first, two "
          f"processes {p['python_lstat_numpy_floor_two_processes_s']:.3f} s "
          f"({p['python_lstat_numpy_floor_over_find']:.2f}x find)")
    c = p["cpu_best_s"]
    print(f"CPU (user + system, best of {reps}): find {c['find']:.3f} s, soakkit rotate "
          f"--dry-run {c['dry_run']:.3f} s ({p['dry_run_over_find_cpu']:.2f}x), floor in two "
          f"processes {c['floor_two_processes']:.3f} s, with numpy "
          f"{c['floor_two_processes_numpy']:.3f} s")
    print(f"floor, whole processes: the least python program printing the same action lines "
          f"(checked byte for byte) {p['python_same_output_floor_s']:.3f} s "
          f"({p['python_same_output_floor_over_find']:.2f}x find); soakkit is "
          f"{p['dry_run_over_same_output_floor']:.2f}x it")


def _print_startup(s: dict[str, Any]) -> None:
    print(f"start-up, whole processes: soakkit --help {s['help_s']:.3f} s, soakkit rotate "
          f"--dry-run on an empty tree {s['rotate_empty_tree_s']:.3f} s, python -c pass "
          f"{s['python_pass_s']:.3f} s; largest imports: " + ", ".join(
              f"{k} {v * 1000:.0f} ms" for k, v in s["rotate_imports_cumulative_s"].items()))


_COMPRESSION_LABELS = {
    "gzip6_inplace": "gzip -6 in place", "gzip6_keep": "gzip -6 -k",
    "rotate": "soakkit rotate (process)", "rotate_baseline_src": "baseline tree's rotate",
    "rotate_in_process": "rotate() in process", "durable_floor": "floor: copy, fsync each",
    "inplace_floor": "floor in place, fsync each", "inplace_syncfs_floor":
        "floor in place, syncfs per 256"}


def _print_compression(c: dict[str, Any]) -> None:
    print(f"compression {c['files']} files, {c['input_mb']:.1f} MB (load "
          f"{c['load_average']:.1f}), best wall s / CPU s / throughput vs gzip -6 in place / "
          f"vs gzip -6 -k; gzip ratio {c['gzip6_ratio']:.2f}")
    for key, label in _COMPRESSION_LABELS.items():
        if key in c["best_wall_s"]:
            print(f"  {label:32s} {c['best_wall_s'][key]:6.2f} s {c['best_cpu_s'][key]:6.2f} s "
                  f"{c['throughput_vs_gzip6_inplace'][key]:5.2f}x "
                  f"{c['throughput_vs_gzip6_keep'][key]:5.2f}x")
    print("in-place floor's parts, in-process, one core: " + ", ".join(
        f"{k} {v:.3f} s" for k, v in c["inplace_floor_parts_in_process_s"].items()))


if __name__ == "__main__":
    sys.exit(main())
