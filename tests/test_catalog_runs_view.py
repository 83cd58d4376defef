"""The per-run view kept ready (`soakkit.catalog.runs_view`): the same rows, problems and
command output as a catalog loaded from the files, read back without polars, and never
after a folder changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from soakkit.catalog import load_catalog
from soakkit.catalog.cache_paths import cache_dir
from soakkit.catalog.runs_view import RUNS_VIEW_FILE, RunsView, read_runs_view, runs_view
from soakkit.soak import SoakOptions, run_soak

from .conftest import run_subprocess, subprocess_env


def _soak(root: Path, seed: int, iterations: int = 2) -> str:
    return run_soak(SoakOptions(iterations=iterations, seed=seed, sim_minutes=1,
                                gate="production", artifacts=root, tune=seed % 2 == 0,
                                now=f"2026-03-0{seed + 1}T00:00:00Z"), env={}).run_id


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOAKKIT_CACHE_DIR", str(tmp_path / "cache"))
    artifacts = tmp_path / "soak"
    for seed in range(2):
        _soak(artifacts, seed)
    return artifacts


def _loaded(root: Path) -> RunsView:
    """The view of a catalog read from the files (no cache at all)."""
    catalog = load_catalog(root, cache=False)
    summary = catalog.runs()
    return RunsView(tuple(summary.columns), summary.rows(), catalog.problems, catalog.notes)


def test_the_ready_view_is_the_loaded_catalogs_value_for_value(root: Path) -> None:
    assert read_runs_view(root) is None  # nothing kept yet
    first = runs_view(root)
    assert (cache_dir(root) / RUNS_VIEW_FILE).is_file()
    ready = read_runs_view(root)
    assert ready is not None
    assert ready == first == _loaded(root)  # floats, times and None exactly as loaded
    assert runs_view(root) == ready


def test_the_ready_view_is_read_without_polars(root: Path) -> None:
    runs_view(root)
    code = ("import sys; from pathlib import Path; "
            "from soakkit.catalog.runs_view import read_runs_view; "
            f"assert read_runs_view(Path({str(root)!r})) is not None; "
            "assert 'polars' not in sys.modules, 'polars imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), check=False)
    assert done.returncode == 0, done.stderr


def test_a_changed_folder_a_new_run_and_a_removed_run_are_never_served_stale(
        root: Path) -> None:
    runs_view(root)
    run_dir = next((root / "runs").iterdir())
    doc = run_dir / "ITER_SUMMARY_2.json"
    tmp = run_dir / "moved.tmp"
    os.rename(doc, tmp)  # rotation removed an iteration: the folder's mtime changed
    assert read_runs_view(root) is None
    assert runs_view(root) == _loaded(root)
    os.rename(tmp, doc)
    assert read_runs_view(root) is None
    assert runs_view(root) == _loaded(root)
    _soak(root, 2, iterations=3)  # a new run
    assert read_runs_view(root) is None
    view = runs_view(root)
    assert view == _loaded(root) and len(view.rows) == 3
    shutil.rmtree(run_dir)  # a run removed
    assert read_runs_view(root) is None
    assert runs_view(root) == _loaded(root)


def test_refresh_ignores_and_no_cache_neither_reads_nor_writes(root: Path) -> None:
    assert runs_view(root, cache=False) == _loaded(root)
    assert not (cache_dir(root) / RUNS_VIEW_FILE).exists()
    runs_view(root)
    kept = cache_dir(root) / RUNS_VIEW_FILE
    kept.write_text(kept.read_text().replace('"FAIL"', '"PASS"').replace('"WARN"', '"PASS"'))
    # refresh=True re-reads the files (as for cached rows, an edit behind the folder's mtime)
    assert runs_view(root, refresh=True) == _loaded(root)


@pytest.mark.parametrize("damage", ["", "{", '{"format": 1}', "[1, 2]",
                                    '{"format": 1, "rows": 3}'])
def test_a_damaged_view_is_rebuilt(root: Path, damage: str) -> None:
    runs_view(root)
    kept = cache_dir(root) / RUNS_VIEW_FILE
    kept.write_text(damage)
    assert read_runs_view(root) is None
    assert runs_view(root) == _loaded(root)
    assert read_runs_view(root) is not None


def test_the_command_prints_the_same_from_the_ready_view(root: Path) -> None:
    bad = next((root / "runs").iterdir()) / "ITER_SUMMARY_1.json"
    bad.write_text('{"broken')  # a problem: a warning line and exit code 5, warm or not
    cold = run_subprocess("catalog", "--artifacts", str(root), "--width", "120")
    assert (cache_dir(root) / RUNS_VIEW_FILE).is_file()
    warm = run_subprocess("catalog", "--artifacts", str(root), "--width", "120")
    uncached = run_subprocess("catalog", "--artifacts", str(root), "--width", "120",
                              "--no-cache")
    assert cold.code == 5 and "ITER_SUMMARY_1.json: not valid JSON" in cold.err
    assert cold == warm == uncached
    narrow = [run_subprocess("catalog", "--artifacts", str(root), "--width", "60")
              for _ in range(2)]  # the ready view is fitted to each width
    assert narrow[0] == narrow[1] and narrow[0].out != warm.out and narrow[0].code == 5


def test_a_rewritten_cache_drops_the_ready_view(root: Path) -> None:
    """A file edited in place keeps its folder's mtime; the documented remedy, a refreshed
    catalog from any entry point, must also reach the default view."""
    runs_view(root)
    assert (cache_dir(root) / RUNS_VIEW_FILE).is_file()
    load_catalog(root, refresh=True)  # e.g. a notebook after an edit in place
    assert not (cache_dir(root) / RUNS_VIEW_FILE).exists()
    assert read_runs_view(root) is None


def test_a_view_without_a_needed_column_is_not_used(root: Path) -> None:
    first = runs_view(root)
    assert read_runs_view(root, need=("run_id", "tune")) == first
    assert read_runs_view(root, need=("run_id", "no_such_column")) is None
    # the command rebuilds such a view instead of failing on it
    assert runs_view(root, need=("run_id", "tune")) == first
