"""Deterministic inputs of the golden notebooks (tests/golden/*.ipynb, checked by nbval).

Used by tests/conftest.py (before nbval runs the goldens), tests/test_notebooks.py and
scripts/regen_goldens.py. Every run has a frozen clock and a fixed seed, so the artifacts,
and therefore the notebooks' outputs, are the same on every machine. The artifacts live in
a temporary folder, never in the repository: the goldens run without an ``artifacts``
parameter and their kernels find the folder through ``SOAKKIT_ARTIFACTS``
(:func:`golden_env`), as a notebook opened by an analyst would.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden"
#: As ``soakkit demo`` makes them: the untuned baseline first, then the tuned run linked to it.
BASELINE_RUN = "20260101T000000Z-steady_safe-mixed-s11-untuned"
TUNED_RUN = "20260101T010000Z-steady_safe-mixed-s11-tuned"
OTHER_RUN = "20260101T020000Z-aggressive-volatile-s5-tuned"
#: The golden sweep: 2 profiles x 2 --set axes of 2 values x 2 modes x 8 seeds = 128 small
#: cells; against the baseline some configurations are better with confidence, some only
#: look better, some are better but riskier. It has a root of its own (``base/sweep``), so
#: the disk report's tree stays as it was.
SWEEP_ARGS = ("--profiles", "steady_safe,aggressive", "--modes", "volatile,mixed",
              "--seeds", "1-8", "--tune", "off", "--set", "base_spread_bps_delta=0.0,0.14",
              "--set", "min_interval_ms=65,75", "--iterations", "4", "--sim-minutes", "3",
              "--name", "golden", "--now", "2026-01-01T00:00:00Z", "--workers", "1", "--quiet")

#: The golden study: two parameters searched on calm markets, 16 trials of small cells.
OPTIMIZE_ARGS = ("--modes", "calm", "--seeds", "1-3", "--eval-seeds", "101-103",
                 "--iterations", "4", "--sim-minutes", "1", "--params",
                 "base_spread_bps_delta,max_delta_ratio", "--trials", "16", "--name", "golden",
                 "--now", "2026-01-01T00:00:00Z", "--workers", "1", "--quiet")

#: Parameters each golden notebook was executed with (papermill), by template name.
GOLDEN_PARAMS: dict[str, dict[str, Any]] = {
    "disk_report": {"budget_mb": 50.0, "ttl_days": 7.0, "keep_latest": 5,
                    "now": "2026-01-10T00:00:00Z"},
    "explore_runs": {"days": 7.0, "now": "2026-01-03T00:00:00Z", "run": TUNED_RUN},
    "kpi_report": {"run": TUNED_RUN, "gate": "production"},  # its linked baseline
    "mini_soak": {"iterations": 6, "mode": "volatile", "seed": 3, "sim_minutes": 5,
                  "now": "2026-01-01T00:00:00Z"},
    "sweep_report": {"sweep": "golden",
                     "baseline": "profile=steady_safe,base_spread_bps_delta=0.14,"
                                 "min_interval_ms=65"},
    "optimize_report": {"study": "golden"},
    # the shipped real sample (relative to tests/golden, where the goldens run): its first
    # minute, 2 synthetic windows and 2 seeds per profile and side, so the golden is quick
    "fidelity_report": {"tape": "../../examples/tapes/binance-spot-btcusdt", "minutes": 1,
                        "seeds": 2},
}

#: Golden name → the folder under the base its kernel reads (``SOAKKIT_ARTIFACTS``).
_ROOTS = {"mini_soak": "mini", "sweep_report": "sweep", "optimize_report": "optimize"}


def golden_env(base: Path, name: str) -> dict[str, str]:
    """Environment of golden ``name``'s kernel: its artifacts root under ``base``.

    ``mini_soak`` writes a run, so it gets a root of its own (``base/mini``); the sweep
    report reads ``base/sweep``, the optimisation report ``base/optimize``; the other reports
    read the runs :func:`build_golden_artifacts` made (``base/soak``).
    """
    return {"SOAKKIT_ARTIFACTS": str(base / _ROOTS.get(name, "soak"))}


def build_golden_artifacts(base: Path) -> Path:
    """Create ``base/soak`` (an untuned baseline, the tuned run linked to it, another
    profile, one rotation), ``base/sweep`` (``soakkit sweep`` on a one-worker local cluster),
    ``base/optimize`` (``soakkit optimize``, the same way) and an empty ``base/mini``; returns
    ``base/soak``."""
    from soakkit.rotation import RotationPolicy, rotate
    from soakkit.soak import SoakOptions, run_soak

    root = Path(base) / "soak"
    (Path(base) / "mini").mkdir(parents=True, exist_ok=True)
    common = {"profile": "steady_safe", "iterations": 10, "mode": "mixed", "seed": 11,
              "sim_minutes": 5, "gate": "production", "artifacts": root}
    run_soak(SoakOptions(**common, now="2026-01-01T00:00:00Z", tune=False), env={})
    run_soak(SoakOptions(**common, now="2026-01-01T01:00:00Z", baseline=BASELINE_RUN), env={})
    other = {**common, "profile": "aggressive", "mode": "volatile", "seed": 5, "iterations": 6}
    run_soak(SoakOptions(**other, now="2026-01-01T02:00:00Z"), env={})
    rotate(root, RotationPolicy(keep_latest=7, ttl_days=30.0),
           now=datetime(2026, 1, 2, tzinfo=UTC))
    done = subprocess.run([sys.executable, "-m", "soakkit", "sweep", *SWEEP_ARGS, "--artifacts",
                           str(Path(base) / "sweep")], capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the golden sweep failed ({done.returncode}): {done.stderr[-2000:]}")
    done = subprocess.run([sys.executable, "-m", "soakkit", "optimize", *OPTIMIZE_ARGS,
                           "--artifacts", str(Path(base) / "optimize")], capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode not in (0, 1):  # 1: a verdict other than supported, said on stdout
        raise RuntimeError(f"the golden study failed ({done.returncode}): {done.stderr[-2000:]}")
    return root
