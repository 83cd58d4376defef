"""``soakkit demo``: a short mini-soak against its baseline, then the KPI and disk reports.

1. the baseline: a mini-soak without the tuner (``mixed`` market, production gate);
2. the ``soak`` report notebook runs the same market (same seed) with the live tuner on,
   linked to the baseline (``RUN.json`` ``baseline``), so it is ``latest`` and every report
   opened with its defaults shows it beside its baseline;
3. one rotation (default policy) logs its record;
4. the ``kpi`` report compares the tuned run with the baseline; the ``disk`` report follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from soakkit.artifacts.layout import resolve_artifacts
from soakkit.core.io import clock_from
from soakkit.core.signals import Terminated
from soakkit.notebooks.runner import RunResult, run
from soakkit.rotation import RotationPolicy, rotate
from soakkit.soak import SoakOptions, run_soak, validate_options

__all__ = ["ITERATIONS", "SEED", "DemoResult", "demo"]

#: The demo's market seed and iterations per run, unless told otherwise.
SEED = 7
ITERATIONS = 12


@dataclass(frozen=True)
class DemoResult:
    """The reports the demo produced."""

    reports: tuple[RunResult, ...]
    tuned_run: str | None
    baseline_run: str | None

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.reports), default=0)


def demo(artifacts: Path | None = None, out: Path = Path("reports"), *,
         seed: int = SEED, iterations: int = ITERATIONS,
         say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo; ``say`` receives one line per step.

    Every option is checked before a kernel starts. Ctrl-C or SIGTERM stops it cleanly:
    a report being written is kept as ``.failed`` (status ``interrupted``), a soak run says
    ``interrupted`` in its ``RUN.json``, and :class:`KeyboardInterrupt` (or
    :class:`~soakkit.core.signals.Terminated`) is raised. ``artifacts`` defaults to
    :func:`soakkit.artifacts.layout.resolve_artifacts` (else ``./artifacts/soak``).
    """
    root = resolve_artifacts(artifacts, create=True)  # the edge: a Path from here on
    options = SoakOptions(profile="steady_safe", iterations=iterations, mode="mixed", seed=seed,
                          gate="production", sim_minutes=10, artifacts=root)
    validate_options(options)  # a bad flag fails here, before a kernel starts
    say(f"1/4 baseline: {iterations} iterations of 10 simulated minutes, mixed market, "
        "tuner off")
    baseline = run_soak(replace(options, tune=False), env={})
    if baseline.status == "interrupted":  # the runner recorded it; the demo stops here
        raise Terminated() if baseline.interrupted_by == "SIGTERM" else KeyboardInterrupt()
    say("2/4 mini-soak: the same market with the live tuner on, linked to the baseline")
    params = {"profile": options.profile, "iterations": iterations, "mode": options.mode,
              "seed": seed, "gate": options.gate, "sim_minutes": options.sim_minutes,
              "artifacts": root, "baseline": baseline.run_id}
    soak = run("soak", params, out)
    reports = [soak]
    if soak.exit_code:
        return DemoResult(tuple(reports), None, baseline.run_id)
    tuned = str(soak.kpis["soak"]["run_id"])
    say("3/4 rotation (keep 100 iterations per run, compress after 7 days)")
    rotate(root, RotationPolicy(), now=clock_from(None).now())
    say("4/4 KPI report (tuned against its baseline) and disk report")
    reports.append(run("kpi", {"artifacts": root, "run": tuned, "gate": "production"}, out))
    reports.append(run("disk", {"artifacts": root}, out))
    return DemoResult(tuple(reports), tuned, baseline.run_id)
