"""Deterministic inputs of the golden notebooks (tests/golden/*.ipynb, checked by nbval).

Used by tests/conftest.py (before nbval runs the goldens) and scripts/regen_goldens.py.
Every run has a frozen clock and a fixed seed, so the artifacts, and therefore the
notebooks' outputs, are the same on every machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden"
ARTIFACTS = "_artifacts/soak"  # relative to tests/golden (nbval runs notebooks there)
TUNED_RUN = "20260101T000000Z-steady_safe-mixed-s11"
BASELINE_RUN = "20260101T010000Z-steady_safe-mixed-s11"
SWEEP_ARTIFACTS = "_artifacts/sweep"  # its own root: the disk report's tree stays as it was
#: The golden sweep: 2 profiles x 2 --set axes of 2 values x 2 modes x 8 seeds = 128 small
#: cells; against the baseline some configurations are better with confidence, some only
#: look better, some are better but riskier.
SWEEP_ARGS = ("--profiles", "steady_safe,aggressive", "--modes", "volatile,mixed",
              "--seeds", "1-8", "--tune", "off", "--set", "base_spread_bps_delta=0.0,0.14",
              "--set", "min_interval_ms=65,75", "--iterations", "4", "--sim-minutes", "3",
              "--name", "golden", "--now", "2026-01-01T00:00:00Z", "--workers", "1", "--quiet")

#: Parameters each golden notebook was executed with (papermill), by template name.
GOLDEN_PARAMS: dict[str, dict[str, Any]] = {
    "mini_soak": {"iterations": 6, "mode": "volatile", "seed": 3, "sim_minutes": 5,
                  "artifacts": "_artifacts/mini", "now": "2026-01-01T00:00:00Z"},
    "kpi_report": {"artifacts": ARTIFACTS, "run": TUNED_RUN, "gate": "production",
                   "baseline": BASELINE_RUN},
    "disk_report": {"artifacts": ARTIFACTS, "budget_mb": 50.0, "ttl_days": 7.0,
                    "keep_latest": 5, "now": "2026-01-10T00:00:00Z"},
    "sweep_report": {"artifacts": SWEEP_ARTIFACTS, "sweep": "golden",
                     "baseline": "profile=steady_safe,base_spread_bps_delta=0.14,"
                                 "min_interval_ms=65"},
}


def build_golden_artifacts() -> Path:
    """(Re)create tests/golden/_artifacts: a tuned run, its untuned baseline, one rotation;
    and a sweep (``soakkit sweep`` on a one-worker local cluster)."""
    from soakkit.rotation import RotationPolicy, rotate
    from soakkit.soak import SoakOptions, run_soak

    base = GOLDEN / "_artifacts"
    shutil.rmtree(base, ignore_errors=True)
    root = GOLDEN / ARTIFACTS
    common = {"profile": "steady_safe", "iterations": 10, "mode": "mixed", "seed": 11,
              "sim_minutes": 5, "gate": "production", "artifacts": root}
    run_soak(SoakOptions(**common, now="2026-01-01T00:00:00Z"), env={})
    run_soak(SoakOptions(**common, now="2026-01-01T01:00:00Z", tune=False), env={})
    rotate(root, RotationPolicy(keep_latest=7, ttl_days=30.0),
           now=datetime(2026, 1, 2, tzinfo=UTC))
    done = subprocess.run([sys.executable, "-m", "soakkit", "sweep", *SWEEP_ARGS, "--artifacts",
                           str(GOLDEN / SWEEP_ARTIFACTS)], capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the golden sweep failed ({done.returncode}): {done.stderr[-2000:]}")
    return root
