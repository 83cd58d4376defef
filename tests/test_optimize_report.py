"""The optimisation report's data and figures on a real small study (the golden one's
inputs), and what it says when there is no study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from soakkit.config.params import PARAMS
from soakkit.config.profiles import list_profiles, load_profile
from soakkit.report import optimize_figures
from soakkit.report.optimize_report import load_optimize_report, no_study_note

from .conftest import run_subprocess
from .golden_support import OPTIMIZE_ARGS

pytestmark = pytest.mark.slow  # the module's fixture runs a whole study: the full suite runs these

SEARCHED = ["base_spread_bps_delta", "max_delta_ratio"]


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    art = tmp_path_factory.mktemp("opt") / "a"
    done = run_subprocess("optimize", *OPTIMIZE_ARGS, "--artifacts", str(art))
    assert done.code in (0, 1), done.err
    return art


def test_the_report_reads_the_study(studied: Path) -> None:
    report = load_optimize_report(studied, "latest")
    result = json.loads((studied / "studies" / "golden" / "result.json").read_text())
    assert report.study == "golden" and report.verdict == result["verdict"]

    trials = report.trials
    assert trials["trial"].to_list() == list(range(16))
    assert trials["feasible"][0]  # the starting profile
    best = trials["best_so_far"].to_list()
    assert best == sorted(best)  # never falls
    assert best[-1] == pytest.approx(result["evidence"]["winner"]["objective"])

    winner = report.winner
    assert winner["parameter"].to_list() == SEARCHED
    assert winner["bounds"].to_list() == [f"[{PARAMS[n].lo}, {PARAMS[n].hi}]" for n in SEARCHED]
    steady = load_profile("steady_safe", None).params
    assert winner["profile"].to_list() == [str(steady[n]) for n in SEARCHED]  # its values
    assert winner["recommended"].to_list() == [
        str(result["evidence"]["winner"]["values"][n]) for n in SEARCHED]

    assert set(report.importances["parameter"]) == set(SEARCHED)
    assert report.importances["importance"].sum() == pytest.approx(1.0)
    points = report.points
    assert points.height == int(trials["feasible"].sum()) and points["pareto"].any()
    assert points.filter("winner")["trial"].to_list() == [result["evidence"]["winner"]["trial"]]
    shipped = len(list_profiles(None))
    assert report.comparisons.height == 2 * shipped  # every shipped profile, tuner on and off
    assert 1 <= report.in_vs_out.height <= 5

    o = report.overfitting
    assert o is not None
    assert o.dsr == pytest.approx(result["evidence"]["overfitting"]["dsr"])
    assert o.pbo.pbo == pytest.approx(result["evidence"]["overfitting"]["pbo"]["pbo"])
    record = report.record()
    assert record["trials"] == 16 and record["cells"] == shipped
    if report.supported:
        assert report.conclusion().startswith("Recommendation supported")
    else:
        assert report.conclusion().startswith("The evidence does not support a "
                                              f"recommendation ({report.verdict})")
        assert all(reason in report.conclusion() for reason in report.reasons)


def test_every_figure_draws(studied: Path) -> None:
    report = load_optimize_report(studied, "golden")
    figures = [optimize_figures.history(report.trials),
               optimize_figures.importances(report.importances),
               optimize_figures.pnl_vs_risk(report.points),
               optimize_figures.in_vs_out(report.in_vs_out),
               optimize_figures.overfitting(report.overfitting)]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
    assert isinstance(optimize_figures.overfitting(None), str)


def test_without_a_study_the_report_says_so(studied: Path, tmp_path: Path) -> None:
    note = no_study_note(tmp_path, "latest")
    assert note is not None and "No study 'latest' yet" in note
    assert "No study 'other' yet" in (no_study_note(studied, "other") or "")
    assert no_study_note(studied, "golden") is None
