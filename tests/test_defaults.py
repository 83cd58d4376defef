"""One source for every default and bound: the flags, ``--help`` and the API agree; one
wording of a gate-name check; one way a dataclass becomes JSON."""

from __future__ import annotations

import argparse
import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from soakkit.cli import build_parser
from soakkit.cli.soak import _options
from soakkit.core.errors import UsageError
from soakkit.core.json_canonical import JsonRecord, json_ready
from soakkit.gate import RUN_GATES, Verdict, gate_problem
from soakkit.notebooks.checks import report_problems
from soakkit.report.kpi_report import load_kpi_report
from soakkit.rotation.policy import RotationPolicy
from soakkit.soak import SoakOptions, option_problems, run_soak
from soakkit.soak.options import NUMBER_OPTIONS
from soakkit.sweep.spec import SweepSpec

from .conftest import REPO

PARSER = build_parser()


def _parse(*argv: str) -> argparse.Namespace:
    return PARSER.parse_args(list(argv))


def test_soak_flags_default_to_the_options_defaults(tmp_path: Path) -> None:
    options, given, problems = _options(_parse("soak", "--artifacts", str(tmp_path)))
    assert (given, problems) == ({}, [])
    assert options == SoakOptions(artifacts=tmp_path)
    help_text = " ".join(PARSER._subparsers._group_actions[0].choices["soak"]  # type: ignore[union-attr]
                         .format_help().split())
    defaults = SoakOptions(artifacts=tmp_path)
    for name in ("iterations", "mode", "seed", "sim_minutes", "gate"):
        assert f"default: {getattr(defaults, name)}" in help_text, name
    for option in NUMBER_OPTIONS.values():  # the bounds paragraph comes from the one table
        assert f"{option.flag} {option.bounds}" in help_text


def test_sweep_flags_default_to_the_spec_defaults(tmp_path: Path) -> None:
    args = _parse("sweep")
    spec = SweepSpec.from_text(profiles=args.profiles, modes=args.modes, seeds=args.seeds,
                               tune=args.tune, sets=args.sets, iterations=args.iterations,
                               sim_minutes=args.sim_minutes, gate=args.gate,
                               connect_timeout_s=args.connect_timeout, artifacts=tmp_path)
    assert spec == SweepSpec(artifacts=tmp_path)


def test_rotate_flags_default_to_the_policy_defaults() -> None:
    args = _parse("rotate", "--artifacts", "x")
    policy = RotationPolicy(keep_latest=args.keep_latest, ttl_days=args.ttl_days,
                            max_size_mb=args.max_size_mb, codec=args.codec)
    assert policy == RotationPolicy()


def test_bounds_are_stated_with_every_digit() -> None:
    seed = NUMBER_OPTIONS["seed"]
    assert seed.bounds == "0..4294967295"
    assert option_problems(SoakOptions(seed=-1, artifacts=Path("x"))) == [
        "--seed -1: expected an integer in 0..4294967295"]


def test_no_bound_is_written_as_a_bare_literal() -> None:
    """A day of minutes or seconds and a century of days are named (soakkit.core.inputs)."""
    literal = re.compile(r"(?<![\w.])(1_?440|86_?400|36_?500)(?:\.0)?(?![\w.])")
    offences = []
    for path in sorted((REPO / "soakkit").rglob("*.py")):
        if path.name == "inputs.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                    and literal.fullmatch(repr(node.value)) and not isinstance(node.value, bool):
                offences.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    # 86400.0 also converts days to seconds (a unit, not a bound)
    assert [o for o in offences if not o.endswith(": 86400.0")] == []


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("one") / "soak"
    run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=root,
                         now="2026-02-01T00:00:00Z"), env={})
    return root


def test_a_gate_name_is_checked_in_one_wording(one_run: Path) -> None:
    choices = ", ".join(RUN_GATES)
    assert gate_problem("strict") == f"--gate 'strict': expected one of {choices}"
    assert gate_problem("smoke") is None
    assert f"--gate 'strict': expected one of {choices}" in option_problems(
        SoakOptions(gate="strict", artifacts=one_run))
    assert report_problems("kpi", {"gate": "strict"}, one_run) == [
        f"-p gate 'strict': expected one of {choices}"]
    with pytest.raises(UsageError, match=f"^gate 'strict': expected one of {choices}$"):
        load_kpi_report(one_run, gate="strict")


def test_the_proposed_deltas_are_written_once(one_run: Path) -> None:
    """ITER_SUMMARY keeps the legacy name ``deltas``; TUNING_REPORT calls them proposed."""
    run_dir = next((one_run / "runs").iterdir())
    doc = json.loads((run_dir / "ITER_SUMMARY_2.json").read_text())
    assert "deltas" in doc["tuning"] and "proposed_deltas" not in doc["tuning"]
    entry = json.loads((run_dir / "TUNING_REPORT.json").read_text())["iterations"][-1]
    assert entry["proposed_deltas"] == doc["tuning"]["deltas"]


@dataclass(frozen=True)
class _Inner(JsonRecord):
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Outer(JsonRecord):
    inner: _Inner
    counts: dict[str, int] = field(default_factory=dict)
    maybe: float | None = None


def test_a_dataclass_becomes_json_one_way() -> None:
    record = _Outer(_Inner(("a", "b")), {"x": 1})
    assert record.to_json() == {"inner": {"names": ["a", "b"]}, "counts": {"x": 1},
                                "maybe": None}
    assert json_ready([record, (1, 2)]) == [record.to_json(), [1, 2]]
    verdict = Verdict("WARN", ("r1", "r2"), "production", "steady")
    assert verdict.to_json() == {"verdict": "WARN", "reasons": ["r1", "r2"],
                                 "gate": "production", "phase": "steady"}
    assert RotationPolicy(codec="gzip").to_json()["level"] == 6
