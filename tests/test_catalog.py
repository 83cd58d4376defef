"""The run catalog: two parse paths that agree, an incremental cache that stays correct."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from soakkit.artifacts.iterlog import read_log
from soakkit.catalog import load_catalog
from soakkit.catalog.parse import frame_from_files, parse_files, rows_to_frame
from soakkit.rotation import RotationPolicy, rotate
from soakkit.soak import SoakOptions, run_soak

from .rotation_helpers import NOW


def _runs(root: Path, count: int = 2, iterations: int = 5) -> list[str]:
    ids = []
    for seed in range(count):
        result = run_soak(SoakOptions(iterations=iterations, sim_minutes=1, seed=seed,
                                      mode="mixed", gate="production", artifacts=root,
                                      now=f"2026-03-0{seed + 1}T00:00:00Z"), env={})
        ids.append(result.run_id)
    return ids


def _tasks(root: Path) -> list[tuple]:  # type: ignore[type-arg]
    return [(str(p), p.parent.name, "runs", "file", {"profile": "steady_safe"},
             int(p.stem.split("_")[-1])) for p in sorted(root.glob("runs/*/ITER_SUMMARY_*.json"))]


def test_fast_and_tolerant_paths_agree(tmp_path: Path) -> None:
    _runs(tmp_path)
    tasks = _tasks(tmp_path)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    docs = [{"iteration": 1, "summary": {"net_bps": -1.5, "fees_eff_bps": -2.0,
                                         "kpi_verdict": "FAIL", "kpi_reasons": ["EDGE"],
                                         "runtime_utc": "2025-10-12T12:00:00Z"},
             "tuning": {"deltas": {"min_interval_ms": 5}, "applied": True}},
            {"summary": {"risk_ratio": 0.3}}, {}]
    for n, doc in enumerate(docs, start=1):
        (legacy / f"ITER_SUMMARY_{n}.json").write_text(json.dumps(doc, indent=2))
        tasks.append((str(legacy / f"ITER_SUMMARY_{n}.json"), "legacy-latest", "legacy", "file",
                      {}, n))
    fast, problems = frame_from_files(tasks)
    rows, problems2 = parse_files(tasks)
    assert problems == problems2  # {} is no ITER_SUMMARY: a problem, not a row of nulls
    assert [line.split(": ", 1)[1] for _, line in problems] == [
        "$.summary: missing (not an ITER_SUMMARY); skipped"]
    assert_frame_equal(fast, rows_to_frame(rows))
    assert fast.height == 12 and fast["net_bps"].null_count() == 1


def test_a_mistyped_legacy_document_falls_back_and_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "latest"
    folder.mkdir()
    (folder / "ITER_SUMMARY_1.json").write_text('{"iteration": 1, "summary": {"net_bps": "1.5"}}')
    (folder / "ITER_SUMMARY_2.json").write_text('{"iteration": 2, "summary": {"net_bps": 2.5}}')
    (folder / "ITER_SUMMARY_3.json").write_text("not json")
    catalog = load_catalog(tmp_path)
    assert catalog.frame["iteration"].to_list() == [1, 2]
    assert catalog.frame["net_bps"].to_list() == [None, 2.5]
    assert len(catalog.problems) == 1 and "ITER_SUMMARY_3.json: not valid JSON" in \
        catalog.problems[0]
    warm = load_catalog(tmp_path)  # a cached load still reports the bad file
    assert warm.cached_rows == 2 and warm.problems == catalog.problems
    (folder / "ITER_SUMMARY_4.json").write_text('{"iteration": 4, "summary": {}}')
    grown = load_catalog(tmp_path)  # and so does a load that re-reads the folder
    assert grown.parsed_files == 2 and grown.problems == catalog.problems


def test_cache_is_incremental_and_correct(tmp_path: Path) -> None:
    first, second = _runs(tmp_path)
    cold = load_catalog(tmp_path)  # one iteration log per run, no ITER_SUMMARY file read
    assert (cold.parsed_files, cold.logged_rows, cold.cached_rows, cold.notes) == (0, 10, 0, ())
    warm = load_catalog(tmp_path)
    assert warm.parsed_files == 0 and warm.cached_rows == 10
    assert_frame_equal(warm.frame, cold.frame)

    third = run_soak(SoakOptions(iterations=5, sim_minutes=1, seed=9, artifacts=tmp_path,
                                 now="2026-03-09T00:00:00Z"), env={}).run_id  # only it is read
    grown = load_catalog(tmp_path)
    assert grown.logged_rows == 5 and grown.cached_rows == 10
    assert sorted(set(grown.frame["run_id"].to_list())) == sorted([first, second, third])

    doc_path = tmp_path / "runs" / first / "ITER_SUMMARY_3.json"  # rewritten by rename
    doc = json.loads(doc_path.read_text())
    doc["summary"]["net_bps"] = 123.0
    tmp = doc_path.with_name(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, doc_path)
    changed = load_catalog(tmp_path)  # the log no longer matches that file: the file wins
    assert changed.parsed_files == 1 and changed.logged_rows == 4
    assert changed.notes == (f"runs/{first}: 1 ITER_SUMMARY file(s) not in iterations.jsonl or "
                             "changed since it was written (ITER_SUMMARY_3.json): read from the "
                             "files",)
    row = changed.frame.filter((pl.col("run_id") == first) & (pl.col("iteration") == 3))
    assert row["net_bps"].to_list() == [123.0]

    for p in (tmp_path / "runs" / second).iterdir():
        p.unlink()
    (tmp_path / "runs" / second).rmdir()
    shrunk = load_catalog(tmp_path)
    assert second not in set(shrunk.frame["run_id"].to_list())
    assert shrunk.frame.height == 10
    assert_frame_equal(load_catalog(tmp_path, refresh=True).frame, shrunk.frame)
    assert_frame_equal(load_catalog(tmp_path, cache=False).frame, shrunk.frame)


def test_rotated_run_still_has_every_iteration(tmp_path: Path) -> None:
    run_id = _runs(tmp_path, count=1, iterations=12)[0]
    before = load_catalog(tmp_path).frame
    rotate(tmp_path, RotationPolicy(keep_latest=4, ttl_days=0.0), now=NOW)
    after = load_catalog(tmp_path)
    assert after.problems == ()
    assert after.frame["iteration"].to_list() == list(range(1, 13))
    assert set(after.frame["source"].to_list()) == {"history", "gz"}
    keep = [c for c in before.columns if c not in ("source", "path")]
    assert_frame_equal(after.frame.select(keep), before.select(keep))
    del run_id


def test_the_iteration_log_and_the_files_give_the_same_catalog(tmp_path: Path) -> None:
    ids = _runs(tmp_path, count=2, iterations=6)
    from_logs = load_catalog(tmp_path, cache=False)
    assert from_logs.logged_rows == 12 and from_logs.parsed_files == 0
    for run_id in ids:  # a run written before the log existed: the same table from its files
        (tmp_path / "runs" / run_id / "iterations.parquet").unlink()
    from_jsonl = load_catalog(tmp_path, cache=False)
    assert from_jsonl.logged_rows == 12
    for run_id in ids:
        (tmp_path / "runs" / run_id / "iterations.jsonl").unlink()
    from_files = load_catalog(tmp_path, cache=False)
    assert from_files.parsed_files == 12 and from_files.logged_rows == 0
    assert_frame_equal(from_logs.frame, from_files.frame)
    assert_frame_equal(from_jsonl.frame, from_files.frame)


def test_a_torn_or_corrupt_log_falls_back_without_losing_rows(tmp_path: Path) -> None:
    run_id = _runs(tmp_path, count=1, iterations=4)[0]
    run_dir = tmp_path / "runs" / run_id
    expected = load_catalog(tmp_path, cache=False).frame
    (run_dir / "iterations.parquet").unlink()
    log = run_dir / "iterations.jsonl"
    log.write_bytes(log.read_bytes() + b'{"doc": {"iteration": 5')  # a crash mid-append
    torn = load_catalog(tmp_path, cache=False)
    assert torn.problems == () and torn.logged_rows == 4
    assert_frame_equal(torn.frame, expected)
    lines = log.read_bytes().splitlines()
    log.write_bytes(b"\n".join([lines[0], b"garbage", *lines[1:4]]) + b"\n")
    corrupt = load_catalog(tmp_path, cache=False)  # polars rejects it: line by line
    assert len(corrupt.problems) == 1 and "iterations.jsonl:2" in corrupt.problems[0]
    assert_frame_equal(corrupt.frame, expected)


def test_runs_written_before_the_log_still_load_and_rotate(tmp_path: Path) -> None:
    """A run without an iteration log (written before it existed): rotation logs each file it
    deletes (losslessly), and the catalog still has every iteration, as before."""
    run_id = _runs(tmp_path, count=1, iterations=12)[0]
    run_dir = tmp_path / "runs" / run_id
    for name in ("iterations.jsonl", "iterations.parquet"):
        (run_dir / name).unlink()
    before = load_catalog(tmp_path, cache=False)
    assert before.parsed_files == 12 and before.logged_rows == 0
    docs = {n: json.loads((run_dir / f"ITER_SUMMARY_{n}.json").read_text()) for n in range(1, 9)}
    result = rotate(tmp_path, RotationPolicy(keep_latest=4, ttl_days=365.0), now=NOW)
    assert result.exit_code == 0, result.record["errors"]
    history = next(a for a in result.record["actions"] if a["phase"] == "history")
    assert history["result"] == "done(logged=8, already_logged=0)"
    log, problems = read_log(run_dir)
    assert problems == [] and sorted(log) == list(range(1, 9))
    assert all(log[n].holds(doc) for n, doc in docs.items())
    after = load_catalog(tmp_path, cache=False)
    assert after.logged_rows == 8 and after.parsed_files == 4  # kept files: not in the log
    assert after.notes == (f"runs/{run_id}: 4 ITER_SUMMARY file(s) not in iterations.jsonl or "
                           "changed since it was written (ITER_SUMMARY_10.json, "
                           "ITER_SUMMARY_11.json, ITER_SUMMARY_12.json, ...): read from the "
                           "files",)
    keep = [c for c in before.frame.columns if c not in ("source", "path")]
    assert_frame_equal(after.frame.select(keep), before.frame.select(keep))


def test_a_legacy_rotation_history_still_loads(tmp_path: Path) -> None:
    """Runs rotated before the log existed kept their content in iterations.jsonl.gz."""
    run_id = _runs(tmp_path, count=1, iterations=6)[0]
    run_dir = tmp_path / "runs" / run_id
    expected = load_catalog(tmp_path, cache=False).frame
    lines = []
    for n in (1, 2, 3):
        path = run_dir / f"ITER_SUMMARY_{n}.json"
        lines.append(json.dumps(json.loads(path.read_text()), sort_keys=True))
        path.unlink()
    for name in ("iterations.jsonl", "iterations.parquet"):
        (run_dir / name).unlink()
    (run_dir / "iterations.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    legacy = load_catalog(tmp_path, cache=False)
    assert legacy.problems == () and legacy.frame["source"].to_list()[:3] == ["history"] * 3
    keep = [c for c in expected.columns if c not in ("source", "path")]
    assert_frame_equal(legacy.frame.select(keep), expected.select(keep))


def test_iteration_tables_of_another_version_load_beside_todays(tmp_path: Path) -> None:
    """A run's iterations.parquet written before a parameter existed (no column for it)
    loads beside today's runs: the parameter is null there, nothing else changes."""
    artifacts = tmp_path / "a"
    old = run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=artifacts,
                               now="2026-01-01T00:00:00Z"), env={})
    new = run_soak(SoakOptions(iterations=2, sim_minutes=1, artifacts=artifacts, strategy="glft",
                               now="2026-01-01T01:00:00Z"), env={})
    table = old.run_dir / "iterations.parquet"
    meta = pl.read_parquet_metadata(table)
    older = pl.read_parquet(table).drop("param_quote_lots", "delta_quote_lots",
                                        "param_glft_gamma")
    older.write_parquet(table, metadata=meta)
    frame = load_catalog(artifacts, cache=False).frame.sort("run_id", "iteration")
    assert frame.height == 4
    by_run = {r["run_id"]: r for r in frame.to_dicts()}
    assert by_run[old.run_id]["param_quote_lots"] is None
    assert by_run[old.run_id]["param_base_spread_bps"] == 2.5
    assert by_run[new.run_id]["param_glft_gamma"] == 0.03
