"""Mini-soak speed: simulator throughput, the smoke soak's wall time, a 24 × 60-minute soak.

Every figure is printed next to a baseline measured in the same run, as a ratio:

* throughput – simulate + strategy + KPIs of 60-minute volatile iterations, in market
  events per second, against the floor of touching each event once (one normal draw and a
  cumulative sum per event with numpy);
* smoke soak – ``soakkit soak --profile steady_safe --iterations 3 --mode volatile --seed 7``
  as a subprocess, against ``python -m soakkit --version`` (interpreter and import floor);
* long soak – 24 iterations × 60 simulated minutes through :func:`soakkit.soak.run_soak`
  (config, tuner, atomic artifacts; in-process) and as a whole ``soakkit soak`` process,
  against the same 24 simulations alone (in-process).

    python bench/bench_sim.py --reps 5 --out bench/out/sim.json
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
from soakkit.sim.strategy import run_strategy
from soakkit.soak import SoakOptions, run_soak


def _iteration(seed: int, minutes: int, values: dict[str, Any]) -> int:
    market, strategy = np.random.SeedSequence(seed).spawn(2)
    tape = simulate_market("volatile", minutes, np.random.default_rng(market))
    result = run_strategy(tape, values, np.random.default_rng(strategy))
    compute_kpis(tape, result, values)
    return tape.events


def throughput(reps: int) -> dict[str, float]:
    values = dict(resolve("steady_safe", env={}).values)
    _iteration(0, 60, values)  # warm up imports and caches
    sim_rates, floor_rates = [], []
    for rep in range(reps):
        start = time.perf_counter()
        events = _iteration(rep + 1, 60, values)
        sim_rates.append(events / (time.perf_counter() - start))
        rng = np.random.default_rng(rep)
        start = time.perf_counter()
        np.cumsum(rng.standard_normal(events))
        floor_rates.append(events / (time.perf_counter() - start))
    sim, floor = statistics.median(sim_rates), statistics.median(floor_rates)
    return {"events_per_iteration": float(events), "sim_events_per_s": sim,
            "floor_events_per_s": floor, "floor_over_sim": floor / sim}


def _wall(cmd: list[str], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def smoke_soak(reps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        soak = _wall([sys.executable, "-m", "soakkit", "soak", "--profile", "steady_safe",
                      "--iterations", "3", "--mode", "volatile", "--seed", "7",
                      "--artifacts", tmp], reps)
    floor = _wall([sys.executable, "-m", "soakkit", "--version"], reps)
    return {"soak_s": soak, "floor_s": floor, "soak_over_floor": soak / floor}


def long_soak() -> dict[str, float]:
    values = dict(resolve("steady_safe", env={}).values)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_soak(SoakOptions(iterations=24, sim_minutes=60, mode="volatile", seed=1,
                             gate="production", artifacts=Path(tmp)), env={})
        soak = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(1, 25):
        _iteration(n, 60, values)
    bare = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        process = _wall([sys.executable, "-m", "soakkit", "soak", "--iterations", "24",
                         "--sim-minutes", "60", "--mode", "volatile", "--seed", "1", "--gate",
                         "production", "--artifacts", tmp], 1)
    return {"soak_s": soak, "bare_sim_s": bare, "soak_over_bare": soak / bare,
            "soak_process_s": process, "process_over_bare": process / bare}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    report = {"throughput": throughput(args.reps), "smoke_soak": smoke_soak(args.reps),
              "long_soak": long_soak()}
    t, s, lng = report["throughput"], report["smoke_soak"], report["long_soak"]
    print(f"throughput (in-process) {t['sim_events_per_s'] / 1e6:6.2f} M events/s  "
          f"(floor {t['floor_events_per_s'] / 1e6:.1f} M/s, floor/sim {t['floor_over_sim']:.1f}x, "
          f"{t['events_per_iteration']:.0f} events per 60-min iteration)")
    print(f"smoke soak (whole process) {s['soak_s']:6.2f} s  (floor `soakkit --version` "
          f"{s['floor_s']:.2f} s, ratio {s['soak_over_floor']:.2f}x)")
    print(f"24 x 60 min (in-process) {lng['soak_s']:6.2f} s, as a whole `soakkit soak` process "
          f"{lng['soak_process_s']:.2f} s (bare simulations in-process {lng['bare_sim_s']:.2f} s; "
          f"ratios {lng['soak_over_bare']:.2f}x, {lng['process_over_bare']:.2f}x)")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
