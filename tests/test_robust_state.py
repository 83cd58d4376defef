"""Issue 13, classes 5 and 6: stale state is refused, and migration never loses a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soakkit.config.profiles import load_profile
from soakkit.config.runtime import read_runtime_overrides, write_runtime_overrides
from soakkit.core.errors import ExitCode
from soakkit.soak import SoakOptions, run_soak

from .conftest import assert_one_line_error

NOW = "2026-11-24T12:00:00Z"


def _interrupted_run(root: Path, iterations: int = 6, stop_after: int = 3, seed: int = 1,
                     sim_minutes: int = 1) -> str:
    """A run that stopped (as after Ctrl-C) after ``stop_after`` of ``iterations``."""
    seen = []

    def stop(report) -> None:  # type: ignore[no-untyped-def]
        seen.append(report.iteration)
        if report.iteration == stop_after:
            raise KeyboardInterrupt

    result = run_soak(SoakOptions(iterations=iterations, sim_minutes=sim_minutes, mode="volatile",
                                  seed=seed, gate="production", artifacts=root, now=NOW),
                      env={}, progress=stop)
    assert result.status == "interrupted" and result.iterations_done == stop_after
    return result.run_id


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


# ------------------------------------------------------------------ 5. state consistency
def test_runtime_overrides_of_another_profile_are_refused_naming_both(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    path = artifacts / "runtime_overrides.json"
    steady = load_profile("steady_safe", None)
    write_runtime_overrides(path, expected_revision=None, base_profile="steady_safe",
                            base_profile_sha256=steady.sha256, values={"tail_age_ms": 900},
                            applied=None)
    ok = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts),
             "--runtime-overrides", str(path))
    assert ok.code == 0, ok.err
    other = cli("config", "show", "--profile", "aggressive", "--artifacts", str(artifacts),
                "--runtime-overrides", str(path))
    assert other.code == ExitCode.USAGE
    assert_one_line_error(other, "belongs to profile 'steady_safe' (sha256 "
                          f"{steady.sha256[:12]}), not to profile 'aggressive'")
    # the same name, but the profile was edited: the hashes differ
    (artifacts / "profiles").mkdir()
    (artifacts / "profiles" / "steady_safe.json").write_text(json.dumps(
        {"schema_version": 1, "description": "edited", "params": {"tail_age_ms": 800}}))
    edited = cli("config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts),
                 "--runtime-overrides", str(path))
    assert edited.code == ExitCode.USAGE
    assert_one_line_error(edited, "not to profile 'steady_safe' (sha256 ")


def test_a_run_resumed_with_another_profiles_runtime_file_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run_id = _interrupted_run(tmp_path)
    path = tmp_path / "runs" / run_id / "runtime_overrides.json"
    doc = json.loads(path.read_text())  # same revision and values, another profile's
    doc.update(base_profile="aggressive",
               base_profile_sha256=load_profile("aggressive", None).sha256)
    path.write_text(json.dumps(doc))
    result = cli("soak", "--resume", run_id, "--artifacts", str(tmp_path), "--quiet")
    assert result.code == ExitCode.USAGE, result.err
    assert_one_line_error(result, "belongs to profile 'aggressive'",
                          "not to profile 'steady_safe'")
    meta = json.loads((tmp_path / "runs" / run_id / "RUN.json").read_text())
    assert meta["iterations_done"] == 3 and meta["status"] == "failed"
    assert not (tmp_path / "runs" / run_id / "ITER_SUMMARY_4.json").exists()


def test_a_revision_that_went_backwards_is_refused_on_resume(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    # a seed on which the tuner applies early (it judges changes on iterations of 4 minutes+)
    run_id = _interrupted_run(tmp_path, seed=5, sim_minutes=4)
    run_dir = tmp_path / "runs" / run_id
    current = read_runtime_overrides(run_dir / "runtime_overrides.json")
    assert current.revision >= 1, "the tuner applied something in 3 volatile iterations"
    before = _snapshot(run_dir)
    (run_dir / "runtime_overrides.json").unlink()  # "restored" from an old backup: revision 0
    write_runtime_overrides(run_dir / "runtime_overrides.json", expected_revision=None,
                            base_profile=current.base_profile,
                            base_profile_sha256=current.base_profile_sha256, values={},
                            applied=None)
    result = cli("soak", "--resume", run_id, "--artifacts", str(tmp_path), "--quiet")
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"revision 0 is behind revision {current.revision}",
                          "iteration 3 recorded", "not resumed")
    after = _snapshot(run_dir)
    assert {k: v for k, v in after.items() if k != "runtime_overrides.json"} == \
        {k: v for k, v in before.items() if k != "runtime_overrides.json"}


@pytest.mark.parametrize(("flags", "fragment"), [
    (["--iterations", "60"], "--iterations 60 conflicts with the run's own iterations 6"),
    (["--mode", "calm"], "--mode 'calm' conflicts with the run's own mode 'volatile'"),
    (["--seed", "9"], "--seed 9 conflicts with the run's own seed 1"),
    (["--set", "tail_age_ms=700"], "--set ['tail_age_ms=700'] conflicts with the run's own sets []"),
    (["--no-tune"], "--no-tune conflicts with the run's own tune True"),
    (["--market", "binance-btc"], "--market 'binance-btc' conflicts with the run's own market "
                                  "'default'"),
    (["--market-data", "tape"], "--market-data 'tape' conflicts with the run's own "
                                "market_data None"),
])
def test_resume_with_conflicting_options_is_refused(tmp_path: Path, cli, flags: list[str],  # type: ignore[no-untyped-def]
                                                    fragment: str) -> None:
    run_id = _interrupted_run(tmp_path)
    before = _snapshot(tmp_path)
    result = cli("soak", "--resume", run_id, "--artifacts", str(tmp_path), "--quiet", *flags)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"--resume {run_id}: {fragment}")
    assert _snapshot(tmp_path) == before


def test_resume_with_the_runs_own_options_continues(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run_id = _interrupted_run(tmp_path)
    result = cli("soak", "--resume", run_id, "--artifacts", str(tmp_path), "--quiet",
                 "--iterations", "6", "--mode", "volatile", "--gate", "production")
    assert result.code in (0, 1), result.err
    meta = json.loads((tmp_path / "runs" / run_id / "RUN.json").read_text())
    assert meta["status"] == "finished" and meta["iterations_done"] == 6


# ------------------------------------------------------------------ 6. migration keeps values
def test_two_legacy_sources_of_one_profile_are_a_conflict(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    (artifacts / "steady_safe_overrides.json").write_text('{"min_interval_ms": 90}')
    (artifacts / "applied_profile.json").write_text(
        '{"profile": "steady_safe", "min_interval_ms": 110}')
    before = _snapshot(artifacts)
    for argv in (["--dry-run"], []):
        result = cli("config", "migrate", "--path", str(artifacts), *argv)
        assert result.code == ExitCode.USAGE
        assert_one_line_error(result, "steady_safe_overrides.json: min_interval_ms=90",
                              "applied_profile.json: min_interval_ms=110",
                              "2 legacy files map to profile 'steady_safe'")
        assert _snapshot(artifacts) == before
    # the same values twice are one profile, not a conflict
    (artifacts / "applied_profile.json").write_text(
        '{"profile": "steady_safe", "min_interval_ms": 90}')
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == 0, result.err
    assert json.loads((artifacts / "profiles" / "steady_safe.json").read_text())["params"] == \
        {"min_interval_ms": 90}
    assert not (artifacts / "applied_profile.json").exists()
    assert "same values as steady_safe_overrides.json" in result.out


@pytest.mark.parametrize(("name", "text"), [
    ("profiles/future.json", '{"schema_version": 2, "params": {"x_new": 1}, "owner": "team"}'),
    ("profiles/odd.json", '{"schema_version": "1", "params": {}}'),
    ("runtime_overrides.json", '{"schema_version": 3, "revision": 9, "values": {}}'),
])
def test_an_unknown_schema_version_is_refused_never_downgraded(cli, artifacts: Path, name: str,  # type: ignore[no-untyped-def]
                                                               text: str) -> None:
    path = artifacts / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    before = _snapshot(artifacts)
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, str(path), "is not a version this soakkit migrates",
                          "refusing to rewrite it")
    assert _snapshot(artifacts) == before
