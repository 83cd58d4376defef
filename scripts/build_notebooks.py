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

SETUP = """from soakkit.report import charts, figures
from soakkit.report.display import notebook_setup, record, show, table

notebook_setup()"""
#: The same for a notebook without interactive charts: altair is not imported (its import
#: takes 2-5 s of a report, most of it jsonschema's optional IRI checker).
SETUP_STATIC = SETUP.replace("import charts, figures", "import figures")
#: The same for a notebook with interactive charts only: matplotlib is not imported (its
#: import and figures cost the KPI report about 1.5 s of CPU).
SETUP_CHARTS = SETUP.replace("import charts, figures", "import charts")
#: The artifacts parameter of every notebook (soakkit.artifacts.layout.resolve_artifacts).
ARTIFACTS = ("artifacts: str | None = None  # artifacts root; None: $SOAKKIT_ARTIFACTS, else "
             "the nearest artifacts/soak above the working folder")
CHART_NOTE = ("Hover a point for that iteration's KPI values, regime, verdict and the tuner's "
              "action; drag or turn the mouse wheel over the top panel to zoom (double-click "
              "resets). Red: the failing side of a gate threshold; amber: its warn margin; grey: "
              "warm-up iterations (judged by relaxed thresholds); the background colour is the "
              "market regime; crosses mark WARN and FAIL iterations. The chart is interactive "
              "in JupyterLab, VS Code and the HTML report (offline); exports (HTML, PDF, "
              "Markdown) and notebook viewers show the same chart as a picture.")
#: Comparison with the baseline: the one that was asked for, or the run's own, or why none.
COMPARISON = '''print(report.baseline_note)
if report.comparison is not None:
    for warning in report.warnings:
        print("WARNING:", warning)
    table(report.comparison)'''


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def if_report(source: str) -> str:
    """A report cell that shows nothing when there is nothing to report yet (no sweep, no
    study)."""
    body = "\n".join(f"    {line}" if line else line for line in source.splitlines())
    return f"if report is not None:\n{body}"


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
    code(f'''profile: str = "steady_safe"  # profile to start from (soakkit config list-profiles)
iterations: int = 12  # mini-soak iterations
mode: str = "mixed"  # market regime: calm, volatile, spike or mixed (Markov switching)
seed: int = 7  # seed of the simulated market: same seed, same market
gate: str = "production"  # KPI gate that judges each iteration: smoke or production
sim_minutes: int = 10  # simulated market minutes per iteration
{ARTIFACTS}; the run goes to <artifacts>/runs/<run_id>/
tune: bool = True  # let the live-apply tuner adjust the parameters between iterations
baseline: str | None = None  # run id to link this run to and compare with; None: none
now: str | None = None  # frozen clock (ISO-8601 UTC) for reproducible files; None: real time''',
         "parameters"),
    code(SETUP_CHARTS + "\nfrom soakkit.artifacts.layout import resolve_artifacts\n"
                 "from soakkit.report.kpi_report import load_kpi_report\n"
                 "from soakkit.soak import SoakOptions, run_soak"),
    md("## Run"),
    code('''options = SoakOptions(profile=profile, iterations=iterations, mode=mode, seed=seed,
                      gate=gate, sim_minutes=sim_minutes, tune=tune, baseline=baseline,
                      now=now, artifacts=resolve_artifacts(artifacts, create=True))
result = run_soak(options, env={})
print(f"run {result.run_id}: {result.status}, {result.iterations_done} iterations")'''),
    md("## KPIs per iteration\n\nThe gated KPIs of every iteration and the gate's verdict. In a "
       "`production` run the first two iterations are a warm-up judged by relaxed thresholds."),
    code('''report = load_kpi_report(options.artifacts, result.run_id, gate=gate)
table(report.kpi_table())'''),
    md(CHART_NOTE),
    code('show(charts.kpi_trends_chart(report.iterations, gate), "kpi_trends")'),
    md("## What the tuner did"),
    code('show(charts.tuning_events(report.iterations), "tuning_events")'),
    md("## Comparison with the baseline\n\nMeans over the run beside its baseline's (the "
       "same market without the tuner, when `soakkit demo` ran it)."),
    code(COMPARISON),
    md("## Verdict"),
    code('''print(f"{report.verdict.verdict}: " + "; ".join(report.verdict.reasons))
record("soak", report.record())'''),
])

KPI_REPORT = notebook([
    md("# KPI report\n\nOne soak run (or the latest) against one gate: who ran what with which "
       "configuration, how every gated KPI moved against its thresholds, what the tuner changed "
       "and why, and the final verdict. Rotated runs report every iteration: rotation keeps the "
       "content of deleted iteration files in the run's history."),
    code(f'''{ARTIFACTS}
run: str = "latest"  # run id to report, "latest", or "legacy-latest" for the legacy layout
last_n: int = 0  # report only the last N iterations (0: every iteration)
gate: str = "production"  # gate whose thresholds are drawn and judged: smoke or production
baseline: str | None = None  # run id to compare with; None: the run's own; "none": none''',
         "parameters"),
    code(SETUP_CHARTS + '''\nfrom soakkit.report.kpi_report import load_kpi_report

report = load_kpi_report(artifacts, run, last_n=last_n, gate=gate, baseline=baseline)
for problem in report.problems:
    print("skipped:", problem)'''),
    md("## Run"),
    code("table(report.header)"),
    md("## Configuration provenance\n\nEvery parameter's value when the run started, the layer it "
       "came from (defaults < profile < runtime overrides < env < CLI) and the values it "
       "shadowed."),
    code("table(report.provenance)"),
    md("## KPI trends\n\n" + CHART_NOTE),
    code('show(charts.kpi_trends_chart(report.iterations, gate), "kpi_trends")'),
    md("## Money and activity\n\nWhat the ratios above earned in dollars, per iteration: P&L "
       "and volume beside the same market traded by the gate's reference profile "
       "(`*_reference`), the activity share the gate's floor judges (`volume_vs_reference`), "
       "P&L per USD of inventory at risk (`risk_adjusted_pnl`), the largest "
       "intra-iteration drawdown and the notional-weighted adverse tail (docs/KPIS.md)."),
    code("table(report.money)"),
    md("## The gate, floors included\n\nEvery threshold of the gate against this run. The "
       "floors (`pnl_per_hour_usd`, `volume_vs_reference`) and the inventory limit in USD "
       "(`inventory_p95_usd`) make the gate impossible to pass by not trading or by raising "
       "the risk budget."),
    code("table(report.gate_table)"),
    md("## Tuning events\n\nApplied deltas in units of each parameter's maximum step per "
       "iteration, and the guards that acted."),
    code('show(charts.tuning_events(report.iterations), "tuning_events")'),
    code("table(report.tuning)"),
    md("## Parameter trajectories\n\nEvery tunable parameter against its hard bounds."),
    code('show(charts.param_trajectories(report.iterations), "param_trajectories")'),
    md("## Comparison with the baseline\n\nMeans over the reported window, net_bps beside "
       "the dollars, against the baseline: the one asked for with `baseline`, else the one "
       "linked to the run (`soakkit demo` links the same market traded without the tuner). "
       "A run whose net_bps rose while its P&L fell is flagged first: a better ratio bought "
       "by trading less is not an improvement."),
    code(COMPARISON),
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
    code(f'''{ARTIFACTS} (nothing is changed)
budget_mb: float = 900.0  # disk budget in MiB of allocated blocks
ttl_days: float = 7.0  # rotation TTL: files at least this many days old would be compressed
keep_latest: int = 100  # rotation keeps this many ITER_SUMMARY files per run folder
now: str | None = None  # the rotation's "now" (ISO-8601 UTC) for file ages; None: real time''',
         "parameters"),
    code(SETUP_STATIC + '''\nfrom soakkit.core.io import clock_from
from soakkit.report.disk_report import load_disk_report

disk = load_disk_report(artifacts, budget_mb=budget_mb, ttl_days=ttl_days,
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

EXPLORE_RUNS = notebook([
    md("# Explore the runs\n\nEvery soak run of a time window at a glance: verdicts by profile "
       "and mode over time, KPI and P&L distributions per profile, the slowest and the failing "
       "runs, then one run drilled into with the figures of the KPI report. Change `days` to "
       "widen the window and `run` to drill into another run (its id is in the first table)."),
    code(f'''{ARTIFACTS}
days: float = 7.0  # runs that started in the N days before `now` (0: every run)
now: str | None = None  # end of the window (ISO-8601 UTC); None: real time
run: str = "latest"  # run to drill into: a run id, or "latest" (the newest run of the window)
gate: str = "production"  # gate the drilled-into run is judged by: smoke or production''',
         "parameters"),
    code(SETUP + '''\nfrom soakkit.core.io import clock_from
from soakkit.report.explore import load_exploration
from soakkit.report.kpi_report import load_kpi_report

explore = load_exploration(artifacts, days=days, now=clock_from(now).now(), run=run)
for problem in explore.problems:
    print("skipped:", problem)'''),
    md("## Every run\n\nOne line per run: whether the tuner was on, the strategy and the "
       "market it traded, total P&L, the worst iteration's risk ratio, the run verdict as the "
       "soak runner judged it. Hover a point of the chart for the run's details; times are "
       "UTC."),
    code("table(explore.runs)"),
    code('show(charts.runs_chart(explore.runs), "runs")'),
    md("## Verdicts by profile and mode over time"),
    code("table(explore.verdicts)"),
    code('show(figures.verdict_timeline(explore.runs), "verdict_timeline")'),
    md("## KPI and P&L distributions per profile\n\nMedians and 95th percentiles over every "
       "iteration of the window; P&L per run."),
    code("table(explore.profiles)"),
    code('show(figures.profile_distributions(explore.iterations, explore.runs), '
         '"profile_distributions")'),
    md("## The slowest runs\n\nTotal iteration time (a run with a frozen clock takes 0 s)."),
    code("table(explore.slowest)"),
    md("## The failing runs\n\nRuns whose verdict is FAIL or with at least one FAIL iteration."),
    code('''if explore.failing.height:
    table(explore.failing)
else:
    print("no failing run in the window")'''),
    md("## Drill-down: one run\n\nThe run selected by `run` (by default the newest), with the "
       "figures of the KPI report and the comparison with its linked baseline."),
    code('''report = load_kpi_report(artifacts, explore.selected, gate=gate)
table(report.header)
print(f"{report.verdict.verdict} under the {gate} gate: " + "; ".join(report.verdict.reasons))'''),
    md(CHART_NOTE),
    code('show(charts.kpi_trends_chart(report.iterations, gate), "kpi_trends")'),
    code('show(charts.tuning_events(report.iterations), "tuning_events")'),
    code('show(charts.param_trajectories(report.iterations), "param_trajectories")'),
    code(COMPARISON),
    code('record("explore", explore.record())'),
])

SWEEP_REPORT = notebook([
    md("# Sweep report\n\nWhich configuration should the bot run, and how sure are we? A sweep "
       "ran every configuration (profile, tuner on or off, `--set` values) on the same simulated "
       "markets: the same seeds in the same market modes. This report compares each "
       "configuration with a baseline **on the same markets** (paired), with intervals from a "
       "seeded bootstrap and p-values corrected for the number of configurations compared."),
    code(f'''{ARTIFACTS}
sweep: str = "latest"  # sweep id (soakkit sweep --name), or "latest" for the newest finished one
baseline: str = "profile:steady_safe,tune:off"  # configuration to compare with: axis:value pairs
metric: str = "auto"  # what "better" means: auto (risk-adjusted P&L if the KPI exists, else P&L)
alpha: float = 0.05  # family-wise error rate of the Holm correction
per_mode: bool = False  # compare within each market mode instead of pooling the modes
resamples: int = 10000  # bootstrap and permutation resamples
seed: int = 12  # seed of the resampling Generator: same seed, same intervals and p-values''',
         "parameters"),
    code(SETUP_STATIC + '''\nimport polars as pl

from soakkit.report.sweep_figures import pnl_vs_risk
from soakkit.report.sweep_report import load_sweep_report, no_sweep_note

missing = no_sweep_note(artifacts, sweep)  # no sweep yet: said here, nothing shown below
report = None if missing else load_sweep_report(
    artifacts, sweep, baseline=baseline, metric=metric, alpha=alpha, per_mode=per_mode,
    resamples=resamples, seed=seed)
for note in [missing] if report is None else report.notes:
    print(note)'''),
    md("## Sweep"),
    code(if_report("table(report.header)")),
    md("## Configurations\n\nMean over the cells of each configuration (one cell per mode and "
       "seed) and its 95 % percentile bootstrap interval. *Pass rate*: the share of iterations "
       "the sweep's gate did not FAIL. *P&L*, *risk* and *volume*: means per iteration of "
       "`pnl_usd`, `risk_ratio` and `volume_usd`."),
    code(if_report("table(report.configs)")),
    md("## Paired comparisons with the baseline\n\nFor every configuration and metric: the mean "
       "difference to the baseline over the pairs of cells that saw the same market (same mode "
       "and seed), its 95 % bootstrap interval, and the two-sided p-value of a sign-flip "
       "permutation test (exact up to 12 pairs). **Multiple comparisons: Holm–Bonferroni**, "
       "over the configurations compared with the baseline, separately for each metric; "
       "*significant* means a Holm-adjusted p below `alpha`."),
    code(if_report('''print(f"baseline: {report.baseline}; Holm-Bonferroni at alpha = "
      f"{report.alpha:g}")
table(report.comparisons)''')),
    md("## P&L against risk\n\nUp and to the left is better. The Pareto front joins the "
       "configurations that no other configuration beats on both (less risk *and* more P&L)."),
    code(if_report('show(pnl_vs_risk(report.points), "pnl_vs_risk")')),
    code(if_report('''front = report.points.filter(pl.col("pareto"))
table(front.select("#", "configuration", "risk", "pnl"))''')),
    md("## Better than the baseline?\n\n*Better with confidence*: the primary metric is better "
       "and significant after Holm, and neither the pass rate nor the risk is significantly "
       "worse. *Better, but less safe*: the same, except a guardrail is significantly worse. "
       "*Only looks better*: the estimate is better, but not significant — more seeds might "
       "tell. Ranked by category, then by the difference."),
    code(if_report('''print(f"primary metric: {report.primary.label}")
table(report.ranking)''')),
    md("## Cells that failed\n\nA failed cell is left out of every figure above."),
    code(if_report('''if report.failures.height:
    table(report.failures)
else:
    print("none")
record("sweep", report.record())''')),
])

OPTIMIZE_REPORT = notebook([
    md("# Optimisation report\n\nWhich configuration should the bot run? `soakkit optimize` "
       "searched the parameters' bounds for the best risk-adjusted P&L the gate allows, on "
       "calibration markets, then ran the best trials, every shipped profile and the tuner on "
       "held-back markets it never saw. Trying many configurations inflates the best one's "
       "result; the **deflated Sharpe ratio** and the **probability of backtest overfitting** "
       "say by how much. This report shows the search and says plainly whether the evidence "
       "supports its recommendation."),
    code(f'''{ARTIFACTS}
study: str = "latest"  # study name (soakkit optimize --name), or "latest": the newest finished''',
         "parameters"),
    code(SETUP_STATIC + '''\nfrom soakkit.report import optimize_figures
from soakkit.report.optimize_report import load_optimize_report, no_study_note

missing = no_study_note(artifacts, study)  # no study yet: said here, nothing shown below
report = None if missing else load_optimize_report(artifacts, study)
for note in [missing] if report is None else report.notes:
    print(note)'''),
    md("## Verdict"),
    code(if_report("print(report.conclusion())")),
    md("## Study\n\nWhat was searched, from which profile, on which markets. The calibration "
       "and evaluation markets are disjoint: other seeds, the later windows of a tape the "
       "search saw, and every window of a tape held back whole (`--eval-tapes`)."),
    code(if_report("table(report.header)")),
    md("## The recommendation\n\nEvery searched parameter: its bounds (the parameter table), "
       "the starting profile's value and the winner's."),
    code(if_report("table(report.winner)")),
    md("## Optimisation history\n\nEach trial's mean risk-adjusted P&L per iteration on the "
       "calibration markets. *Feasible*: it holds the constraints, taken from the gate: per "
       "market, a pass rate no lower than the starting profile's, and each gated KPI holding "
       "its threshold on average (or no worse than the profile where the profile misses "
       "it). Trial 0 is the starting profile."),
    code(if_report('show(optimize_figures.history(report.trials), "history")')),
    md("## Parameter importances\n\nPED-ANOVA (Optuna): how differently the best trials set "
       "each parameter from the rest; the shares sum to 1."),
    code(if_report('show(optimize_figures.importances(report.importances), "importances")')),
    md("## P&L against risk\n\nEvery feasible trial's mean P&L per iteration against its mean "
       "risk ratio, in sample. The Pareto front joins the trials no other beats on both."),
    code(if_report('show(optimize_figures.pnl_vs_risk(report.points), "pnl_vs_risk")')),
    md("## In sample against out of sample\n\nThe best trials on the calibration markets "
       "against the same trials on the held-back ones. Points below the diagonal did worse "
       "on markets they were not chosen on."),
    code(if_report('''show(optimize_figures.in_vs_out(report.in_vs_out), "in_vs_out")
table(report.in_vs_out)''')),
    md("## Against every shipped profile and the tuner, out of sample\n\nOn the held-back "
       "markets, per market and pooled (`all`): the recommendation's mean risk-adjusted P&L "
       "per iteration against each shipped profile's (untuned, and with the live tuner), the "
       "mean paired difference over the cells (same market, same seed) and its 95 % "
       "bootstrap interval. *Beats*: the interval is above 0. *Pass rate kept*: the "
       "recommendation's pass rate is not lower."),
    code(if_report("table(report.comparisons)")),
    md("## Overfitting: deflated Sharpe ratio and PBO\n\n*Deflated Sharpe ratio* (Bailey and "
       "López de Prado, 2014): the probability that the winner's Sharpe ratio (per iteration, "
       "in sample) beats the best one as many trials without skill would show, given how the "
       "trials' Sharpe ratios vary, its skewness and kurtosis; the bar is 0.95. *PBO* (Bailey, "
       "Borwein, López de Prado and Zhu): over every way of splitting the calibration "
       "iterations into two halves of 8 of 16 blocks (CSCV), how often the best configuration "
       "of one half ranks at or below the median on the other; the bar is 0.2."),
    code(if_report('''show(optimize_figures.overfitting(report.overfitting), "overfitting")
record("optimize", report.record())''')),
])

FIDELITY_REPORT = notebook([
    md("# Fidelity report\n\nDoes the synthetic market pass for the real one? A recorded tape "
       "(`soakkit tape import`) against its synthetic market: by default the tape calibrated "
       "on the window compared (`soakkit calibrate`), in `mixed` mode, the regime mix it was "
       "fitted on. First the twelve **stylized facts**, measured the same way on the tape and "
       "on one synthetic window per seed; then the **sim-to-real table**: each profile "
       "replayed on the tape and run on the synthetic market, so a verdict reached on the "
       "synthetic market can be checked against the real one. `soakkit fidelity TAPE` prints "
       "the same tables (docs/SIMULATOR.md, \"Fidelity\")."),
    code(f'''tape: str | None = None  # the tape folder to compare with (required; soakkit tape)
market: str | None = None  # market profile, as soak --market; None: calibrate the tape
{ARTIFACTS}; where a named market and user profiles are looked up
minutes: int | None = None  # the first M whole minutes (1..120); None: all, at most 120
seeds: int = 8  # synthetic windows, and mini-soaks per profile and side (1..64)
seed: int = 0  # the first seed
profiles: str = "steady_safe,aggressive,ultra_safe"  # sim-to-real profiles; "none": none''',
         "parameters"),
    code(SETUP_CHARTS.replace("import charts", "import fidelity_charts")
         + '''\nfrom soakkit.report.fidelity_report import load_fidelity_report, no_tape_note

missing = no_tape_note(tape)  # no tape given: said here, nothing shown below
report = None if missing else load_fidelity_report(
    tape, market=market, artifacts=artifacts, minutes=minutes, seeds=seeds, seed=seed,
    profiles=profiles)
if report is None:
    print(missing)
else:
    table(report.header)'''),
    md("## Stylized facts\n\nEach fact on the tape (`real`), and over the synthetic windows: "
       "the median (`synthetic`) and the 5-95 % interval (`p5`, `p95`). *Within*: the median "
       "is within 25 % of the real value (`synthetic_vs_real` between 0.75 and 1.25)."),
    code(if_report("table(report.facts)")),
    md("## The facts at a glance\n\nEvery fact relative to its real value (the black line): "
       "the dot is the synthetic median, the grey line its 5-95 % interval, the green band "
       "the +/-25 % a fact must fall in. Hover a dot for its figures."),
    code(if_report('show(fidelity_charts.facts_chart(report.normalised), "facts")')),
    md("## Sim-to-real\n\nEach profile, untuned, **replayed** on the tape (one-minute "
       "iterations over the window compared) and **run on the synthetic market** (as many "
       "one-minute iterations), once per seed on each side. Means per iteration over every "
       "seed: fills (`fill_count`), P&L in USD (`pnl_usd`), adverse selection "
       "(`adverse_bps`, docs/KPIS.md) and the share of iterations the production gate "
       "passes."),
    code(if_report('''if report.sim_to_real is None:
    print("No sim-to-real table: profiles is none.")
else:
    print(report.note)
    table(report.sim_to_real)''')),
    md("## Fills, synthetic against replay\n\nEach profile's synthetic fills per iteration "
       "relative to the replay's; the green band is the 0.5-2x a profile must fall in, the "
       "shape says whether the two P&Ls have the same sign."),
    code(if_report('show(fidelity_charts.fills_chart(report.sim_to_real), "fills")')),
    md("## Verdict"),
    code(if_report('''print(report.verdict)
record("fidelity", report.record())''')),
])

TEMPLATES = {"mini_soak.ipynb": MINI_SOAK, "kpi_report.ipynb": KPI_REPORT,
             "disk_report.ipynb": DISK_REPORT, "explore_runs.ipynb": EXPLORE_RUNS,
             "sweep_report.ipynb": SWEEP_REPORT, "optimize_report.ipynb": OPTIMIZE_REPORT,
             "fidelity_report.ipynb": FIDELITY_REPORT}


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
