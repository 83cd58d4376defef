"""What bokeh costs a sweep: starting the local Dask cluster with and without it.

bokeh serves only Dask's dashboard; nothing in soakkit imports it. This starts and closes
the local cluster exactly as ``soakkit sweep`` does (``start_local_cluster``), in fresh
processes, alternately with bokeh importable (the dashboard is served) and hidden (as
without ``soakkit[dashboard]``), and reports the start-up times, their ratio, and the disk
space bokeh's packages take.

    python bench/bench_dashboard.py --reps 5 --out bench/out/dashboard.json
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import make_parser, save

CHILD = """\
import sys, time
if {hide}:
    sys.modules["bokeh"] = None
if __name__ == "__main__":
    t0 = time.perf_counter()
    from soakkit.sweep.cluster import close_local_cluster, start_local_cluster
    client, cluster = start_local_cluster({workers})
    started = time.perf_counter() - t0
    close_local_cluster(client, cluster)
    print(started, "bokeh" in sys.modules and sys.modules["bokeh"] is not None)
"""


def _start(hide: bool, workers: int, folder: Path) -> tuple[float, bool]:
    script = folder / f"child_{int(hide)}.py"
    script.write_text(CHILD.format(hide=hide, workers=workers))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True, cwd=folder)
    seconds, imported = done.stdout.split()
    return float(seconds), imported == "True"


def _size(package: str) -> int:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return 0
    root = Path(next(iter(spec.submodule_search_locations)))
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> int:
    p = make_parser(__doc__)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    if importlib.util.find_spec("bokeh") is None:
        print("bokeh is not installed: pip install 'soakkit[dashboard]'", file=sys.stderr)
        return 2
    import tempfile

    times: dict[str, list[float]] = {"with_bokeh": [], "without_bokeh": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.reps):
            for key, hide in (("with_bokeh", False), ("without_bokeh", True)):
                seconds, imported = _start(hide, args.workers, Path(tmp))
                assert imported == (not hide), (key, imported)
                times[key].append(seconds)
    with_s, without_s = (statistics.median(times[k]) for k in ("with_bokeh", "without_bokeh"))
    result: dict[str, Any] = {
        "args": vars(args) | {"out": str(args.out)}, "load": os.getloadavg()[0],
        "startup": {"with_bokeh_s": with_s, "without_bokeh_s": without_s,
                    "with_over_without": with_s / without_s, "runs": times},
        "disk": {"bokeh_bytes": _size("bokeh"), "xyzservices_bytes": _size("xyzservices")}}
    print(f"local cluster start ({args.workers} worker(s), median of {args.reps}, load "
          f"{result['load']:.1f}): with bokeh {with_s:.2f} s, without {without_s:.2f} s, "
          f"ratio {with_s / without_s:.2f}x")
    print(f"disk: bokeh {result['disk']['bokeh_bytes'] / 2**20:.1f} MiB, xyzservices "
          f"{result['disk']['xyzservices_bytes'] / 2**20:.1f} MiB")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
