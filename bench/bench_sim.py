"""Mini-soak speed: engine throughput (synthetic and replay), soak wall times, a long soak.

Every figure is printed next to a baseline measured in the same run, as a ratio:

* throughput, in process – simulate + strategy + KPIs of 60-minute volatile iterations,
  replay (window + strategy + KPIs) of a 60-minute recorded tape, and replay of the real
  L2 sample (``examples/tapes/binance-spot-btcusdt``, 5 minutes, receive times and 25
  depth levels; the same window without its depth as the L1 figure), in market events
  (trades + quote updates + depth updates) per second, against the floor of touching each
  event once (one normal draw and a cumulative sum per event with numpy);
* smoke soak, whole process – ``soakkit soak --profile steady_safe --iterations 3 --mode
  volatile --seed 7`` as a subprocess, against ``python -m soakkit --version``;
* replay soak, whole process – ``soakkit soak --market-data TAPE --iterations 1
  --sim-minutes 60`` (reading and checking the tape included), against the same floor;
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import load_tape, record, replay_window
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.sim.tapefile import write_tape
from soakkit.soak import SoakOptions, run_soak

REAL_SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tapes" / \
    "binance-spot-btcusdt"


def _iteration(seed: int, minutes: int, values: dict[str, Any]) -> int:
    market, strategy = np.random.SeedSequence(seed).spawn(2)
    tape = simulate_market("volatile", minutes, np.random.default_rng(market))
    return _run(tape, values, strategy)


def _run(tape: MarketTape, values: dict[str, Any], seed: Any) -> int:
    result = run_strategy(tape, values, np.random.default_rng(seed))
    compute_kpis(tape, result, values)
    return tape.events


def _floor(events: int, rep: int) -> float:
    rng = np.random.default_rng(rep)
    start = time.perf_counter()
    np.cumsum(rng.standard_normal(events))
    return events / (time.perf_counter() - start)


def throughput(reps: int, tape_dir: Path) -> dict[str, float]:
    values = dict(resolve("steady_safe", env={}).values)
    _iteration(0, 60, values)  # warm up imports and caches
    recorded = load_tape(tape_dir)
    sim_rates, replay_rates, floor_rates = [], [], []
    events = 0
    for rep in range(reps):
        start = time.perf_counter()
        events = _iteration(rep + 1, 60, values)
        sim_rates.append(events / (time.perf_counter() - start))
        floor_rates.append(_floor(events, rep))
        start = time.perf_counter()
        n = _run(replay_window(recorded, 1, 60), values, rep)
        replay_rates.append(n / (time.perf_counter() - start))
    sim, floor = statistics.median(sim_rates), statistics.median(floor_rates)
    replay = statistics.median(replay_rates)
    real = load_tape(REAL_SAMPLE)  # read and checked once, as a soak does
    l2_rates, l1_rates = [], []
    l2_events = l1_events = 0
    for rep in range(reps + 1):  # the first pass computes the tape's level events, once
        for l2, rates in ((True, l2_rates), (False, l1_rates)):
            start = time.perf_counter()
            window = replay_window(real, 1, 5)
            window = window if l2 else replace(window, depth=None)
            n = _run(window, values, rep)
            if rep:
                rates.append(n / (time.perf_counter() - start))
            l2_events, l1_events = (n, l1_events) if l2 else (l2_events, n)
    l2, l1_rate = statistics.median(l2_rates), statistics.median(l1_rates)
    return {"events_per_iteration": float(events), "sim_events_per_s": sim,
            "replay_events_per_s": replay, "floor_events_per_s": floor,
            "floor_over_sim": floor / sim, "floor_over_replay": floor / replay,
            "real_l2_events": float(l2_events), "real_l1_events": float(l1_events),
            "replay_real_l2_events_per_s": l2, "replay_real_l1_events_per_s": l1_rate,
            "floor_over_real_l2": floor / l2}


def write_hour_tape(folder: Path) -> Path:
    """A 60-minute mixed synthetic tape written in the tape format (what replay reads)."""
    market = simulate_market("mixed", 61, np.random.default_rng(11))
    return write_tape(folder, record(market, 1_700_000_000 * 10**9, "BENCH", "bench_sim"))


def _wall(cmd: list[str], reps: int, verdict_exit: bool = False) -> float:
    """Median wall time of ``cmd``; ``verdict_exit``: exit 1 with no error line is a FAIL
    verdict (a soak that ran to its end), not a failure."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        failed_verdict = verdict_exit and done.returncode == 1 and "error:" not in done.stderr
        if done.returncode != 0 and not failed_verdict:
            raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return statistics.median(times)


def smoke_soak(reps: int, tape_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        soak = _wall([sys.executable, "-m", "soakkit", "soak", "--profile", "steady_safe",
                      "--iterations", "3", "--mode", "volatile", "--seed", "7",
                      "--artifacts", tmp], reps)
        replay = _wall([sys.executable, "-m", "soakkit", "soak", "--market-data",
                        str(tape_dir), "--iterations", "1", "--sim-minutes", "60",
                        "--artifacts", tmp], reps)
    floor = _wall([sys.executable, "-m", "soakkit", "--version"], reps)
    events = replay_window(load_tape(tape_dir), 1, 60).events
    return {"soak_s": soak, "floor_s": floor, "soak_over_floor": soak / floor,
            "replay_soak_s": replay, "replay_events": float(events),
            "replay_over_floor": replay / floor,
            "replay_whole_process_events_per_s": events / replay}


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
                         "production", "--artifacts", tmp], 1, verdict_exit=True)
    return {"soak_s": soak, "bare_sim_s": bare, "soak_over_bare": soak / bare,
            "soak_process_s": process, "process_over_bare": process / bare}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tape_dir = write_hour_tape(Path(tmp) / "tape")
        report = {"throughput": throughput(args.reps, tape_dir),
                  "smoke_soak": smoke_soak(args.reps, tape_dir), "long_soak": long_soak()}
    t, s, lng = report["throughput"], report["smoke_soak"], report["long_soak"]
    print(f"synthetic       {t['sim_events_per_s'] / 1e6:6.2f} M events/s in process "
          f"(floor {t['floor_events_per_s'] / 1e6:.1f} M/s, floor/sim {t['floor_over_sim']:.1f}x, "
          f"{t['events_per_iteration']:.0f} events per 60-min iteration)")
    print(f"replay          {t['replay_events_per_s'] / 1e6:6.2f} M events/s in process "
          f"(floor/replay {t['floor_over_replay']:.1f}x)")
    print(f"replay real L2  {t['replay_real_l2_events_per_s'] / 1e6:6.2f} M events/s in process "
          f"({t['real_l2_events']:.0f} events; the same window L1: "
          f"{t['replay_real_l1_events_per_s'] / 1e6:.2f} M/s; floor/L2 "
          f"{t['floor_over_real_l2']:.1f}x)")
    print(f"smoke soak      {s['soak_s']:6.2f} s whole process (floor `soakkit --version` "
          f"{s['floor_s']:.2f} s, ratio {s['soak_over_floor']:.2f}x)")
    print(f"replay soak     {s['replay_soak_s']:6.2f} s whole process for "
          f"{s['replay_events']:.0f} events, {s['replay_whole_process_events_per_s'] / 1e6:.2f} "
          f"M events/s (ratio to floor {s['replay_over_floor']:.2f}x)")
    print(f"24 x 60 min     {lng['soak_s']:6.2f} s in process, as a whole `soakkit soak` process "
          f"{lng['soak_process_s']:.2f} s (bare simulations in process {lng['bare_sim_s']:.2f} s; "
          f"ratios {lng['soak_over_bare']:.2f}x, {lng['process_over_bare']:.2f}x)")
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
