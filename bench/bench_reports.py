"""The KPI report as a user meets it, next to papermill's floor measured in the same run.

A 24-iteration ``mixed`` soak at 10 simulated minutes; then, alternating, ``--reps`` times:

* whole processes: ``soakkit report kpi`` against ``papermill`` running a notebook with
  one parameter cell (interpreter, imports, kernel start and shutdown: the floor), wall
  seconds and CPU seconds (user + system of the process and its kernel, from ``wait4``);
* in-process: ``soakkit.notebooks.run("kpi", ...)`` against
  ``papermill.execute_notebook`` of the same empty notebook.

Where a report's seconds go, as the runner records them in ``manifest.json``
(:func:`soakkit.notebooks.outputs.seconds`): the kernel's start, the kernel's start and
shutdown with papermill, the cells by what they do (imports and loading, figures, the
rest), and the rendering of the figures and ``report.html``.

    python bench/bench_reports.py --reps 5 --out bench/out/reports.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
from _common import SAFE_PATH, load_average, make_parser, run_child, save
from nbformat.v4 import new_code_cell, new_notebook

from soakkit.notebooks.runner import run
from soakkit.soak import SoakOptions, run_soak


def _empty_notebook(path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("x: int = 1")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def _where(output_dir: Path) -> dict[str, Any]:
    """Where one report's seconds went, as its runner recorded them (``manifest.json``)."""
    seconds: dict[str, Any] = json.loads((output_dir / "manifest.json").read_text())["seconds"]
    return seconds


def report(reps: int, baseline_src: Path | None = None) -> dict[str, Any]:
    """Whole processes and in-process, alternating with the floor (module doc); with
    ``baseline_src``, also that source tree's ``soakkit report kpi`` (``PYTHONPATH``)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_soak(SoakOptions(iterations=24, sim_minutes=10, mode="mixed", gate="production",
                             artifacts=root / "soak"), env={})
        empty = root / "empty.ipynb"
        _empty_notebook(empty)
        floor_cmd = [sys.executable, "-m", "papermill", "--no-progress-bar", str(empty),
                     str(root / "floor.ipynb")]
        kpi_cmd = [sys.executable, "-m", "soakkit", "report", "kpi", "-p", "artifacts",
                   str(root / "soak"), "-p", "gate", "production", "--out",
                   str(root / "reports")]
        floors, kpis, floors_in, kpis_in, where, loads = [], [], [], [], [], []
        bases = []
        for k in range(reps):
            loads.append(load_average())
            floors.append(run_child(floor_cmd, stderr=subprocess.DEVNULL))
            if baseline_src is not None:
                bases.append(run_child([*kpi_cmd[:-1], str(root / "baseline")],
                                       stderr=subprocess.DEVNULL,
                                       env={**os.environ, **SAFE_PATH,
                                            "PYTHONPATH": str(baseline_src)}))
            kpis.append(run_child(kpi_cmd, stderr=subprocess.DEVNULL))
            where.append(_where(root / "reports" / "latest" / "kpi"))
            start = time.perf_counter()
            papermill.execute_notebook(str(empty), str(root / f"out{k}.ipynb"),
                                       progress_bar=False, kernel_name="python3")
            floors_in.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = run("kpi", {"artifacts": str(root / "soak"), "gate": "production"},
                         root / "reports")
            kpis_in.append(time.perf_counter() - start)
            assert result.exit_code == 0, result.evalue
        best = min(range(reps), key=lambda i: kpis[i].wall_s)
        floor_wall, kpi_wall = min(c.wall_s for c in floors), min(c.wall_s for c in kpis)
        floor_cpu, kpi_cpu = min(c.cpu_s for c in floors), min(c.cpu_s for c in kpis)
        return {
            "iterations": 24, "load_average": [min(loads), max(loads)],
            "whole_process": {"papermill_empty_s": floor_wall, "kpi_report_s": kpi_wall,
                              "above_floor_s": kpi_wall - floor_wall,
                              "papermill_empty_cpu_s": floor_cpu, "kpi_report_cpu_s": kpi_cpu,
                              "above_floor_cpu_s": kpi_cpu - floor_cpu,
                              "above_floor_cpu_median_s": statistics.median(
                                  k.cpu_s - f.cpu_s for k, f in zip(kpis, floors,
                                                                    strict=True))},
            "in_process": {"empty_notebook_s": min(floors_in), "kpi_report_s": min(kpis_in),
                           "above_floor_s": min(kpis_in) - min(floors_in)},
            "above_floor_s": kpi_wall - floor_wall, "phases": where[best],
            "baseline": {"source": str(baseline_src), "kpi_report_s": min(c.wall_s for c in bases),
                         "above_floor_s": min(c.wall_s for c in bases) - floor_wall,
                         "kpi_report_cpu_s": min(c.cpu_s for c in bases)} if bases else None}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="also time this soakkit source tree's report, alternating "
                             "(e.g. `git archive main | tar -x -C DIR`)")
    args = parser.parse_args(argv)
    r = report(args.reps, args.baseline_src)
    w, i, p = r["whole_process"], r["in_process"], r["phases"]
    print(f"KPI report, 24 iterations, whole processes (best of {args.reps}, load "
          f"{r['load_average'][0]:.1f}-{r['load_average'][1]:.1f}): soakkit report kpi "
          f"{w['kpi_report_s']:.2f} s vs papermill on an empty notebook "
          f"{w['papermill_empty_s']:.2f} s -> {w['above_floor_s']:+.2f} s above the floor; "
          f"CPU {w['kpi_report_cpu_s']:.2f} s vs {w['papermill_empty_cpu_s']:.2f} s -> "
          f"{w['above_floor_cpu_s']:+.2f} s (median of the pairs "
          f"{w['above_floor_cpu_median_s']:+.2f} s)")
    print(f"in-process: run('kpi') {i['kpi_report_s']:.2f} s vs papermill.execute_notebook "
          f"{i['empty_notebook_s']:.2f} s -> {i['above_floor_s']:+.2f} s")
    print(f"where (the fastest whole-process report): kernel start {p['kernel_start_s']:.2f} s "
          f"(start, shutdown and papermill {p['kernel_s']:.2f} s), cells {p['cells_s']:.2f} s "
          f"(imports and loading {p['imports_s']:.2f} s, figures {p['charts_s']:.2f} s, the "
          f"rest {p['work_s']:.2f} s), figures and report.html {p['render_s']:.2f} s")
    if r["baseline"]:
        b = r["baseline"]
        print(f"baseline {b['source']}: soakkit report kpi {b['kpi_report_s']:.2f} s -> "
              f"{b['above_floor_s']:+.2f} s above the floor; CPU {b['kpi_report_cpu_s']:.2f} s")
    save(args.out, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
