"""One name for the artifacts root (``--artifacts``, old spellings kept), resolved once at the
edge: the command line, ``soakkit.notebooks.run`` (the notebook parameter) or the API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from soakkit.cli import build_parser
from soakkit.notebooks.checks import report_problems
from soakkit.notebooks.runner import cast_parameters, notebook_parameters, run, template_path
from soakkit.soak import SoakOptions, run_soak

from .conftest import assert_one_line_error

NOW = "2026-02-01T00:00:00Z"
#: The old spellings that keep working, each an alias of --artifacts.
ALIASES = {("rotate",): ["--path"], ("rotate", "restore"): ["--path"],
           ("config", "migrate"): ["--path"]}


def _parsers(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
             ) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(words, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _parsers(child, (*words, name))
    return found


def test_every_command_calls_the_root_artifacts() -> None:
    """Every option naming the artifacts root is ``--artifacts``, aliases listed above."""
    roots = {}
    for words, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.dest == "artifacts" or "--path" in action.option_strings:
                assert action.option_strings[0] == "--artifacts", (words, action.option_strings)
                roots[words] = action.option_strings[1:]
    assert {w: a for w, a in roots.items() if a} == ALIASES
    assert {w[0] for w in roots} == {"demo", "soak", "sweep", "report", "catalog", "rotate",
                                     "metrics", "config", "calibrate"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose artifacts/soak holds one short run, and a notebooks/ folder."""
    base = tmp_path_factory.mktemp("project")
    run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=base / "artifacts" / "soak",
                         now=NOW), env={})
    (base / "notebooks").mkdir()
    return base


def test_old_spellings_say_the_same(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = str(project / "artifacts" / "soak")
    for argv in (["rotate", "--dry-run", "--now", NOW], ["config", "migrate", "--dry-run"]):
        new, old = cli(*argv, "--artifacts", root), cli(*argv, "--path", root)
        assert (new.code, new.out, new.err) == (old.code, old.out, old.err), argv
        assert new.code == 0, new.err


def test_rotate_never_guesses_its_folder(project: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(project)  # an artifacts/soak is right here: rotate still asks
    result = cli("rotate", "--dry-run")
    assert result.code == 1
    assert_one_line_error(result, "--artifacts DIR (or --path DIR) is required")


def test_report_takes_the_folder_once(project: Path, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = project / "artifacts" / "soak"
    result = cli("report", "disk", "--artifacts", str(root), "-p", "artifacts", str(tmp_path),
                 "--out", str(tmp_path / "r"))
    assert result.code == 2
    assert_one_line_error(result, "give the folder once")
    assert not (tmp_path / "r").exists()


def test_a_path_parameter_is_the_kernels_text() -> None:
    """The demo passes its resolved root as a Path; the kernel receives the text."""
    specs = notebook_parameters(template_path("kpi"))
    assert cast_parameters(specs, {"artifacts": Path("a/b")})["artifacts"] == "a/b"
    assert cast_parameters(specs, {"artifacts": Path("a/b")}, from_text=True)["artifacts"] \
        == "a/b"


def test_checks_use_the_root_they_are_given(project: Path, tmp_path: Path) -> None:
    """No check resolves the folder again: each judges the root the runner found."""
    assert report_problems("kpi", {"run": "latest"}, project / "artifacts" / "soak") == []
    assert report_problems("kpi", {"run": "latest"}, tmp_path / "nope") == [
        f"-p artifacts {tmp_path / 'nope'}: the artifacts folder does not exist"]
    assert report_problems("kpi", {"run": "latest"}, None) == []  # already reported


@pytest.mark.slow
def test_the_runner_resolves_once_and_the_kernel_reads_that_folder(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``artifacts``: the runner finds artifacts/soak above the working folder; the
    kernel gets that folder (not ``None`` to resolve again) and the manifest records it."""
    monkeypatch.chdir(project / "notebooks")
    result = run("disk", {"now": NOW}, tmp_path / "reports")
    assert result.status == "ok", result.evalue
    manifest = json.loads((result.output_dir / "manifest.json").read_text())
    assert manifest["parameters"]["artifacts"] == str(project / "artifacts" / "soak")
    assert result.parameters["artifacts"] == str(project / "artifacts" / "soak")
