"""Issue 13, class 4: artifacts are validated when read.

The compiled schema check (soakkit.core.schema) agrees with the reference implementation
(jsonschema) on valid documents and on random damage to them; a damaged ITER_SUMMARY is a
reported problem, never a row of nulls or a changed verdict.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soakkit.artifacts.layout import ITER_SUMMARY_SCHEMA, iter_summary_problems
from soakkit.core.schema import compile_schema, schema_checker
from soakkit.report.kpi_report import load_kpi_report
from soakkit.soak import SoakOptions, run_soak

NOW = "2026-11-24T12:00:00Z"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("valid")
    result = run_soak(SoakOptions(iterations=3, sim_minutes=2, mode="mixed", gate="production",
                                  artifacts=root, now=NOW), env={})
    return [json.loads(p.read_text()) for p in sorted(result.run_dir.glob("ITER_SUMMARY_*"))]


def _ours(doc: Any) -> list[str]:
    out: list[str] = []
    schema_checker(ITER_SUMMARY_SCHEMA)(doc, "$", out)
    return out


def _reference() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(ITER_SUMMARY_SCHEMA.read_text()))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def test_valid_documents_pass_both(docs: list[dict[str, Any]]) -> None:
    reference = _reference()
    for doc in docs:
        assert _ours(doc) == [] and list(reference.iter_errors(doc)) == []
        assert iter_summary_problems(doc, doc["iteration"]) == []


REPLACEMENTS = st.sampled_from([None, True, 0, -1, 1.5, 2.0, "", "x", "FAIL", [], {}, [1],
                                {"a": 1}, 10**12, "2026-11-24T12:00:00.000Z"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_random_damage_is_seen_by_both(docs: list[dict[str, Any]], data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(docs)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(REPLACEMENTS)
        if isinstance(parent, dict) and data.draw(st.integers(0, 9)) == 0:
            parent["unexpected_key"] = 1
    reference_says = bool(list(_reference().iter_errors(doc)))
    ours = _ours(doc)
    integral_float = any(isinstance(v, float) and v.is_integer() for v in _leaves(doc))
    if reference_says:
        assert ours, doc  # never more lenient than JSON Schema
    elif not integral_float:
        assert ours == [], (ours, doc)  # never stricter, but for 2.0 where an int is meant


def _leaves(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in _leaves(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _leaves(v)]
    return [doc]


def test_a_schema_keyword_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="not supported: oneOf"):
        compile_schema({"type": "object", "properties": {"a": {"oneOf": []}}})


def test_problems_name_the_place_and_the_file_number(docs: list[dict[str, Any]]) -> None:
    assert iter_summary_problems({"schema_version": 1}, 3)[0].startswith("$: missing run_id, ")
    doc = copy.deepcopy(docs[0])
    doc["summary"]["net_bps"] = "7"
    doc["gate"]["verdict"] = "MAYBE"
    assert sorted(iter_summary_problems(doc, 1)) == [
        '$.gate.verdict: expected one of "PASS", "WARN", "FAIL", got "MAYBE"',
        "$.summary.net_bps: expected number, got string"]
    moved = copy.deepcopy(docs[0])
    moved["iteration"] = 99
    assert iter_summary_problems(moved, 1) == [
        "$.iteration: 99 does not match the file name (iteration 1)"]
    assert iter_summary_problems([], 1) == ["not a JSON object"]
    assert iter_summary_problems({"iteration": 2, "summary": {}}, 2) == []  # legacy layout
    assert iter_summary_problems({"iteration": 2}, 2) == [
        "$.summary: missing (not an ITER_SUMMARY)"]


def test_the_check_is_compiled_once(tmp_path: Path) -> None:
    assert schema_checker(ITER_SUMMARY_SCHEMA) is schema_checker(ITER_SUMMARY_SCHEMA)


@pytest.mark.slow
def test_damaged_files_are_problems_with_exit_5_not_rows_or_a_changed_verdict(
        tmp_path: Path, cli: Any) -> None:
    """The issue's cases: an ITER_SUMMARY of only ``{"schema_version": 1}`` (once a row of
    nulls that turned the verdict into FAIL) and a file whose ``iteration`` is not its name's.
    ``soakkit catalog`` and ``soakkit report`` print each as a warning and exit 5."""
    root = tmp_path / "soak"
    res = run_soak(SoakOptions(iterations=3, sim_minutes=1, artifacts=root, now=NOW), env={})
    before = cli("catalog", "--artifacts", str(root), "--json", "--no-cache")
    assert before.code == 0 and before.err == ""
    verdict = load_kpi_report(root, gate="smoke").verdict.verdict
    (res.run_dir / "ITER_SUMMARY_4.json").write_text('{"schema_version": 1}')
    moved = json.loads((res.run_dir / "ITER_SUMMARY_1.json").read_text())
    moved["iteration"] = 99
    (res.run_dir / "ITER_SUMMARY_11.json").write_text(json.dumps(moved))
    after = cli("catalog", "--artifacts", str(root), "--json", "--no-cache")
    assert after.code == 5 and json.loads(after.out) == json.loads(before.out)
    warnings = [line for line in after.err.splitlines()  # notes say how files were read
                if not line.startswith("soakkit: note: ")]
    assert len(warnings) == 2 and all(w.startswith("soakkit: warning: ") for w in warnings)
    assert "ITER_SUMMARY_4.json" in after.err and "missing run_id" in after.err
    assert "ITER_SUMMARY_11.json" in after.err and \
        "$.iteration: 99 does not match the file name (iteration 11)" in after.err

    report = cli("report", "kpi", "-p", "artifacts", str(root), "-p", "gate", "smoke",
                 "--out", str(tmp_path / "reports"), "--now", NOW)
    assert report.code == 5, report.err
    lines = report.err.splitlines()
    assert len(lines) == 2 and all(
        line.startswith("soakkit: warning: report kpi: skipped ") for line in lines), lines
    kpis = json.loads(next((tmp_path / "reports").rglob("kpis.json")).read_text())
    record = kpis["kpi"]
    assert record["iterations"] == [1, 2, 3] and len(record["problems"]) == 2
    assert record["verdict"] == verdict
