"""Every notebook runs where a person opens it: a kernel in notebooks/, no parameter changed.

The kernel finds the artifacts by the one resolution (soakkit.artifacts.layout.resolve_artifacts):
``SOAKKIT_ARTIFACTS``, or the nearest ``artifacts/soak`` above ``notebooks/``. The artifacts
are temporary; nothing is written into the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from soakkit.notebooks.runner import NOTEBOOKS
from soakkit.soak import SoakOptions, run_soak

from .conftest import REPO

pytestmark = pytest.mark.slow  # executes every notebook template


@pytest.fixture(scope="module")
def real_clock_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs stamped by the real clock (the notebooks' defaults use real time), and a
    small sweep holding the sweep report's default baseline (steady_safe, tuner off)."""
    root = tmp_path_factory.mktemp("opened") / "artifacts" / "soak"
    for seed, profile in ((1, "steady_safe"), (2, "aggressive")):
        run_soak(SoakOptions(profile=profile, iterations=3, sim_minutes=2, mode="mixed",
                             seed=seed, gate="production", artifacts=root), env={})
    sweep = subprocess.run(
        [sys.executable, "-m", "soakkit", "sweep", "--profiles", "steady_safe", "--modes",
         "mixed", "--seeds", "1-4", "--tune", "both", "--iterations", "2", "--sim-minutes", "2",
         "--workers", "1", "--quiet", "--artifacts", str(root)],
        capture_output=True, text=True, check=False)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    return root


def _execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", [])
            if o.output_type == "error"]


@pytest.mark.parametrize("template", sorted(NOTEBOOKS.values()))
def test_every_notebook_runs_in_notebooks_folder_with_its_defaults(
        template: str, real_clock_artifacts: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = tmp_path / "soak"
    shutil.copytree(real_clock_artifacts, artifacts, symlinks=True)
    monkeypatch.setenv("SOAKKIT_ARTIFACTS", str(artifacts))
    folder = REPO / "notebooks"
    before = sorted(p.name for p in folder.iterdir())
    nb = _execute(folder / template, folder)
    assert _errors(nb) == []
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written there
    shown = [o for c in nb.cells for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in shown)


def test_a_notebook_finds_the_projects_artifacts_by_walking_up(
        real_clock_artifacts: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(real_clock_artifacts, project / "artifacts" / "soak", symlinks=True)
    (project / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "kpi_report.ipynb", project / "notebooks")
    nb = _execute(project / "notebooks" / "kpi_report.ipynb", project / "notebooks")
    assert _errors(nb) == []
    text = "".join(o.get("data", {}).get("text/plain", "") for c in nb.cells
                   for o in c.get("outputs", []))
    assert "aggressive-mixed-s2" in text  # the latest run of the project's artifacts
