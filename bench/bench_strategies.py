"""Strategies: the legacy quoter through the interface, external bots over the protocol, and
the three built-ins compared.

* ``overhead`` – in-process throughput (market events per second of the process's CPU
  time) of 60-minute volatile iterations, market generation + strategy + KPIs, through the
  interface
  (``soakkit.strategy.simulate`` with the legacy quoter: what soak, sweep and replay run)
  against the direct call of the vectorised engine they ran before the interface
  (``soakkit.sim.strategy.run_strategy``), interleaved in one process, median of ``--reps``;
  with ``--baseline-tree`` also whole processes against another checkout's engine (the
  commit before the interface); the legacy quoter's event-driven form beside them;
* ``exec`` – external bots over the JSON-lines protocol on 10-minute volatile windows and on
  the 1-minute windows of the real BTCUSDT capture (``examples/tapes/binance-spot-btcusdt``):
  ``examples/exec_bot.py``, the same bot as a protocol-1 program that subscribes to every
  row and is woken by every venue answer (``example_protocol1``, its ``--protocol-1``:
  what it was before feed subscriptions and ``wake``'s ``orders``; the same fills), and a
  program that answers every step with no action (the protocol's own cost), in events per
  second of wall time, with the CPU seconds of the engine (this process) and of the bots,
  beside the same-run floor of bare pipe round trips (as many exchanges, of the same mean
  size, between this process and a child that echoes a fixed answer) and the load average;
* ``compare`` – legacy, avellaneda-stoikov and glft in a sweep (synthetic modes, evaluation
  seeds, tuner off) judged by the sweep report (``load_sweep_report``, legacy as the
  baseline), and on every window of two replayed tapes (the synthetic sample, 2-minute
  windows; the real BTCUSDT capture, 1-minute windows) with the sweep report's statistics
  (bootstrap intervals, paired sign-flip tests with Holm).

    python bench/bench_strategies.py --reps 5 --seeds 1-8 --out bench/out/strategies.json
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import SAFE_PATH, make_parser, save

from soakkit.config.layers import resolve
from soakkit.evidence.stats import bootstrap_mean_ci, holm, paired_sign_flip_p
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import load_tape, replay_window, windows_available
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import MarketTape
from soakkit.soak import SoakOptions, run_in_memory
from soakkit.strategy.engine import run_engine, simulate
from soakkit.strategy.external import ExternalStrategy
from soakkit.strategy.legacy import LegacyQuoter
from soakkit.strategy.registry import load_strategy

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "tapes" / "sample"
CAPTURE = REPO / "examples" / "tapes" / "binance-spot-btcusdt"  #: a real market (L2)
STRATEGIES = ("legacy", "avellaneda-stoikov", "glft")
_IDLE = ("import sys\nw = sys.stdout.write\nfor line in sys.stdin:\n"
         "    if line.startswith('{\"type\":\"step\"'):\n        w('{\"actions\":[]}\\n')\n"
         "    elif '\"describe\"' in line:\n        w('{\"type\":\"describe\",\"params\":[]}\\n')\n"
         "    elif '\"start\"' in line:\n        w('{\"type\":\"ready\"}\\n')\n"
         "    else:\n        break\n    sys.stdout.flush()\n")


def _load() -> float:
    return os.getloadavg()[0]


def _iteration(seed: int, minutes: int) -> tuple[MarketTape, Any]:
    market, latency = np.random.SeedSequence(seed).spawn(2)
    return simulate_market("volatile", minutes, np.random.default_rng(market)), latency


def overhead(reps: int, minutes: int) -> dict[str, Any]:
    """Events per second of CPU time (the process's own: other work on the machine does
    not count), direct and through the interface in alternating order, median of reps."""
    values = dict(resolve("steady_safe", env={}).values)
    rates: dict[str, list[float]] = {"direct": [], "interface": []}
    _iteration(0, minutes)
    for rep in range(reps):
        kinds = ("direct", "interface") if rep % 2 == 0 else ("interface", "direct")
        for kind in kinds:  # interleaved and alternated: the machine's mood hits both
            start = time.process_time()
            tape, latency = _iteration(rep + 1, minutes)
            rng = np.random.default_rng(latency)
            result = (run_strategy(tape, values, rng) if kind == "direct"
                      else simulate(LegacyQuoter(), tape, values, rng))
            compute_kpis(tape, result, values)
            rates[kind].append(tape.events / (time.process_time() - start))
    tape, latency = _iteration(reps + 1, min(minutes, 10))
    start = time.process_time()
    run_engine(tape, LegacyQuoter(), values, np.random.default_rng(latency))
    event_driven = tape.events / (time.process_time() - start)
    d, t = statistics.median(rates["direct"]), statistics.median(rates["interface"])
    return {"minutes": minutes, "direct_events_per_s": d, "interface_events_per_s": t,
            "direct_all": rates["direct"], "interface_all": rates["interface"],
            "overhead": 1.0 - t / d, "event_driven_events_per_s": event_driven,
            "load": _load()}


_TREE_RUN = """
import statistics, sys, time
import numpy as np
from soakkit.config.layers import resolve
from soakkit.kpi import compute_kpis
from soakkit.sim.market import simulate_market
VIA
values = dict(resolve("steady_safe", env={}).values)
rates = []
for rep in range(REPS):
    market, latency = np.random.SeedSequence(rep + 1).spawn(2)
    start = time.process_time()
    tape = simulate_market("volatile", MINUTES, np.random.default_rng(market))
    compute_kpis(tape, run(tape, values, np.random.default_rng(latency)), values)
    rates.append(tape.events / (time.process_time() - start))
print(statistics.median(rates))
"""
_DIRECT = "from soakkit.sim.strategy import run_strategy as run"
_INTERFACE = ("from soakkit.strategy import simulate\nfrom soakkit.strategy.legacy import "
              "LegacyQuoter\ndef run(tape, values, rng):\n"
              "    return simulate(LegacyQuoter(), tape, values, rng)")


def against_tree(tree: Path, reps: int, minutes: int, rounds: int = 3) -> dict[str, Any]:
    """Whole processes, alternating: the vectorised engine of another checkout (the tree
    before the interface) against this tree's legacy quoter through the interface."""
    def measure(pythonpath: str, via: str) -> float:
        code = (_TREE_RUN.replace("VIA", via).replace("REPS", str(reps))
                .replace("MINUTES", str(minutes)))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": pythonpath, **SAFE_PATH}, check=True)
        return float(done.stdout.strip())

    before, now = [], []
    for _ in range(rounds):
        before.append(measure(str(tree), _DIRECT))
        now.append(measure(str(REPO), _INTERFACE))
    b, n = statistics.median(before), statistics.median(now)
    return {"tree": str(tree), "before_events_per_s": b, "interface_events_per_s": n,
            "overhead": 1.0 - n / b, "before_all": before, "interface_all": now,
            "load": _load()}


def _pipe_floor(exchanges: int, size: int) -> float:
    """Seconds for ``exchanges`` round trips of ``size``-byte lines through a child."""
    child = subprocess.Popen([sys.executable, "-c", "import sys\nfor line in sys.stdin:\n"
                              "    sys.stdout.write('{\"actions\":[]}\\n'); sys.stdout.flush()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    line = b"x" * max(size - 1, 1) + b"\n"
    start = time.perf_counter()
    for _ in range(exchanges):
        child.stdin.write(line)
        child.stdin.flush()
        child.stdout.readline()
    took = time.perf_counter() - start
    child.stdin.close()
    child.wait()
    return took


def _exec_run(name: str, tapes: list[MarketTape]) -> dict[str, Any]:
    ref = load_strategy(name)
    values = dict(resolve("steady_safe", env={}, params=ref.params).values)
    events = messages = size = 0
    seconds = engine_cpu = 0.0
    children = _children_cpu()
    for i, tape in enumerate(tapes):
        strategy = ref.factory()
        assert isinstance(strategy, ExternalStrategy)
        start, cpu = time.perf_counter(), time.process_time()
        run_engine(tape, strategy, values, np.random.default_rng(i))
        seconds += time.perf_counter() - start
        engine_cpu += time.process_time() - cpu
        events += tape.events
        messages += strategy.messages
        size += strategy.bytes_out
    bot_cpu = _children_cpu() - children
    floor = _pipe_floor(messages, size // max(messages, 1))
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds,
            "engine_cpu_s": engine_cpu, "bot_cpu_s": bot_cpu,
            "messages": messages, "mean_message_bytes": size / max(messages, 1),
            "pipe_floor_s": floor, "over_pipe_floor": seconds / floor, "load": _load()}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def exec_bots(windows: int, minutes: int) -> dict[str, Any]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        idle = Path(tmp) / "idle_bot.py"
        idle.write_text(_IDLE)
        example = REPO / "examples" / "exec_bot.py"
        bots = {"example": f"exec:{python} {example}",
                "example_protocol1": f"exec:{python} {example} --protocol-1",
                "idle": f"exec:{python} {idle}"}
        synthetic = [_iteration(100 + i, minutes)[0] for i in range(windows)]
        recorded = load_tape(CAPTURE)
        n = windows_available(recorded, 1)
        replayed = [replay_window(recorded, k, 1) for k in range(1, n + 1)]  # the real one
        out = {}
        for label, name in bots.items():
            out[f"{label}_synthetic"] = _exec_run(name, synthetic)
            out[f"{label}_btcusdt"] = _exec_run(name, replayed)
    return out


_METRICS = (("pass_rate", "higher"), ("pnl_usd", "higher"), ("risk_adjusted_pnl", "higher"),
            ("risk_ratio", "lower"), ("volume_usd", "n/a"), ("net_bps", "higher"))


def _sweep_compare(seeds: str, modes: str, iterations: int, minutes: int) -> dict[str, Any]:
    from soakkit.report.sweep_report import load_sweep_report

    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "soakkit", "sweep", "--strategies", ",".join(STRATEGIES),
             "--profiles", "steady_safe", "--modes", modes, "--seeds", seeds, "--tune", "off",
             "--iterations", str(iterations), "--sim-minutes", str(minutes), "--gate",
             "production", "--name", "strategies", "--artifacts", tmp, "--workers", "1",
             "--quiet",
             "--now", "2026-01-01T00:00:00Z"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the sweep ended with {done.returncode}:\n"
                             f"{(done.stdout + done.stderr)[-3000:]}")
        report = load_sweep_report(tmp, "strategies", baseline="strategy=legacy")
        return {"configs": report.configs.to_dicts(), "comparisons": report.comparisons.to_dicts(),
                "ranking": report.ranking.to_dicts(), "record": report.record()}


def _replay_compare(tape: Path, minutes: int, resamples: int = 10_000) -> dict[str, Any]:
    """Every window of a tape with each strategy; the sweep report's statistics."""
    recorded = load_tape(tape)
    n = windows_available(recorded, minutes)
    units: dict[str, dict[str, np.ndarray]] = {}
    for name in STRATEGIES:
        reports = run_in_memory(SoakOptions(strategy=name, market_data=tape, iterations=n,
                                            sim_minutes=minutes, tune=False,
                                            gate="production"), env={})
        rows = {m: [] for m, _ in _METRICS}
        for r in reports:
            rows["pass_rate"].append(float(r.verdict.verdict != "FAIL"))
            for m, _ in _METRICS[1:]:
                v = r.kpis.get(m)
                rows[m].append(np.nan if v is None else float(v))
        units[name] = {m: np.asarray(v) for m, v in rows.items()}
    rng = np.random.default_rng(12)
    out: dict[str, Any] = {"tape": tape.name, "windows": n, "minutes": minutes,
                           "strategies": {}}
    for name in STRATEGIES:
        out["strategies"][name] = {m: (float(np.nanmean(x)), *bootstrap_mean_ci(
            x[~np.isnan(x)], rng, resamples=resamples)) for m, x in units[name].items()}
    for m, better in _METRICS:
        found = []
        for name in STRATEGIES[1:]:
            d = units[name][m] - units["legacy"][m]
            d = d[~np.isnan(d)]
            lo, hi = bootstrap_mean_ci(d, rng, resamples=resamples)
            found.append((name, float(d.mean()) if d.size else np.nan, lo, hi,
                          paired_sign_flip_p(d, rng, resamples=resamples) if d.size >= 2
                          else np.nan))
        for (name, diff, lo, hi, _p), adjusted in zip(found, holm([f[4] for f in found]),
                                                     strict=True):
            out.setdefault("vs_legacy", {}).setdefault(name, {})[m] = {
                "diff": diff, "lo": lo, "hi": hi, "p_holm": adjusted, "better": better}
    return out


def compare(seeds: str, modes: str, iterations: int, minutes: int, replay_minutes: int
            ) -> dict[str, Any]:
    return {"sweep": _sweep_compare(seeds, modes, iterations, minutes),
            "replay": _replay_compare(SAMPLE, replay_minutes),
            "btcusdt": _replay_compare(CAPTURE, 1)}


def _print(report: dict[str, Any]) -> None:
    if "overhead" in report:
        o = report["overhead"]
        print(f"legacy through the interface {o['interface_events_per_s'] / 1e6:.2f} M events/s, "
              f"direct {o['direct_events_per_s'] / 1e6:.2f} M events/s: overhead "
              f"{100 * o['overhead']:+.1f} % (event-driven form "
              f"{o['event_driven_events_per_s'] / 1e3:.0f} k events/s; load {o['load']:.1f})")
    if "overhead_vs_tree" in report:
        o = report["overhead_vs_tree"]
        print(f"against {o['tree']}: before {o['before_events_per_s'] / 1e6:.2f} M events/s, "
              f"through the interface {o['interface_events_per_s'] / 1e6:.2f} M events/s: "
              f"overhead {100 * o['overhead']:+.1f} % (load {o['load']:.1f})")
    for label, r in report.get("exec", {}).items():
        print(f"exec {label:<27} {r['events_per_s'] / 1e3:6.1f} k events/s (CPU: engine "
              f"{r['engine_cpu_s']:.2f} s, bot {r['bot_cpu_s']:.2f} s), {r['messages']} "
              f"messages of {r['mean_message_bytes']:.0f} B, {r['over_pipe_floor']:.1f}x the "
              f"pipe floor ({r['pipe_floor_s']:.2f} s); load {r['load']:.1f}")
    if "compare" in report:
        for row in report["compare"]["sweep"]["ranking"]:
            print("sweep", row)
        for market in ("replay", "btcusdt"):
            found = report["compare"][market]
            for name, ms in found.get("vs_legacy", {}).items():
                print(market, name, {m: f"{v['diff']:+.4g} [{v['lo']:+.4g}, {v['hi']:+.4g}] "
                                         f"p={v['p_holm']:.3g}" for m, v in ms.items()})


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--parts", default="overhead,exec,compare")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--minutes", type=int, default=60, help="overhead iterations")
    parser.add_argument("--windows", type=int, default=3, help="exec windows per market")
    parser.add_argument("--exec-minutes", type=int, default=10)
    parser.add_argument("--seeds", default="1-8", help="compare: evaluation seeds")
    parser.add_argument("--modes", default="calm,volatile,spike,mixed")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--sim-minutes", type=int, default=10)
    parser.add_argument("--replay-minutes", type=int, default=2)
    parser.add_argument("--baseline-tree", type=Path,
                        help="overhead: also against the engine of this checkout (e.g. "
                             "`git worktree add /tmp/before 9f0b1a6`), whole processes")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    report: dict[str, Any] = {}
    if "overhead" in parts:
        report["overhead"] = overhead(args.reps, args.minutes)
        if args.baseline_tree is not None:
            report["overhead_vs_tree"] = against_tree(args.baseline_tree, args.reps,
                                                      args.minutes)
    if "exec" in parts:
        report["exec"] = exec_bots(args.windows, args.exec_minutes)
    if "compare" in parts:
        report["compare"] = compare(args.seeds, args.modes, args.iterations, args.sim_minutes,
                                    args.replay_minutes)
    _print(report)
    save(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
