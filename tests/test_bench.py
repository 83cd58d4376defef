"""The benchmarks run (at toy sizes) and record every figure docs/PERFORMANCE.md quotes.

Nothing here is timed: the numbers are machine-dependent and live in docs/PERFORMANCE.md.
This only keeps the benchmark scripts from rotting between the runs that produce them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .clock_guard import SESSION_START_ENV
from .conftest import REPO

pytestmark = pytest.mark.slow  # every benchmark script, end to end

CASES = {
    "bench_sim.py": (["--reps", "1"],
                     {"throughput": "floor_over_replay", "smoke_soak": "replay_over_floor",
                      "long_soak": "soak_over_bare"}),
    "bench_causality.py": (["--seeds", "2", "--minutes", "1", "--modes", "calm"],
                           {"table": "calm"}),
    # hftbacktest is not a dependency: CI runs soakkit's side of the comparison only
    "bench_hftbacktest.py": (["--minutes", "1", "--soakkit-only"], {"queues": "risk_averse"}),
    "bench_gate.py": (["--seeds", "1", "--iterations", "3", "--modes", "calm", "--profiles",
                       "near_idle", "steady_safe"], {"cells": "near_idle/calm"}),
    "bench_tuning.py": (["--store", "store", "--seeds", "2", "--grid-seeds", "1",
                         "--grid", "small",
                         "--iterations", "2", "--sim-minutes", "2", "--profiles", "steady_safe",
                         "--modes", "volatile", "--jobs", "1",
                         "--tapes", str(REPO / "examples" / "tapes" / "sample")],
                        {"cells": "steady_safe/tape:sample", "seeds": "grid_calibration"}),
    "bench_levers.py": (["--seeds", "2", "--iterations", "1", "--jobs", "1"],
                        {"args": "seeds", "seeds": 1}),
    "bench_rotation.py": (["--files", "3000", "--compress-files", "60", "--reps", "1"],
                          {"planning": "dry_run_over_find", "startup": "help_s",
                           "compression": "process_throughput_vs_gzip_inplace"}),
    "bench_startup.py": (["--reps", "1"], {"startup": "soak_over_baseline_wall_best"}),
    "bench_catalog.py": (["--files", "1200", "--reps", "1"], {"catalog": "legacy"}),
    "bench_reports.py": (["--reps", "1"],
                         {"whole_process": "above_floor_s", "phases": "charts_s"}),
    "bench_strategies.py": (["--reps", "1", "--minutes", "1", "--windows", "1",
                             "--exec-minutes", "1", "--seeds", "1", "--modes", "calm",
                             "--iterations", "1", "--sim-minutes", "1", "--replay-minutes", "5"],
                            {"overhead": "overhead", "exec": "idle_btcusdt",
                             "compare": "btcusdt"}),
    "bench_sweep.py": (["--seeds", "1", "--iterations", "1", "--sim-minutes", "1", "--reps", "1",
                        "--big-cells", "500", "--big-seconds", "1",
                        "--only", "scaling,whole,memory"],
                       {"scaling": "speedup", "overhead": "overhead", "whole": "speedup",
                        "big": "scheduler_ratio"}),
    # fastjsonschema comes with nbformat; without it soakkit's side and the baseline run
    "bench_schema.py": (["--docs", "40", "--files", "20", "--reps", "1"],
                        {"timing": "soakkit_over_parse", "bulk": "tolerant_soakkit_over_fast_path"}),
    "bench_dashboard.py": (["--reps", "1"], {"startup": "with_over_without", "disk": "bokeh_bytes"}),
    "bench_optimize.py": (["--trials", "4", "--seeds", "2", "--iterations", "1",
                           "--sim-minutes", "1", "--modes", "calm"],
                          {"scaling": "speedup", "search": "grid"}),
    # the cells goal with two tapes: their held-back windows pooled into the real market
    "bench_optimize.py cells": (["--parts", "cells", "--trials", "2", "--seeds", "1",
                                 "--iterations", "1", "--sim-minutes", "1", "--cell-modes",
                                 "calm", "--params", "tail_age_ms", "--cell-tapes",
                                 "examples/tapes/sample,examples/tapes/binance-spot-btcusdt"],
                                {"cells": "tapes"}),
    # issue 24's fill anatomy: the shipped real sample against the built-in market
    "fill_anatomy.py": ([str(REPO / "examples" / "tapes" / "binance-spot-btcusdt"), "--market",
                         "default", "--seeds", "1", "--minutes", "1"],
                        {"profiles": "steady_safe"}),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_and_records_its_figures(script: str, tmp_path: Path) -> None:
    args, expected = CASES[script]
    script = script.partition(" ")[0]  # "bench_x.py part": another case of one script
    out = tmp_path / "out.json"
    # benchmarks age their trees against the real clock on purpose: no clock guard there
    env = {k: v for k, v in os.environ.items() if k != SESSION_START_ENV}
    env["SOAKKIT_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args, "--out",
                           str(out)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    data = json.loads(out.read_text())
    for section, key in expected.items():
        assert key in data[section], (section, key)
