"""Catalog and report speed, each next to its baseline measured in the same run.

* catalog – ``load_catalog`` over ``--files`` generated ITER_SUMMARY files (real documents
  from a mini-soak, renumbered, 1,000 per run folder), cold (no cache) and warm (cache
  present), in files/s, next to a plain ``json.load`` loop over the same files;
* KPI report – ``soakkit.notebooks.run("kpi", ...)`` on a 24-iteration run (papermill, a
  fresh kernel, HTML rendering) next to papermill running an empty notebook (the kernel
  start floor).

    python bench/bench_reports.py --files 100000 --reps 3 --out bench/out/reports.json
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
from _common import make_parser, save
from nbformat.v4 import new_code_cell, new_notebook

from soakkit.catalog import cache_dir, load_catalog
from soakkit.notebooks import run
from soakkit.soak import SoakOptions, run_soak


def make_catalog_tree(root: Path, files: int) -> None:
    source = root / "source"
    run = run_soak(SoakOptions(iterations=12, sim_minutes=5, mode="mixed", gate="production",
                               artifacts=source, now="2026-01-01T00:00:00Z"), env={})
    docs = [json.loads((run.run_dir / f"ITER_SUMMARY_{n}.json").read_text())
            for n in range(1, 13)]
    for k in range(files):
        folder = root / "soak" / "runs" / f"run{k // 1000:04d}"
        if k % 1000 == 0:
            folder.mkdir(parents=True)
            shutil.copy(run.run_dir / "RUN.json", folder / "RUN.json")
        doc = dict(docs[k % len(docs)], iteration=k % 1000 + 1)
        (folder / f"ITER_SUMMARY_{k % 1000 + 1}.json").write_text(
            json.dumps(doc, indent=2, sort_keys=True) + "\n")


def catalog(files: int, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_catalog_tree(root, files)
        os.sync()
        paths = sorted(str(p) for p in (root / "soak" / "runs").glob("*/ITER_SUMMARY_*.json"))
        base, cold, warm = [], [], []
        for _ in range(reps):
            start = time.perf_counter()
            for path in paths:
                with open(path) as fh:
                    json.load(fh)
            base.append(time.perf_counter() - start)
            shutil.rmtree(cache_dir(root / "soak"), ignore_errors=True)
            start = time.perf_counter()
            loaded = load_catalog(root / "soak")
            cold.append(time.perf_counter() - start)
            assert loaded.frame.height == files, loaded.frame.height
            start = time.perf_counter()
            again = load_catalog(root / "soak")
            warm.append(time.perf_counter() - start)
            assert again.cached_rows == files
        b, c, w = statistics.median(base), statistics.median(cold), statistics.median(warm)
        return {"files": files, "json_load_s": b, "cold_s": c, "warm_s": w,
                "json_load_files_per_s": files / b, "cold_files_per_s": files / c,
                "warm_files_per_s": files / w, "cold_speedup": b / c, "warm_speedup": b / w}


def report(reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_soak(SoakOptions(iterations=24, sim_minutes=10, mode="mixed", gate="production",
                             artifacts=root / "soak"), env={})
        empty = root / "empty.ipynb"
        nb = new_notebook(cells=[new_code_cell("x: int = 1")])
        nb.cells[0].metadata["tags"] = ["parameters"]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, empty)
        floors, reports = [], []
        for k in range(reps):
            start = time.perf_counter()
            papermill.execute_notebook(str(empty), str(root / f"out{k}.ipynb"),
                                       progress_bar=False, kernel_name="python3")
            floors.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = run("kpi", {"artifacts": str(root / "soak"), "gate": "production"},
                         root / "reports")
            reports.append(time.perf_counter() - start)
            assert result.exit_code == 0, result.evalue
        f, r = statistics.median(floors), statistics.median(reports)
        return {"iterations": 24, "empty_notebook_s": f, "kpi_report_s": r,
                "above_floor_s": r - f}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    data = {"catalog": catalog(args.files, args.reps), "report": report(args.reps)}
    c, r = data["catalog"], data["report"]
    print(f"catalog {c['files']} files: json.load loop {c['json_load_files_per_s']:,.0f} files/s; "
          f"cold {c['cold_files_per_s']:,.0f} files/s ({c['cold_speedup']:.1f}x); warm "
          f"{c['warm_files_per_s']:,.0f} files/s ({c['warm_speedup']:.0f}x)")
    print(f"KPI report, 24 iterations: {r['kpi_report_s']:.2f} s vs empty notebook "
          f"{r['empty_notebook_s']:.2f} s -> {r['above_floor_s']:+.2f} s above the floor")
    save(args.out, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
