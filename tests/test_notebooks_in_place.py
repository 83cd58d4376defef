"""Every notebook runs where a person opens it: a kernel in notebooks/, no parameter changed.

The kernel finds the artifacts by the one resolution (soakkit.artifacts.layout.resolve_artifacts):
``SOAKKIT_ARTIFACTS``, or the nearest ``artifacts/soak`` above ``notebooks/``. The artifacts
are temporary; nothing is written into the repository.

What a new user does first is the README's: ``soakkit demo``, then the notebooks. Each one,
opened with its defaults, shows the demo's tuned run (``latest``) beside its baseline, with
no warning and no empty figure, or says in words that there is nothing to show.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from soakkit.notebooks.runner import NOTEBOOKS
from soakkit.report.charts import VEGALITE_MIME

from .conftest import REPO, run_subprocess

PNG = b"\x89PNG\r\n\x1a\n"


def _runs(root: Path) -> tuple[str, str]:
    runs = sorted(p.name for p in (root / "runs").iterdir())
    tuned = next(r for r in runs if r.endswith("-tuned"))
    baseline = next(r for r in runs if r.endswith("-untuned"))
    return tuned, baseline

pytestmark = pytest.mark.slow  # executes every notebook template


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder after the README's first command: ``soakkit demo`` (real clock)."""
    project = tmp_path_factory.mktemp("project")
    done = run_subprocess("demo", "--iterations", "3", cwd=project,
                          env={"SOAKKIT_CACHE_DIR": os.environ["SOAKKIT_CACHE_DIR"]})
    assert done.code in (0, 1), done.err  # 1: the tuned run's verdict is FAIL
    root = project / "artifacts" / "soak"
    tuned, _ = _runs(root)
    assert (root / "latest").resolve().name == tuned  # the run the demo reports on
    return project


def _execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list[Any]:
    return [o for c in nb.cells for o in c.get("outputs", [])]


def _text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   + o.get("data", {}).get("text/html", "") for o in _outputs(nb))


def _figures(nb: nbformat.NotebookNode) -> dict[str, Any]:
    return {o["metadata"]["soakkit_figure"]: o for o in _outputs(nb)
            if o.get("metadata", {}).get("soakkit_figure")}


def _check_clean(nb: nbformat.NotebookNode) -> None:
    """No error, no warning (nothing on stderr), and every figure has something drawn."""
    errors = [f"{o.ename}: {o.evalue}" for o in _outputs(nb) if o.output_type == "error"]
    assert errors == []
    stderr = [o.text for o in _outputs(nb) if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []
    for name, output in _figures(nb).items():
        png = base64.b64decode(output["data"]["image/png"])
        assert png.startswith(PNG) and len(png) > 5_000, name
        chart = output["data"].get(VEGALITE_MIME)
        if chart is not None:  # one chart: its spec and the PNG rendered from it, together
            data = chart.get("datasets") or {}
            assert any(data.values()) or chart.get("data", {}).get("values"), name


@pytest.mark.parametrize("template", sorted(NOTEBOOKS.values()))
def test_after_the_demo_every_notebook_shows_its_run_with_its_defaults(
        template: str, demo_project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = tmp_path / "soak"
    shutil.copytree(demo_project / "artifacts" / "soak", artifacts, symlinks=True)
    monkeypatch.setenv("SOAKKIT_ARTIFACTS", str(artifacts))
    tuned, baseline = _runs(artifacts)
    folder = REPO / "notebooks"
    before = sorted(p.name for p in folder.iterdir())
    nb = _execute(folder / template, folder)
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written there
    _check_clean(nb)
    text, figures = _text(nb), _figures(nb)
    if template in ("kpi_report.ipynb", "explore_runs.ipynb"):
        assert tuned in text and f"baseline {baseline}, linked to the run" in text
        assert {"kpi_trends", "tuning_events", "param_trajectories"} <= set(figures)
        assert VEGALITE_MIME in figures["kpi_trends"]["data"]  # interactive, one output
    if template == "explore_runs.ipynb":
        assert {"runs", "verdict_timeline", "profile_distributions"} <= set(figures)
        # exported as a person would (`jupyter nbconvert --to html`), every figure stays:
        # the charts as their PNG, no placeholder text
        from nbconvert import HTMLExporter

        exported, _ = HTMLExporter().from_notebook_node(nb)
        assert exported.count("<img") >= len(figures)
        assert "report.html, PNG elsewhere" not in exported  # no chart as its text form
    if template == "mini_soak.ipynb":  # a new run, which links no baseline: said in words
        assert "no baseline: the run links none" in text and "kpi_trends" in figures
    if template == "disk_report.ipynb":
        assert {"disk_usage", "disk_growth"} <= set(figures)  # the demo's rotation is logged
    if template == "sweep_report.ipynb":
        assert "No sweep under" in text and figures == {}
    if template == "fidelity_report.ipynb":  # no tape by default: said in words
        assert "No tape given" in text and figures == {}


def test_the_sweep_notebook_shows_a_sweep_with_its_defaults(
        demo_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a sweep holding its default baseline (steady_safe, tuner off)."""
    artifacts = tmp_path / "soak"
    shutil.copytree(demo_project / "artifacts" / "soak", artifacts, symlinks=True)
    sweep = subprocess.run(
        [sys.executable, "-m", "soakkit", "sweep", "--profiles", "steady_safe", "--modes",
         "mixed", "--seeds", "1-4", "--tune", "both", "--iterations", "2", "--sim-minutes", "2",
         "--workers", "1", "--quiet", "--artifacts", str(artifacts)],
        capture_output=True, text=True, check=False)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    monkeypatch.setenv("SOAKKIT_ARTIFACTS", str(artifacts))
    nb = _execute(REPO / "notebooks" / "sweep_report.ipynb", REPO / "notebooks")
    _check_clean(nb)
    assert "pnl_vs_risk" in _figures(nb) and "No sweep under" not in _text(nb)


def test_a_notebook_finds_the_projects_artifacts_by_walking_up(
        demo_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(demo_project / "artifacts", project / "artifacts", symlinks=True)
    (project / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "kpi_report.ipynb", project / "notebooks")
    nb = _execute(project / "notebooks" / "kpi_report.ipynb", project / "notebooks")
    _check_clean(nb)
    tuned, _ = _runs(project / "artifacts" / "soak")
    assert tuned in _text(nb)  # the latest run of the project's artifacts
