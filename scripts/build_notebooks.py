"""Write the report templates in notebooks/ from this file (their reviewable source).

    python scripts/build_notebooks.py          # rewrite notebooks/*.ipynb
    python scripts/build_notebooks.py --check  # exit 1 if a template differs (CI/tests)

Templates carry no outputs. Each starts with a markdown story and a cell tagged
``parameters`` that annotates every parameter's type and explains it in a comment; the
logic lives in the soakkit library (soakkit.report), the notebooks only call it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = """from pathlib import Path

from soakkit.report import figures
from soakkit.report.display import notebook_setup, record, show, table

notebook_setup()"""


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(source: str) -> nbformat.NotebookNode:
    return new_markdown_cell(source)


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


MINI_SOAK = notebook([
    md("# Mini-soak\n\nA seeded mini-soak: each iteration simulates `sim_minutes` of market in the "
       "chosen regime, runs the market-making strategy with the current parameters, computes the "
       "KPIs, judges them with the gate and lets the live-apply tuner adjust the parameters for "
       "the next iteration. Every number below is a consequence of the parameters and the "
       "simulated market; the same seed gives the same market."),
    code('''profile: str = "steady_safe"  # profile to start from (soakkit config list-profiles)
iterations: int = 12  # mini-soak iterations
mode: str = "mixed"  # market regime: calm, volatile, spike or mixed (Markov switching)
seed: int = 7  # seed of the simulated market: same seed, same market
gate: str = "production"  # KPI gate that judges each iteration: smoke or production
sim_minutes: int = 10  # simulated market minutes per iteration
artifacts: str = "artifacts/soak"  # artifacts root; the run goes to <artifacts>/runs/<run_id>/
tune: bool = True  # let the live-apply tuner adjust the parameters between iterations
now: str | None = None  # frozen clock (ISO-8601 UTC) for reproducible files; None: real time''',
         "parameters"),
    code(SETUP + "\nfrom soakkit.report.kpi_report import load_kpi_report\n"
                 "from soakkit.soak import SoakOptions, run_soak"),
    md("## Run"),
    code('''options = SoakOptions(profile=profile, iterations=iterations, mode=mode, seed=seed,
                      gate=gate, sim_minutes=sim_minutes, artifacts=Path(artifacts), tune=tune,
                      now=now)
result = run_soak(options, env={})
print(f"run {result.run_id}: {result.status}, {result.iterations_done} iterations")'''),
    md("## KPIs per iteration\n\nThe gated KPIs of every iteration and the gate's verdict. In a "
       "`production` run the first two iterations are a warm-up judged by relaxed thresholds."),
    code('''report = load_kpi_report(Path(artifacts), result.run_id, gate=gate)
table(report.iterations.select("iteration", "regime", "net_bps", "pnl_usd", "volume_usd",
                               "volume_vs_untuned", "risk_adjusted_pnl", "risk_ratio",
                               "maker_taker_ratio", "p95_latency_ms", "gate_verdict"))'''),
    code('show(figures.kpi_trends(report.iterations, gate), "kpi_trends")'),
    md("## What the tuner did"),
    code('show(figures.tuning_events(report.iterations), "tuning_events")'),
    md("## Verdict"),
    code('''print(f"{report.verdict.verdict}: " + "; ".join(report.verdict.reasons))
record("soak", report.record())'''),
])

KPI_REPORT = notebook([
    md("# KPI report\n\nOne soak run (or the latest) against one gate: who ran what with which "
       "configuration, how every gated KPI moved against its thresholds, what the tuner changed "
       "and why, and the final verdict. Rotated runs report every iteration: rotation keeps the "
       "content of deleted iteration files in the run's history."),
    code('''artifacts: str = "artifacts/soak"  # artifacts root holding runs/ (and a legacy latest/)
run: str = "latest"  # run id to report, "latest", or "legacy-latest" for the legacy layout
last_n: int = 0  # report only the last N iterations (0: every iteration)
gate: str = "production"  # gate whose thresholds are drawn and judged: smoke or production
baseline: str | None = None  # run id to compare with; None: no comparison''', "parameters"),
    code(SETUP + '''\nfrom soakkit.report.kpi_report import load_kpi_report

report = load_kpi_report(Path(artifacts), run, last_n=last_n, gate=gate, baseline=baseline)
for problem in report.problems:
    print("skipped:", problem)'''),
    md("## Run"),
    code("table(report.header)"),
    md("## Configuration provenance\n\nEvery parameter's value when the run started, the layer it "
       "came from (defaults < profile < runtime overrides < env < CLI) and the values it "
       "shadowed."),
    code("table(report.provenance)"),
    md("## KPI trends\n\nRed: the failing side of a gate threshold; amber: its warn margin; grey: "
       "warm-up iterations (judged by relaxed thresholds). The strip on top shows the market "
       "regimes of each iteration. Crosses mark WARN and FAIL iterations."),
    code('show(figures.kpi_trends(report.iterations, gate), "kpi_trends")'),
    md("## Money and activity\n\nWhat the ratios above earned in dollars, per iteration: P&L "
       "and volume beside the same market traded by the profile untuned (`*_untuned`), the "
       "activity share the gate's floor judges (`volume_vs_untuned`), P&L per USD of "
       "inventory at risk (`risk_adjusted_pnl`), the largest intra-iteration drawdown and "
       "the notional-weighted adverse tail (docs/KPIS.md)."),
    code("table(report.money)"),
    md("## The gate, floors included\n\nEvery threshold of the gate against this run. The "
       "floors (`pnl_per_hour_usd`, `volume_vs_untuned`) make the gate impossible to pass by "
       "not trading."),
    code("table(report.gate_table)"),
    md("## Tuning events\n\nApplied deltas in units of each parameter's maximum step per "
       "iteration, and the guards that acted."),
    code('show(figures.tuning_events(report.iterations), "tuning_events")'),
    code("table(report.tuning)"),
    md("## Parameter trajectories\n\nEvery tunable parameter against its hard bounds."),
    code('show(figures.param_trajectories(report.iterations), "param_trajectories")'),
    md("## Comparison with the baseline\n\nMeans over the reported window, net_bps beside "
       "the dollars. A run whose net_bps rose while its P&L fell is flagged first: a better "
       "ratio bought by trading less is not an improvement."),
    code('''if report.comparison is None:
    print("no baseline selected (parameter `baseline`)")
else:
    for warning in report.warnings:
        print("WARNING:", warning)
    table(report.comparison)'''),
    md("## Verdict"),
    code('''print(f"{report.verdict.verdict} under the {gate} gate")
for reason in report.verdict.reasons:
    print(" -", reason)
record("kpi", report.record())'''),
])

DISK_REPORT = notebook([
    md("# Disk report\n\nWhere the soak artifacts' disk goes, how it grew, and what the rotation "
       "policy would reclaim now (from a dry-run plan: nothing is changed). Allocated bytes "
       "(`st_blocks`) are what fills a disk; apparent bytes (`st_size`) are what the files hold."),
    code('''artifacts: str = "artifacts/soak"  # artifacts root to inspect (nothing is changed)
budget_mb: float = 900.0  # disk budget in MiB of allocated blocks
ttl_days: float = 7.0  # rotation TTL: files at least this many days old would be compressed
keep_latest: int = 100  # rotation keeps this many ITER_SUMMARY files per run folder
now: str | None = None  # the rotation's "now" (ISO-8601 UTC) for file ages; None: real time''',
         "parameters"),
    code(SETUP + '''\nfrom soakkit.io import clock_from
from soakkit.report.disk_report import load_disk_report

disk = load_disk_report(Path(artifacts), budget_mb=budget_mb, ttl_days=ttl_days,
                        keep_latest=keep_latest, now=clock_from(now).now())'''),
    md("## Usage by run"),
    code("table(disk.usage)"),
    code('show(figures.disk_usage(disk.usage, disk.budget_bytes), "disk_usage")',
         "nbval-ignore-output"),
    md("## Usage by file kind"),
    code("table(disk.by_kind)"),
    md("## Budget"),
    code('''state = "OVER BUDGET" if disk.over_budget else "within budget"
print(f"allocated {disk.total_allocated / 2**20:.2f} MiB of {disk.budget_bytes / 2**20:g} MiB: "
      f"{state}")''', "nbval-ignore-output"),
    md("## Growth over time\n\nAllocated bytes before and after each rotation recorded in "
       "`rotation/ROTATION_LOG.jsonl`."),
    code('show(figures.disk_growth(disk.history, disk.budget_bytes), "disk_growth")',
         "nbval-ignore-output"),
    code("table(disk.history)", "nbval-ignore-output"),
    md("## What rotation would reclaim now\n\nThe actions a rotation with this policy would take "
       "(`soakkit rotate --dry-run --explain` lists them file by file)."),
    code('''if disk.reclaim.height:
    table(disk.reclaim.select("action", "files", "apparent_bytes"))
else:
    print(f"nothing: no run holds more than {keep_latest} iterations and no file is "
          f"{ttl_days:g} days old")'''),
    md("## Largest files"),
    code("table(disk.largest)", "nbval-ignore-output"),
    code('record("disk", disk.record())', "nbval-ignore-output"),
])

TEMPLATES = {"mini_soak.ipynb": MINI_SOAK, "kpi_report.ipynb": KPI_REPORT,
             "disk_report.ipynb": DISK_REPORT}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a committed template differs from this file")
    args = parser.parse_args(argv)
    stale = []
    for name, nb in TEMPLATES.items():
        text = nbformat.writes(nb) + "\n"
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale templates (run scripts/build_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
