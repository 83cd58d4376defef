"""Where the artifacts are when nobody says: one resolution for the CLI, the API, notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from soakkit.artifacts.layout import ARTIFACTS_ENV, resolve_artifacts
from soakkit.catalog import load_catalog
from soakkit.core.errors import ArtifactError
from soakkit.soak import SoakOptions, run_soak

from .conftest import assert_one_line_error, run_subprocess


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with artifacts/soak holding one run, and a notebooks/ folder."""
    run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=tmp_path / "artifacts" / "soak",
                         now="2026-02-01T00:00:00Z"), env={})
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    return tmp_path


def test_an_explicit_folder_wins(project: Path) -> None:
    assert resolve_artifacts("elsewhere", cwd=project, environ={ARTIFACTS_ENV: "x"}) == \
        Path("elsewhere")


def test_the_environment_wins_over_the_search(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    got = resolve_artifacts(cwd=project / "notebooks", environ={ARTIFACTS_ENV: str(other)})
    assert got == other
    with pytest.raises(ArtifactError, match=f"{ARTIFACTS_ENV}=/nope: artifacts folder not found"):
        resolve_artifacts(cwd=project, environ={ARTIFACTS_ENV: "/nope"})


def test_the_nearest_artifacts_soak_above_the_working_folder(project: Path) -> None:
    root = project / "artifacts" / "soak"
    assert resolve_artifacts(cwd=project / "notebooks", environ={}) == root
    assert resolve_artifacts(cwd=project / "notebooks" / "deep", environ={}) == root
    assert resolve_artifacts(cwd=project, environ={}) == root
    nearer = project / "notebooks" / "artifacts" / "soak"
    nearer.mkdir(parents=True)
    assert resolve_artifacts(cwd=project / "notebooks" / "deep", environ={}) == nearer


def test_nothing_found_says_how_to_point_at_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        resolve_artifacts(cwd=tmp_path, environ={})
    message = str(info.value)
    assert "\n" not in message and ARTIFACTS_ENV in message and "--artifacts" in message
    # writers (soak, demo) start a new folder where they are
    assert resolve_artifacts(cwd=tmp_path, environ={}, create=True) == \
        tmp_path / "artifacts" / "soak"


def test_the_api_and_the_cli_use_it(project: Path, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(project / "notebooks" / "deep")
    assert load_catalog().frame.height == 2
    monkeypatch.setenv(ARTIFACTS_ENV, str(project / "artifacts" / "soak"))
    monkeypatch.chdir(project.parent)
    assert load_catalog().frame.height == 2
    out = run_subprocess("catalog", "--json", cwd=project / "notebooks")
    assert out.code == 0, out.err
    missing = run_subprocess("catalog", cwd=tmp_path_factory.mktemp("lonely"))
    assert missing.code == 2  # a folder the user must name: usage (docs/ERRORS.md)
    assert_one_line_error(missing, ARTIFACTS_ENV)
