"""``soakkit demo``: a short mini-soak, then the KPI and disk reports, in about ten seconds.

1. the ``soak`` report notebook runs a tuned mini-soak (``mixed`` market, production gate);
2. the same soak without the tuner (same seed, so the same market) is the baseline;
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
    params = {"profile": options.profile, "iterations": iterations, "mode": options.mode,
              "seed": seed, "gate": options.gate, "sim_minutes": options.sim_minutes,
              "artifacts": root}
    say(f"1/4 mini-soak: {iterations} iterations of 10 simulated minutes, mixed market, "
        "live tuner on")
    soak = run("soak", params, out)
    reports = [soak]
    if soak.exit_code:
        return DemoResult(tuple(reports), None, None)
    tuned = str(soak.kpis["soak"]["run_id"])
    say("2/4 baseline: the same market without the tuner")
    baseline = run_soak(replace(options, tune=False), env={})
    if baseline.status == "interrupted":  # the runner recorded it; the demo stops here
        raise Terminated() if baseline.interrupted_by == "SIGTERM" else KeyboardInterrupt()
    say("3/4 rotation (keep 100 iterations per run, compress after 7 days)")
    rotate(root, RotationPolicy(), now=clock_from(None).now())
    say("4/4 KPI report (tuned vs untuned) and disk report")
    reports.append(run("kpi", {"artifacts": root, "run": tuned, "gate": "production",
                               "baseline": baseline.run_id}, out))
    reports.append(run("disk", {"artifacts": root}, out))
    return DemoResult(tuple(reports), tuned, baseline.run_id)
