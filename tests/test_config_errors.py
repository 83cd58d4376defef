"""Every bad config input: one line per problem naming layer and source, exit 2, no traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soakkit.config.profiles import load_profile
from soakkit.config.runtime import write_runtime_overrides

from .conftest import assert_one_line_error, run_subprocess


def _profile(root: Path, text: str, name: str = "mine") -> None:
    (root / "profiles").mkdir(exist_ok=True)
    (root / "profiles" / f"{name}.json").write_text(text)


def _show(cli, root: Path, *extra: str, profile: str = "steady_safe"):  # type: ignore[no-untyped-def]
    return cli("config", "show", "--profile", profile, "--artifacts", str(root), *extra)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("abc", "expected an integer, got 'abc'"),
        ("true", "expected an integer, got 'true'"),
        ("7.5", "expected an integer, got '7.5'"),
        (" 78", "surrounding whitespace"),
        ("", "empty value"),
        ("nan", "expected an integer, got 'nan'"),
        ("5", "5 is out of bounds [40, 300] ms"),
        ("1e2", "expected an integer, got '1e2'"),
    ],
)
def test_cli_set_bad_value(cli, artifacts: Path, value: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    result = _show(cli, artifacts, "--set", f"min_interval_ms={value}")
    assert result.code == 2
    assert_one_line_error(result, f"cli (cli:--set min_interval_ms={value})", fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("inf", "expected a finite number, got 'inf'"), ("NaN", "expected a finite number, got 'NaN'"),
     ("0.9", "out of bounds [0.02, 0.2]")],
)
def test_cli_set_bad_float(cli, artifacts: Path, value: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    result = _show(cli, artifacts, "--set", f"impact_cap_ratio={value}")
    assert result.code == 2
    assert_one_line_error(result, fragment)


def test_cli_unknown_key_did_you_mean(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    result = _show(cli, artifacts, "--set", "min_intervl_ms=70", "--set", "noequals")
    assert result.code == 2
    assert_one_line_error(result, "unknown parameter (did you mean 'min_interval_ms'?)",
                          "expected --set name=value")
    assert len(result.err.strip().splitlines()) == 2


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("SOAKKIT_PARAM_TAIL_AGE_MS", "", "empty value"),
        ("SOAKKIT_PARAM_TAIL_AGE_MS", "abc", "expected an integer"),
        ("SOAKKIT_PARAM_TAIL_AGE_MS", "99999", "out of bounds [300, 1500]"),
        ("SOAKKIT_PARAM_TAIL_AGE", "700", "did you mean SOAKKIT_PARAM_TAIL_AGE_MS?"),
        ("soakkit_param_tail_age_ms", "700", "environment names are upper-case"),
        ("SOAKKIT_OVERRIDES_JSON", "", "empty value"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": 700', "invalid JSON at line 1 column 20"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": 7,\n"tail_age_ms": 8}',
         "invalid JSON at line 2 column 1: duplicate key 'tail_age_ms'"),
        ("SOAKKIT_OVERRIDES_JSON", "[1]", "top level must be a JSON object, not an array"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": NaN}', "NaN is not valid JSON"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": "700"}', "expected an integer, got a string"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": true}', "got a boolean (true)"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_age_ms": 700.0}', "expected an integer, got 700.0"),
        ("SOAKKIT_OVERRIDES_JSON", '{"tail_agems": 700}', "did you mean 'tail_age_ms'?"),
        ("MM_RUNTIME_OVERRIDES_JSON", "{not json", "invalid JSON at line 1 column 2"),
    ],
)
def test_env_bad_input(cli, artifacts: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                       var: str, value: str, fragment: str) -> None:
    monkeypatch.setenv(var, value)
    result = _show(cli, artifacts)
    assert result.code == 2
    assert_one_line_error(result, f"env (env:{var})", fragment)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"schema_version": 1, "description": "", "params": {"min_interval_ms": 70,\n'
         '"min_interval_ms": 71}}', ":2:1: duplicate key 'min_interval_ms'"),
        ('{"schema_version": 1, "params": {"min_interval_ms": 70}', "Expecting ',' delimiter"),
        ("[]", "top level must be a JSON object"),
        ('{"schema_version": 1, "params": {"min_interval_ms": "70"}}', "got a string ('70')"),
        ('{"schema_version": 1, "params": {"min_interval_ms": 10}}', "out of bounds [40, 300]"),
        ('{"schema_version": 1, "params": {"max_delta": 0.1}}', "did you mean 'max_delta_ratio'?"),
        ('{"schema_version": 1, "params": {}, "risk_limit": 0.4}', "risk_limit: unknown top-level"),
        ('{"schema_version": 1, "params": {}, "min_interval_ms": 70}',
         'parameters belong under "params"'),
        ('{"schema_version": 2, "params": {}}', "schema_version: expected the integer 1, got 2 (written by a newer soakkit)"),
        ('{"schema_version": 1, "params": {"impact_cap_ratio": Infinity}}', "Infinity is not valid"),
        ("", "empty document"),
    ],
)
def test_profile_bad_input(cli, artifacts: Path, text: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    _profile(artifacts, text)
    result = _show(cli, artifacts, profile="mine")
    assert result.code == 2
    assert_one_line_error(result, "profile (profile:mine", fragment)


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "", "UPPER", "a\\b", "x" * 65, "é"])
def test_profile_name_checked_before_filesystem(cli, artifacts: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    result = _show(cli, artifacts, profile=name)
    assert result.code == 2
    assert_one_line_error(result, "invalid profile name")


def test_missing_profile_lists_available(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    _profile(artifacts, json.dumps({"schema_version": 1, "params": {}}), name="custom")
    result = _show(cli, artifacts, profile="steady_unsafe")
    assert result.code == 2
    assert_one_line_error(result, "no such profile; available: aggressive, custom, join_touch, "
                                  "steady_safe, ultra_safe")


def test_profile_symlink_leaving_folder_is_rejected(cli, artifacts: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"schema_version": 1, "params": {}}))
    (artifacts / "profiles").mkdir()
    os.symlink(outside, artifacts / "profiles" / "sneaky.json")
    result = _show(cli, artifacts, profile="sneaky")
    assert result.code == 2
    assert_one_line_error(result, "is a symlink to", "outside")
    # a symlink that stays inside the folder is fine
    (artifacts / "profiles" / "real.json").write_text(outside.read_text())
    os.symlink("real.json", artifacts / "profiles" / "alias.json")
    assert _show(cli, artifacts, profile="alias").code == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"schema_version": 1, "revision": 0', "corrupt or truncated"),
        ("", "empty document"),
        ('{"schema_version": 1, "revision": 0, "base_profile": "steady_safe", '
         '"base_profile_sha256": "' + "0" * 64 + '", "values": {"base_spread_bps": 3.0}}',
         "not tunable"),
        ('{"schema_version": 1, "revision": 0, "base_profile": "steady_safe", '
         '"base_profile_sha256": "' + "0" * 64 + '", "values": {}, "_sources": {}}',
         "legacy in-band provenance"),
    ],
)
def test_runtime_file_fails_closed(cli, artifacts: Path, content: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    path = artifacts / "runtime_overrides.json"
    path.write_text(content)
    result = _show(cli, artifacts, "--runtime-overrides", str(path))
    assert result.code == 2
    assert_one_line_error(result, "runtime (", fragment)
    assert path.read_text() == content  # never reset


def test_all_problems_reported_together(cli, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SOAKKIT_PARAM_TAIL_AGE_MS", "x")
    monkeypatch.setenv("SOAKKIT_OVERRIDES_JSON", "{")
    result = _show(cli, artifacts, "--set", "foo=1", "--set", "impact_cap_ratio=2",
                   profile="nope")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 5
    assert_one_line_error(result, "profile (", "env (env:SOAKKIT_PARAM_TAIL_AGE_MS)",
                          "env (env:SOAKKIT_OVERRIDES_JSON)", "cli (cli:--set foo=1)",
                          "cli (cli:--set impact_cap_ratio=2)")


def test_subprocess_exit_code_and_no_traceback(artifacts: Path) -> None:
    result = run_subprocess("config", "show", "--profile", "steady_safe", "--set",
                            "min_interval_ms=abc", env={"SOAKKIT_OVERRIDES_JSON": "[]"})
    assert result.code == 2
    assert_one_line_error(result, "expected an integer, got 'abc'", "not an array")


def test_valid_runtime_file_is_a_layer(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    path = artifacts / "runtime_overrides.json"
    write_runtime_overrides(path, expected_revision=None, base_profile="steady_safe",
                            base_profile_sha256=load_profile("steady_safe", None).sha256,
                            values={"tail_age_ms": 900}, applied=None)
    result = _show(cli, artifacts, "--runtime-overrides", str(path), "--json")
    assert result.code == 0, result.err
    origin = json.loads(result.out)["params"]["tail_age_ms"]["origin"]
    assert origin["layer"] == "runtime" and origin["revision"] == 0


def test_explain_and_precedence_and_list(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("config", "explain", "min_interval_ms", "--profile", "steady_safe", "--set",
              "min_interval_ms=78").out
    assert "cli       78" in out and "<- wins" in out and "profile   75" in out
    assert "pinned" in out
    prec = cli("config", "precedence").out
    assert prec.index("defaults") < prec.index("profile") < prec.index("runtime") \
        < prec.index("env") < prec.index("cli")
    listing = cli("config", "list-profiles", "--artifacts", str(artifacts)).out
    assert [line.split()[0] for line in listing.splitlines()] == ["aggressive", "join_touch",
                                                                  "steady_safe", "ultra_safe"]
    bad = cli("config", "explain", "min_intrval_ms")
    assert bad.code == 2 and "did you mean 'min_interval_ms'" in bad.err
