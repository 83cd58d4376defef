"""Issue 13, classes 3 and 7: numbers are canonical or refused; report parameters are checked
before a kernel starts; huge and deeply nested inputs give clean errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from soakkit.cli import build_parser
from soakkit.core.errors import ExitCode
from soakkit.core.inputs import float_arg, int_arg, parse_float, parse_int

from .conftest import assert_one_line_error

#: Texts every strict parser refuses, with the rule each one breaks.
NOT_CANONICAL = [("0700", "leading zeros"), ("+700", "leading '+'"), (" 7 ", "whitespace"),
                 ("7 ", "whitespace"), ("\u0667", "ASCII digits"), ("\uff17", "ASCII digits"),
                 ("7_000", "expected"), ("", "empty"), ("0x10", "expected"),
                 ("1" * 41, "at most 40")]


@pytest.mark.parametrize(("text", "rule"), NOT_CANONICAL)
def test_the_one_parser_refuses_what_is_not_canonical(text: str, rule: str) -> None:
    for parse in (parse_int, parse_float):
        with pytest.raises(ValueError, match=rule.replace("+", r"\+")):
            parse(text)
    for bad in ("7.0", "1e2", "7.5", "true", "nan"):
        with pytest.raises(ValueError, match="expected an integer"):
            parse_int(bad)
    for bad in ("nan", "inf", "-Infinity"):
        with pytest.raises(ValueError, match="finite"):
            parse_float(bad)
    assert parse_int("-0") == 0 and parse_float("2.5e-3") == 0.0025 and parse_int("700") == 700


@pytest.mark.parametrize(("text", "rule"), NOT_CANONICAL[:5])
def test_every_entry_point_shares_the_parser(cli, artifacts: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                             text: str, rule: str) -> None:
    show = ["config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts)]
    result = cli(*show, "--set", f"tail_age_ms={text}")  # --set
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "cli:--set tail_age_ms", rule)
    monkeypatch.setenv("SOAKKIT_PARAM_TAIL_AGE_MS", text)  # env
    result = cli(*show)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "env:SOAKKIT_PARAM_TAIL_AGE_MS", rule)
    monkeypatch.delenv("SOAKKIT_PARAM_TAIL_AGE_MS")
    monkeypatch.setenv("SOAK_SLEEP_SECONDS", text)
    result = cli("soak", "--artifacts", str(artifacts), "--quiet")  # env of the runner
    assert_one_line_error(result, "SOAK_SLEEP_SECONDS", rule)
    monkeypatch.delenv("SOAK_SLEEP_SECONDS")
    for argv in (["soak", "--iterations", text], ["soak", "--seed", text],
                 ["demo", "--iterations", text], ["rotate", "--path", str(artifacts),
                                                  "--keep-latest", text],
                 ["report", "soak", "-p", "iterations", text],
                 ["report", "disk", "-p", "budget_mb", text, "-p", "artifacts",
                  str(artifacts)]):
        result = cli(*argv, "--artifacts", str(artifacts)) if argv[0] == "soak" else cli(*argv)
        assert result.code in (1, 2), (argv, result.err)
        assert_one_line_error(result)
        assert rule in result.err or "is not" in result.err, (argv, result.err)
    assert not (artifacts / "runs").exists()


def test_json_documents_use_the_same_rules(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    profiles = artifacts / "profiles"
    profiles.mkdir()
    cases = {
        "float_version": ('{"schema_version": 1.0, "params": {}}', "expected the integer 1, "
                                                                    "got 1.0"),
        "float_for_int": ('{"schema_version": 1, "params": {"tail_age_ms": 700.0}}',
                          "expected an integer, got 700.0"),
        "overflow": ('{"schema_version": 1, "params": {"impact_cap_ratio": 1e999}}',
                     "1e999 is out of the range of a number"),
        "digits": ('{"schema_version": 1, "params": {"tail_age_ms": ' + "7" * 60 + "}}",
                   "an integer has 60 digits"),
        "deep": ('{"schema_version": 1, "params": ' + "[" * 100_000 + "]" * 100_000 + "}",
                 "nested too deeply to read"),
    }
    for name, (text, fragment) in cases.items():
        (profiles / f"{name.replace('_', '-')}.json").write_text(text)
        result = cli("config", "show", "--profile", name.replace("_", "-"), "--artifacts",
                     str(artifacts))
        assert result.code == ExitCode.USAGE, name
        assert_one_line_error(result, fragment)


@pytest.mark.parametrize(("transitions", "fit"), [
    ([[1], [1, 2]], {}), ([["a", "b", "c"]] * 3, {}), ([[{"x": 1}] * 3] * 3, {}),
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 5)])
def test_a_damaged_market_profile_is_one_line(cli, artifacts: Path, transitions: Any,  # type: ignore[no-untyped-def]
                                              fit: Any) -> None:
    """Ragged or non-numeric transition rows (once a numpy ValueError), a ``fit`` that is
    not an object (once a TypeError): one line naming the file, or the profile is used."""
    from dataclasses import fields

    from soakkit.sim.bookspec import BookSpec
    from soakkit.sim.regimes import REGIME_NAMES

    doc = {"schema_version": 2,
           "regimes": {r: {f.name: 1.0 for f in fields(BookSpec)} for r in REGIME_NAMES},
           "transitions": transitions, "mid0": 100.0, "tick": 0.1, "lot": 0.001, "fit": fit}
    (artifacts / "markets").mkdir()
    (artifacts / "markets" / "m.json").write_text(json.dumps(doc))
    result = cli("soak", "--market", "m", "--artifacts", str(artifacts), "--iterations", "1",
                 "--sim-minutes", "1", "--quiet", "--now", "2026-11-24T12:00:00Z")
    if fit == {}:
        assert result.code == ExitCode.USAGE
        assert_one_line_error(result, "m.json: transitions: expected 3 rows of 3 probabilities")
        assert not (artifacts / "runs").exists()
    else:  # the profile is usable; its unreadable fit is left out
        assert result.code in (ExitCode.OK, ExitCode.FAILED), result.err
        assert "Traceback" not in result.err


def test_huge_and_deep_inputs_from_the_environment_and_flags(cli, artifacts: Path,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    show = ["config", "show", "--profile", "steady_safe", "--artifacts", str(artifacts)]
    monkeypatch.setenv("SOAKKIT_OVERRIDES_JSON", "{" + '"a":{' * 50_000 + "}" * 50_001)
    result = cli(*show)
    assert_one_line_error(result, "env:SOAKKIT_OVERRIDES_JSON", "nested too deeply")
    monkeypatch.delenv("SOAKKIT_OVERRIDES_JSON")
    result = cli(*show, "--set", "tail_age_ms=" + "9" * 1_000_000)
    assert_one_line_error(result, "at most 40")
    assert len(result.err) < 600
    for argv in (["catalog", "--artifacts", "x" * 10_000],
                 ["soak", "--artifacts", "/".join(["y" * 300] * 3)],
                 ["config", "show", "--profile", "p" * 100_000]):
        result = cli(*argv)
        assert result.code == ExitCode.USAGE, argv
        assert_one_line_error(result)
        assert len(result.err) < 600, argv


@pytest.mark.parametrize(("argv", "fragment"), [
    (["soak", "--seed", "4294967296"], "--seed 4294967296: expected a value 0..4294967295"),
    (["soak", "--iterations", "100001"], "--iterations 100001: expected a value 1..100000"),
    (["demo", "--seed", "-1"], "argument --seed: -1: expected a value 0..4294967295"),
    (["report", "soak", "-p", "seed", "4294967296"], "-p seed 4294967296: expected an integer"),
    (["report", "soak", "-p", "iterations", "0"], "-p iterations 0: expected an integer in "
                                                  "1..100000"),
    (["sweep", "--seeds", "1-4294967296"], "1-4294967296: seeds are 0..4294967295"),
    (["sweep", "--seeds", "007"], "'007' is not a seed N or a range A-B"),
    (["sweep", "--iterations", "0700"], "argument --iterations: 0700: "),
    (["tape", "sample", "x", "--seed", "+7"], "argument --seed: +7: "),
    (["report", "sweep", "-p", "seed", "-1"], "-p seed -1: expected a value 0..4294967295"),
])
def test_seeds_and_iterations_are_bounded(cli, tmp_path: Path, argv: list[str],  # type: ignore[no-untyped-def]
                                          fragment: str) -> None:
    extra = ["--artifacts", str(tmp_path / "a")] if argv[0] in ("soak", "demo", "sweep") else \
        [] if argv[0] == "tape" else \
        ["-p", "artifacts", str(tmp_path / "a"), "--out", str(tmp_path / "r")]
    result = cli(*argv, *extra)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_no_flag_parses_numbers_with_the_builtin_int_or_float() -> None:
    """int('0700') and float(' 7 ') coerce, Path('') is the current folder: every numeric
    flag uses the strict types, every path flag the path check."""
    offenders = []

    def visit(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, [*words, name])
            elif action.type in (int, float, Path):
                offenders.append((words, action.option_strings))
    visit(build_parser(), [])
    assert offenders == []
    assert int_arg(1, 3).__name__ == "integer" and float_arg(0).__name__ == "number"


# ------------------------------------------------------------------ 7. report parameters
@pytest.mark.parametrize(("name", "params", "fragments"), [
    ("soak", ["iterations", "0"], ["-p iterations 0: expected an integer in 1..100000"]),
    ("soak", ["iterations", " 7 "], ["parameter iterations: ' 7 ' is not int (' 7 ' has "
                                     "surrounding whitespace)"]),
    ("soak", ["gate", "nosuch", "mode", "storm", "profile", "nope"],
     ["-p gate 'nosuch'", "-p mode 'storm'", "-p profile: no such profile"]),
    ("kpi", ["gate", "nosuch", "last_n", "-1"], ["-p gate 'nosuch'", "-p last_n -1"]),
    ("kpi", ["run", "nosuch"], ["-p run nosuch: unknown run id 'nosuch'"]),
    ("kpi", ["baseline", "nosuch"], ["-p baseline nosuch: unknown run id 'nosuch'"]),
    ("disk", ["budget_mb", "0", "ttl_days", "-1", "now", "noon"],
     ["-p budget_mb 0.0: expected a value > 0", "-p ttl_days -1.0", "-p now: 'noon'"]),
    ("explore", ["days", "-1", "run", "nosuch"], ["-p days -1.0"]),
])
def test_report_parameters_are_checked_before_a_kernel_starts(cli, tmp_path: Path, name: str,  # type: ignore[no-untyped-def]
                                                              params: list[str],
                                                              fragments: list[str]) -> None:
    art = tmp_path / "art"
    (art / "runs").mkdir(parents=True)
    (art / "runs" / "r1").mkdir()
    (art / "runs" / "r1" / "RUN.json").write_text(json.dumps({"run_id": "r1"}))
    argv = ["report", name, "-p", "artifacts", str(art), "--out", str(tmp_path / "reports")]
    for key, value in zip(params[::2], params[1::2], strict=True):
        argv += ["-p", key, value]
    result = cli(*argv)
    assert result.code == ExitCode.USAGE, result.err
    assert_one_line_error(result, *fragments)
    assert len(result.err.strip().splitlines()) == len(fragments), result.err
    assert not (tmp_path / "reports").exists()  # no kernel, no folder


@pytest.mark.parametrize("timeout", ["2.5", "0", "-1", "86401", "1e3", " 5"])
def test_cell_timeout_is_whole_seconds(cli, tmp_path: Path, timeout: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("report", "disk", "-p", "artifacts", str(tmp_path), "--out",
                 str(tmp_path / "r"), "--cell-timeout", timeout)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "argument --cell-timeout")
    assert not (tmp_path / "r").exists()


def test_run_template_checks_its_timeouts_too(tmp_path: Path) -> None:
    from soakkit.core.errors import NotebookRunError
    from soakkit.notebooks.runner import run

    with pytest.raises(NotebookRunError, match=r"--cell-timeout 2\.5: expected whole seconds"):
        run("disk", {"artifacts": str(tmp_path)}, tmp_path / "r", cell_timeout=2.5)
    assert not (tmp_path / "r").exists()
