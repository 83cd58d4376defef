"""The mini-soak runner: valid, reproducible, isolated runs; sleep, exit codes, Ctrl-C, resume."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from soakkit.artifacts.iterlog import file_id, read_log
from soakkit.artifacts.iterlog_table import table_is_current
from soakkit.artifacts.layout import ITER_SUMMARY_SCHEMA, iter_summary_name
from soakkit.catalog import load_catalog
from soakkit.catalog.load import LEGACY_RUN_ID
from soakkit.soak import SoakOptions, run_soak

from .conftest import assert_one_line_error, run_subprocess

NOW = "2026-11-24T12:00:00Z"


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(ITER_SUMMARY_SCHEMA.read_text()))


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def test_done_when_command_writes_a_valid_run(tmp_path: Path) -> None:
    art = tmp_path / "a"
    result = run_subprocess("soak", "--profile", "steady_safe", "--iterations", "3", "--mode",
                            "volatile", "--seed", "7", "--artifacts", str(art))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert result.err == ""  # not a terminal: no progress lines
    run_dir = (art / "latest").resolve()
    names = sorted(p.name for p in run_dir.iterdir())
    assert [n for n in names if not n.startswith(".")] == [
        "ITER_SUMMARY_1.json", "ITER_SUMMARY_2.json", "ITER_SUMMARY_3.json", "RUN.json",
        "TUNING_REPORT.json", "iterations.jsonl", "iterations.parquet", "runtime_overrides.json"]
    validator = _validator()
    log, problems = read_log(run_dir)
    assert problems == [] and sorted(log) == [1, 2, 3] and table_is_current(run_dir)
    for n in (1, 2, 3):
        path = run_dir / iter_summary_name(n)
        doc = json.loads(path.read_text())
        assert list(validator.iter_errors(doc)) == []
        assert doc["iteration"] == n and doc["mode"] == "volatile"
        assert log[n].holds(doc)  # the log copies every file exactly, and says which file
        assert log[n].file == file_id(path.name, path.read_bytes(), path.stat().st_mtime_ns)
    run = json.loads((run_dir / "RUN.json").read_text())
    assert run["status"] == "finished" and run["iterations_done"] == 3
    assert run["profile"]["name"] == "steady_safe" and len(run["profile"]["sha256"]) == 64
    assert run["config"]["params"]["min_interval_ms"]["origin"]["source"] == "profile:steady_safe"
    assert run["verdict"]["verdict"] in ("PASS", "WARN")
    report = json.loads((run_dir / "TUNING_REPORT.json").read_text())
    assert [e["iteration"] for e in report["iterations"]] == [1, 2, 3]


@pytest.mark.determinism
def test_same_inputs_and_clock_give_byte_identical_files(tmp_path: Path) -> None:
    options = {"profile": "steady_safe", "iterations": 4, "mode": "mixed", "seed": 11,
               "sim_minutes": 5, "gate": "production", "now": NOW}
    a = run_soak(SoakOptions(artifacts=tmp_path / "a", **options), env={})
    b = run_soak(SoakOptions(artifacts=tmp_path / "b", **options), env={})
    assert a.run_id == b.run_id
    assert _files(a.run_dir) == _files(b.run_dir)
    c = run_soak(SoakOptions(artifacts=tmp_path / "c", **{**options, "seed": 12}), env={})
    assert _files(c.run_dir)["ITER_SUMMARY_1.json"] != _files(a.run_dir)["ITER_SUMMARY_1.json"]


def test_no_state_leaks_between_runs(tmp_path: Path) -> None:
    options = SoakOptions(iterations=3, mode="volatile", gate="production", sim_minutes=5,
                          seed=2, artifacts=tmp_path, now=NOW)  # the tuner applies at 3
    first = run_soak(options, env={})
    tuned = json.loads((first.run_dir / "runtime_overrides.json").read_text())["values"]
    assert tuned, "the first run should have tuned something"
    second = run_soak(options, env={})
    assert second.run_dir != first.run_dir
    doc = json.loads((second.run_dir / "ITER_SUMMARY_1.json").read_text())
    # nothing from the first run's runtime layer (parameters newer than the profile: defaults)
    assert {p["origin"] for p in doc["params"].values()} <= {"profile:steady_safe", "defaults"}
    assert (tmp_path / "latest").resolve() == second.run_dir


def test_smoke_soak_passes_for_steady_safe_in_calm(tmp_path: Path) -> None:
    result = run_soak(SoakOptions(profile="steady_safe", iterations=3, mode="calm", seed=3,
                                  gate="smoke", artifacts=tmp_path), env={})
    assert result.verdict.verdict == "PASS" and result.exit_code == 0


def test_sleep_between_iterations_never_after_the_last(tmp_path: Path) -> None:
    slept: list[float] = []
    run_soak(SoakOptions(iterations=3, sim_minutes=1, artifacts=tmp_path),
             env={"SOAK_SLEEP_SECONDS": "0.25"}, sleep=slept.append)
    assert slept == [0.25, 0.25]
    slept.clear()
    run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=tmp_path, sleep_seconds=1.5),
             env={"SOAK_SLEEP_SECONDS": "9"}, sleep=slept.append)
    assert slept == [1.5]  # the flag wins over the environment


@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf"])
def test_bad_sleep_env_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = run_subprocess("soak", "--iterations", "1", "--artifacts", str(tmp_path),
                            env={"SOAK_SLEEP_SECONDS": value})
    assert result.code == 2
    assert_one_line_error(result, "SOAK_SLEEP_SECONDS")
    assert not (tmp_path / "runs").exists()


def test_fail_verdict_exits_1(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("soak", "--mode", "spike", "--gate", "production", "--iterations", "4",
                 "--no-tune", "--sim-minutes", "5", "--artifacts", str(tmp_path))
    assert result.code == 1, result.out
    assert "verdict FAIL" in result.out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--iterations", "0"], "--iterations 0"), (["--mode", "storm"], "--mode 'storm': expected one of"),
     (["--sim-minutes", "0"], "--sim-minutes 0"), (["--profile", "../x"], "invalid profile"),
     (["--set", "tail_age_ms=abc"], "expected an integer"), (["--now", "yesterday"], "--now"),
     (["--gate", "strict"], "--gate 'strict': expected one of"),
     (["--baseline", "20260101T000000Z-nope"], "--baseline 20260101T000000Z-nope: unknown run id")],
)
def test_usage_errors_exit_2_and_write_nothing(cli, tmp_path: Path, args: list[str],  # type: ignore[no-untyped-def]
                                               fragment: str) -> None:
    result = cli("soak", "--artifacts", str(tmp_path / "x"), *args)
    assert result.code == 2
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "x" / "runs").exists() or not list((tmp_path / "x" / "runs").iterdir())


def test_ctrl_c_leaves_a_consistent_interrupted_run_that_resumes(tmp_path: Path) -> None:
    options = SoakOptions(iterations=5, mode="volatile", gate="production", sim_minutes=3,
                          artifacts=tmp_path, now=NOW)

    def interrupt(report) -> None:  # type: ignore[no-untyped-def]
        if report.iteration == 2:
            raise KeyboardInterrupt

    result = run_soak(options, env={}, progress=interrupt)
    assert result.status == "interrupted" and result.exit_code == 130
    run = json.loads((result.run_dir / "RUN.json").read_text())
    assert run["status"] == "interrupted" and run["iterations_done"] == 2
    assert not (tmp_path / "latest").exists()  # latest points at finished runs only
    report = json.loads((result.run_dir / "TUNING_REPORT.json").read_text())
    assert [e["iteration"] for e in report["iterations"]] == [1, 2]

    resumed = run_soak(options, env={}, resume=result.run_id)
    assert resumed.status == "finished" and resumed.iterations_done == 5
    straight = run_soak(SoakOptions(**{**options.__dict__, "artifacts": tmp_path / "b"}), env={})
    assert _files(resumed.run_dir)["ITER_SUMMARY_5.json"] == \
        _files(straight.run_dir)["ITER_SUMMARY_5.json"]


def test_progress_lines_only_on_a_terminal(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    quiet = cli("soak", "--iterations", "2", "--sim-minutes", "1", "--artifacts", str(tmp_path))
    assert quiet.err == ""
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    loud = cli("soak", "--iterations", "2", "--sim-minutes", "1", "--artifacts", str(tmp_path))
    assert "[1/2]" in loud.err and "[2/2]" in loud.err


def test_profile_edited_during_the_run_is_detected(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir(parents=True)
    path = profiles / "mine.json"
    path.write_text(json.dumps({"schema_version": 1, "description": "", "params": {}}))

    def edit(report) -> None:  # type: ignore[no-untyped-def]
        path.write_text(json.dumps({"schema_version": 1, "description": "x", "params": {}}))

    from soakkit.core.errors import ConfigError

    with pytest.raises(ConfigError, match="changed during the run"):
        run_soak(SoakOptions(profile="mine", iterations=3, sim_minutes=1, artifacts=tmp_path),
                 env={}, progress=edit)


def _legacy(root: Path) -> None:
    latest = root / "latest"
    latest.mkdir(parents=True)
    docs = {
        1: {"iteration": 1, "summary": {"net_bps": -1.5, "risk_ratio": 0.17,
                                        "maker_taker_ratio": 0.5, "p95_latency_ms": 250,
                                        "adverse_bps_p95": 5.0, "slippage_bps_p95": 3.5,
                                        "order_age_p95_ms": 340, "kpi_verdict": "FAIL",
                                        "kpi_reasons": ["EDGE"],
                                        "runtime_utc": "2025-10-12T12:00:00Z"},
            "tuning": {"deltas": {"min_interval_ms": 5}, "applied": True}},
        2: {"iteration": 2, "summary": {"net_bps": -0.8}, "tuning": {}},
        10: {"iteration": 10, "summary": {"net_bps": 3.8, "risk_ratio": 0.3}},
    }
    for n, doc in docs.items():
        (latest / f"ITER_SUMMARY_{n}.json").write_text(json.dumps(doc))
    (latest / "ITER_SUMMARY_010.json").write_text("{}")  # non-canonical name: ignored
    (latest / "TUNING_REPORT.json").write_text("[]")


def test_legacy_layout_loads_into_the_same_table(tmp_path: Path) -> None:
    _legacy(tmp_path)
    run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=tmp_path, now=NOW), env={})
    catalog = load_catalog(tmp_path)
    assert catalog.problems == ()
    legacy = catalog.frame.filter(catalog.frame["run_id"] == LEGACY_RUN_ID)
    assert legacy["iteration"].to_list() == [1, 2, 10]  # numeric order, gaps tolerated
    assert legacy["net_bps"].to_list() == [-1.5, -0.8, 3.8]
    assert legacy["risk_ratio"].to_list() == [0.17, None, 0.3]
    assert legacy["verdict"].to_list() == ["FAIL", None, None]
    assert legacy["delta_min_interval_ms"].to_list() == [5.0, None, None]
    new = catalog.frame.filter(catalog.frame["layout"] == "runs")
    assert new["iteration"].to_list() == [1, 2]
    assert new["profile"].to_list() == ["steady_safe", "steady_safe"]
    assert set(catalog.frame.columns) == set(legacy.columns)
