"""Deterministic inputs of the golden notebooks (tests/golden/*.ipynb, checked by nbval).

Used by tests/conftest.py (before nbval runs the goldens) and scripts/regen_goldens.py.
Every run has a frozen clock and a fixed seed, so the artifacts, and therefore the
notebooks' outputs, are the same on every machine.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden"
ARTIFACTS = "_artifacts/soak"  # relative to tests/golden (nbval runs notebooks there)
TUNED_RUN = "20260101T000000Z-steady_safe-mixed-s11"
BASELINE_RUN = "20260101T010000Z-steady_safe-mixed-s11"

#: Parameters each golden notebook was executed with (papermill), by template name.
GOLDEN_PARAMS: dict[str, dict[str, Any]] = {
    "mini_soak": {"iterations": 6, "mode": "volatile", "seed": 3, "sim_minutes": 5,
                  "artifacts": "_artifacts/mini", "now": "2026-01-01T00:00:00Z"},
    "kpi_report": {"artifacts": ARTIFACTS, "run": TUNED_RUN, "gate": "production",
                   "baseline": BASELINE_RUN},
    "disk_report": {"artifacts": ARTIFACTS, "budget_mb": 50.0, "ttl_days": 7.0,
                    "keep_latest": 5, "now": "2026-01-10T00:00:00Z"},
}


def build_golden_artifacts() -> Path:
    """(Re)create tests/golden/_artifacts: a tuned run, its untuned baseline, one rotation."""
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
    return root
