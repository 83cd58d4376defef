"""Issue 28, cases 9 and 10 on the configuration and the catalog's cache: nothing is
silently ignored, and one file soakkit refuses gets one exit code everywhere.

``config show --run ''`` is an error, not "no run"; a legacy overrides variable that sets
one parameter twice (flat and nested) names both and uses neither, and its deprecation is
said once; a truncated runtime file is exit 2 for ``soak --resume`` as for ``config show``;
``list-profiles`` marks a profile that does not load (exit 5) and refuses a ``profiles/``
that is a symlink; a damaged cache is a cold load; ``SOAKKIT_CACHE_DIR=''`` is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soakkit.catalog.cache import cache_dir
from soakkit.config.profiles import list_profiles
from soakkit.core.errors import ExitCode
from soakkit.soak import SoakOptions, run_soak

from .conftest import assert_one_line_error

NOW = "2026-11-24T12:00:00Z"


def _interrupted(root: Path) -> str:
    def stop(report) -> None:  # type: ignore[no-untyped-def]
        if report.iteration == 2:
            raise KeyboardInterrupt

    result = run_soak(SoakOptions(iterations=4, sim_minutes=1, artifacts=root, now=NOW),
                      env={}, progress=stop)
    assert result.status == "interrupted"
    return result.run_id


@pytest.mark.parametrize("command", ["show", "explain"])
@pytest.mark.parametrize("run", ["", "  "])
def test_an_empty_run_id_is_an_error(cli, artifacts: Path, command: str, run: str) -> None:  # type: ignore[no-untyped-def]
    argv = ["config", command, *(["tail_age_ms"] if command == "explain" else []),
            "--profile", "steady_safe", "--artifacts", str(artifacts), "--run", run]
    result = cli(*argv)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "--run: empty run id (give a run id, or 'latest')")


def test_run_and_runtime_overrides_together_are_an_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = _interrupted(tmp_path)
    result = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(tmp_path),
                 "--run", run_id, "--runtime-overrides",
                 str(tmp_path / "runs" / run_id / "runtime_overrides.json"))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "--run and --runtime-overrides both name the runtime layer")


def test_a_parameter_given_flat_and_nested_is_named_not_guessed(cli, artifacts: Path,  # type: ignore[no-untyped-def]
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setenv("MM_RUNTIME_OVERRIDES_JSON",
                       '{"tail_age_ms": 500, "engine": {"tail_age_ms": 600}}')
    result = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "env:MM_RUNTIME_OVERRIDES_JSON", "tail_age_ms: given 2 times "
                                  "(tail_age_ms = 500, engine.tail_age_ms = 600); keep one")
    monkeypatch.setenv("MM_RUNTIME_OVERRIDES_JSON", '{"engine": {"tail_age_ms": 600}}')
    once = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts))
    assert once.code == 0
    assert once.err.count("deprecated") == 1 and "deprecated" not in once.out


def test_a_truncated_runtime_file_is_exit_2_everywhere(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_id = _interrupted(tmp_path)
    path = tmp_path / "runs" / run_id / "runtime_overrides.json"
    path.write_bytes(path.read_bytes()[:40])
    show = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(tmp_path),
               "--run", run_id)
    resume = cli("soak", "--resume", run_id, "--artifacts", str(tmp_path), "--quiet")
    for result in (show, resume):
        assert result.code == ExitCode.USAGE, result
        assert_one_line_error(result, f"{path}:", "corrupt or truncated runtime overrides")


def test_list_profiles_marks_a_profile_that_does_not_load(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    folder = artifacts / "profiles"
    folder.mkdir()
    (folder / "broken.json").write_text("{bad")
    (folder / "outb.json").write_text('{"schema_version": 1, "params": {"tail_age_ms": 1}}')
    (folder / "fine.json").write_text('{"schema_version": 1, "params": {}}')
    result = cli("config", "list-profiles", "--artifacts", str(artifacts))
    assert result.code == ExitCode.PROBLEMS
    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert "INVALID: " in lines["broken"] and "broken.json:1:2" in lines["broken"]
    assert "INVALID: params.tail_age_ms: 1 is out of bounds" in lines["outb"]
    assert "INVALID" not in lines["fine"] and "INVALID" not in lines["steady_safe"]
    warnings = result.err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("soakkit: warning: profile ")
                                      for w in warnings)
    listed = json.loads(cli("config", "list-profiles", "--artifacts", str(artifacts),
                            "--json").out)
    builtins = {i.name: False for i in list_profiles(None)}  # every shipped one loads
    assert {p["name"]: bool(p["problems"]) for p in listed} == {
        **builtins, "broken": True, "fine": False, "outb": True}


def test_a_profiles_folder_that_is_a_symlink_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.json").write_text('{"schema_version": 1, "params": {}}')
    art = tmp_path / "art"
    art.mkdir()
    (art / "profiles").symlink_to(elsewhere)
    for argv in (["config", "list-profiles"], ["config", "show", "--profile", "mine"]):
        result = cli(*argv, "--artifacts", str(art))
        assert result.code == ExitCode.USAGE, (argv, result)
        assert_one_line_error(result, f"{art / 'profiles'} is a symlink to {elsewhere}")


@pytest.mark.parametrize("damage", [
    {"problems": {"a": 5}}, {"dirs": {"runs/x": "soon"}}, {"notes": {"a": [1]}},
    {"dirs": []}])
def test_a_damaged_catalog_cache_is_a_cold_load(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                               damage: dict[str, object]) -> None:
    run_soak(SoakOptions(iterations=1, sim_minutes=1, artifacts=tmp_path, now=NOW), env={})
    first = cli("catalog", "--artifacts", str(tmp_path), "--json")
    meta = cache_dir(tmp_path) / "catalog.json"
    doc = json.loads(meta.read_text())
    doc.update(damage)
    meta.write_text(json.dumps(doc))
    again = cli("catalog", "--artifacts", str(tmp_path), "--json")
    assert again.code == 0 and again.err == "" and again.out == first.out


def test_a_cache_file_of_other_columns_is_a_cold_load(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    run_soak(SoakOptions(iterations=1, sim_minutes=1, artifacts=tmp_path, now=NOW), env={})
    first = cli("catalog", "--artifacts", str(tmp_path), "--json")
    rows = cache_dir(tmp_path) / "catalog.parquet"
    pl.read_parquet(rows).drop("verdict").write_parquet(rows)
    again = cli("catalog", "--artifacts", str(tmp_path), "--json")
    assert again.code == 0 and again.out == first.out


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_cache_dir_variable_is_refused(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch,
                                                value: str) -> None:
    run_soak(SoakOptions(iterations=1, sim_minutes=1, artifacts=tmp_path, now=NOW), env={})
    monkeypatch.setenv("SOAKKIT_CACHE_DIR", value)
    (tmp_path / "prom").mkdir()
    for argv in (["catalog", "--artifacts", str(tmp_path)],
                 ["metrics", "--artifacts", str(tmp_path), "--out", str(tmp_path / "prom")],
                 ["report", "kpi", "-p", "artifacts", str(tmp_path), "--out",
                  str(tmp_path / "reports")]):
        result = cli(*argv)
        assert result.code == ExitCode.USAGE, (argv, result)
        assert_one_line_error(result, f"SOAKKIT_CACHE_DIR={value!r}: empty path")
    assert not (tmp_path / "reports").exists()
    assert cli("catalog", "--artifacts", str(tmp_path), "--no-cache").code == 0
