"""Who passes the production gate? The shipped profiles and the gaming cases of issue 25.

Every profile runs untuned in every mode on the same calibration seeds (production gate).
Per profile and mode: the share of steady iterations that hold production (PASS or WARN),
the run verdicts (one letter per seed), the mean volume and fills per iteration, the mean and
lowest ``volume_vs_reference``, and the thresholds the failing iterations broke most often.

The gaming cases are the audit's (issue 25), user profiles built on the 2025-10-15 built-ins
(``soakkit.config.history``) and written to a temporary artifacts folder:

* ``near_idle`` – ``steady_safe`` quoting a tenth of its size (72 USD at most instead of 720:
  ``max_delta_ratio`` 0.05 × ``position_limit_notional`` 1440, ``impact_cap_ratio`` 0.02);
* ``wide`` – ``steady_safe`` quoting 13 bps from the mid (fewer fills than iterations);
* ``aggressive_100k`` – ``aggressive``, which fails on inventory, with a
  ``risk_budget_notional`` of 100,000 USD (beside ``aggressive_2025``, the same without it).

    python bench/bench_gate.py --seeds 4 --iterations 8 --markdown bench/out/gate.md
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save

from soakkit.config.history import revision_values
from soakkit.config.profiles import PROFILE_SCHEMA_VERSION, user_profiles_dir
from soakkit.core.io import atomic_write_text
from soakkit.evidence.study import CALIBRATION_SEEDS
from soakkit.gate import judge_run
from soakkit.soak import SoakOptions, run_in_memory

SHIPPED = ("steady_safe", "ultra_safe", "aggressive")
GAMING: dict[str, tuple[str, dict[str, float]]] = {
    "near_idle": ("steady_safe@2025-10-15", {"impact_cap_ratio": 0.02, "max_delta_ratio": 0.05,
                                             "position_limit_notional": 1440.0}),
    "wide": ("steady_safe@2025-10-15", {"base_spread_bps": 10.0, "base_spread_bps_delta": 3.0}),
    "aggressive_2025": ("aggressive@2025-10-15", {}),
    "aggressive_100k": ("aggressive@2025-10-15", {"risk_budget_notional": 100_000.0}),
}


def write_gaming_profiles(artifacts: Path) -> None:
    """The gaming cases as user profiles under ``artifacts``."""
    folder = user_profiles_dir(artifacts)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (base, params) in GAMING.items():
        doc = {"schema_version": PROFILE_SCHEMA_VERSION,
               "description": f"issue 25 gaming case: {base} with {params}",
               "params": {**(revision_values(base) or {}), **params}}
        (folder / f"{name}.json").write_text(json.dumps(doc))


def cell(profile: str, mode: str, seeds: list[int], iterations: int,
         artifacts: Path) -> dict[str, Any]:
    """Production verdicts of ``profile`` untuned in ``mode`` over ``seeds``."""
    held, runs, volume, fills, share = [], [], [], [], []
    broken: Counter[str] = Counter()
    for seed in seeds:
        reports = run_in_memory(SoakOptions(profile=profile, iterations=iterations, mode=mode,
                                            seed=seed, gate="production", tune=False,
                                            artifacts=artifacts))
        runs.append(judge_run([(r.iteration, r.verdict) for r in reports]).verdict)
        for r in reports:
            if r.verdict.phase != "steady":
                continue
            held.append(r.verdict.verdict != "FAIL")
            volume.append(r.kpis["volume_usd"])
            fills.append(r.kpis["fill_count"])
            share.append(r.kpis["volume_vs_reference"] or 0.0)
            if r.verdict.verdict == "FAIL":
                broken.update({reason.split("=")[0].split(" ")[0]
                               for reason in r.verdict.reasons})
    return {"pass_rate": float(np.mean(held)), "runs": "".join(v[0] for v in runs),
            "volume_usd": float(np.mean(volume)), "fills": float(np.mean(fills)),
            "volume_vs_reference": float(np.mean(share)),
            "volume_vs_reference_min": float(np.min(share)),
            "broken": dict(broken.most_common(3))}


def markdown(report: dict[str, Any]) -> str:
    lines = ["| profile | mode | iterations holding production | runs | volume_usd | fills | "
             "volume_vs_reference (lowest) | failed on |", "|---|---|---|---|---|---|---|---|"]
    for key, c in report["cells"].items():
        profile, mode = key.split("/")
        broken = ", ".join(f"{k} {v}" for k, v in c["broken"].items()) or "–"
        lines.append(f"| {profile} | {mode} | {c['pass_rate']:.2f} | {c['runs']} | "
                     f"{c['volume_usd']:,.0f} | {c['fills']:.1f} | "
                     f"{c['volume_vs_reference']:.3f} ({c['volume_vs_reference_min']:.3f}) | "
                     f"{broken} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=4, help="calibration seeds per cell")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--modes", nargs="+", default=["calm", "volatile", "mixed", "spike"])
    parser.add_argument("--profiles", nargs="+", default=[*SHIPPED, *GAMING])
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    seeds = list(CALIBRATION_SEEDS[:args.seeds])
    with tempfile.TemporaryDirectory(prefix="soakkit-gate-") as tmp:
        artifacts = Path(tmp)
        write_gaming_profiles(artifacts)
        cells = {f"{p}/{m}": cell(p, m, seeds, args.iterations, artifacts)
                 for p in args.profiles for m in args.modes}
    report = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "seeds": seeds, "cells": cells}
    print(markdown(report))
    save(args.out, report)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.markdown, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
