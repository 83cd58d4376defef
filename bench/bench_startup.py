"""Start-up as a user meets it: ``soakkit soak --iterations 1`` as a whole process against
``python -c "import numpy, polars"`` (the libraries one iteration needs: the simulation's
arrays and the run's ``iterations.parquet``), interleaved, best and median of ``--reps``,
wall and CPU time (user + system, from ``wait4``).

Both run as an installed package does: from bytecode (``_common.bytecode_cache``; the
warm-up run fills it). Without it, an editable install in an environment with
``PYTHONDONTWRITEBYTECODE=1`` (this machine's) compiles soakkit's modules from source in
every process, about 0.1 s that no user's install pays; that figure is printed too
(``soak_no_bytecode``).

Also timed: the same soak with ``--sim-minutes 1`` (what is start-up and what is the
default 10 simulated minutes), and the split inside one fresh process (``PARTS_CHILD``):
the imports of ``soakkit`` and of the ``soak`` command, then the command itself.

    python bench/bench_startup.py --reps 7 --out bench/out/startup.json
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import Child, bytecode_cache, load_average, make_parser, run_child, save

#: One fresh process: CPU seconds of the imports (``soakkit.cli`` and the ``soak`` command's
#: modules), then of the command (``main``), printed as two numbers on the last line.
PARTS_CHILD = """
import sys, time
start = time.process_time()
from soakkit.cli import main
import soakkit.cli.soak, soakkit.soak
imported = time.process_time()
try:
    main(["soak", "--iterations", "1", "--artifacts", sys.argv[1]])
except SystemExit:
    pass
print(imported - start, time.process_time() - imported)
"""


def _stats(children: list[Child]) -> dict[str, float]:
    walls, cpus = [c.wall_s for c in children], [c.cpu_s for c in children]
    return {"wall_best_s": min(walls), "wall_median_s": statistics.median(walls),
            "cpu_best_s": min(cpus), "cpu_median_s": statistics.median(cpus)}


def startup(reps: int) -> dict[str, Any]:
    """The soak and its baseline, alternating, ``reps`` times each; then the split."""
    baseline = [sys.executable, "-c", "import numpy, polars"]
    runs: dict[str, list[Child]] = {"baseline": [], "soak": [], "soak_1min": [],
                                    "soak_no_bytecode": []}
    parts: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, bytecode_cache():
        source = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        source["PYTHONDONTWRITEBYTECODE"] = "1"
        soak = [sys.executable, "-m", "soakkit", "soak", "--iterations", "1", "--artifacts",
                str(Path(tmp) / "a")]
        run_child(soak)  # compile and cache the modules, warm the file cache
        run_child(baseline)
        for _ in range(reps):
            runs["baseline"].append(run_child(baseline))
            runs["soak"].append(run_child(soak))
            runs["soak_1min"].append(run_child([*soak, "--sim-minutes", "1"]))
            runs["soak_no_bytecode"].append(run_child(soak, env=source))
            out = run_child([sys.executable, "-c", PARTS_CHILD, str(Path(tmp) / "p")]).stdout
            imports_s, command_s = (float(x) for x in out.splitlines()[-1].split())
            parts.append((imports_s, command_s))
    report: dict[str, Any] = {name: _stats(children) for name, children in runs.items()}
    base, soak_stats = report["baseline"], report["soak"]
    for key in ("wall_best_s", "wall_median_s", "cpu_best_s", "cpu_median_s"):
        report[f"soak_over_baseline_{key.removesuffix('_s')}"] = soak_stats[key] / base[key]
    report["in_process_cpu_s"] = {"imports": min(p[0] for p in parts),
                                  "command": min(p[1] for p in parts)}
    report["load_average"] = load_average()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    report = {"startup": startup(args.reps)}
    s = report["startup"]
    b, k, one, src = s["baseline"], s["soak"], s["soak_1min"], s["soak_no_bytecode"]
    print(f"start-up (load {s['load_average']:.1f}, {args.reps} alternating runs each; best / "
          f"median): python -c 'import numpy, polars' wall {b['wall_best_s']:.3f} / "
          f"{b['wall_median_s']:.3f} s, CPU {b['cpu_best_s']:.3f} / {b['cpu_median_s']:.3f} s")
    print(f"soakkit soak --iterations 1: wall {k['wall_best_s']:.3f} / {k['wall_median_s']:.3f} s"
          f" ({s['soak_over_baseline_wall_best']:.2f}x / {s['soak_over_baseline_wall_median']:.2f}x"
          f"), CPU {k['cpu_best_s']:.3f} / {k['cpu_median_s']:.3f} s "
          f"({s['soak_over_baseline_cpu_best']:.2f}x / {s['soak_over_baseline_cpu_median']:.2f}x)")
    print(f"the same with --sim-minutes 1: wall {one['wall_best_s']:.3f} s, CPU "
          f"{one['cpu_best_s']:.3f} s; in one process, CPU: imports "
          f"{s['in_process_cpu_s']['imports']:.3f} s, the command "
          f"{s['in_process_cpu_s']['command']:.3f} s")
    print(f"the soak compiling soakkit from source (PYTHONDONTWRITEBYTECODE=1, no cache): "
          f"wall {src['wall_best_s']:.3f} / {src['wall_median_s']:.3f} s "
          f"({src['wall_best_s'] / b['wall_best_s']:.2f}x / "
          f"{src['wall_median_s'] / b['wall_median_s']:.2f}x), CPU {src['cpu_best_s']:.3f} s")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
