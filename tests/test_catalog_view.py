"""`soakkit catalog` for people (a per-run summary that fits the terminal) and for scripts,
and the HTML tables that Jupyter shows for the catalog and the report objects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from soakkit.catalog.load import RUN_SUMMARY_SCHEMA, load_catalog
from soakkit.core.tables import fit_text_table, table_html
from soakkit.report.disk_report import load_disk_report
from soakkit.report.explore import load_exploration
from soakkit.report.kpi_report import load_kpi_report
from soakkit.soak import SoakOptions, run_soak

from .conftest import run_subprocess
from .rotation_helpers import NOW


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("catalog") / "soak"
    ids = []
    for k, (profile, mode) in enumerate([("steady_safe", "mixed"), ("aggressive", "volatile"),
                                         ("ultra_safe", "calm")]):
        result = run_soak(SoakOptions(profile=profile, mode=mode, iterations=3 + k, seed=k,
                                      sim_minutes=1, gate="production", artifacts=root,
                                      now=f"2026-03-0{k + 1}T00:00:00Z"), env={})
        ids.append(result.run_id)
    return root, ids


def test_the_run_summary_has_one_row_per_run(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    summary = load_catalog(root).runs()
    assert summary.schema == pl.Schema(RUN_SUMMARY_SCHEMA)
    assert summary["run_id"].to_list() == ids
    assert summary["iterations"].to_list() == [3, 4, 5]
    frame = load_catalog(root).frame
    first = frame.filter(pl.col("run_id") == ids[0])
    assert summary["pnl_usd"][0] == pytest.approx(first["pnl_usd"].sum())
    assert summary["risk_ratio_max"][0] == pytest.approx(first["risk_ratio"].max())
    for run_id, verdict in summary.select("run_id", "verdict").iter_rows():  # as the runner
        assert verdict == json.loads((root / "runs" / run_id / "RUN.json").read_text())[
            "verdict"]["verdict"]
    assert summary["gate"].to_list() == ["production"] * 3


def test_catalog_is_readable_at_80_columns(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    out = run_subprocess("catalog", "--artifacts", str(root))  # not a terminal: 80 columns
    assert out.code == 0, out.err
    lines = out.out.splitlines()
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    header = lines[0].split()
    assert header[:1] == ["run"] and {"iter", "verdict", "pnl_usd", "risk", "time_s"} <= set(
        header)
    body = lines[2:2 + len(ids)]
    assert [line.split()[0] for line in body] == ids  # whole run ids, one line each
    assert lines[-2].startswith("3 run(s); hidden at 80 columns:")
    wide = run_subprocess("catalog", "--artifacts", str(root), "--width", "160")
    header = wide.out.splitlines()[0].split()
    assert header == ["run", "profile", "mode", "iter", "verdict", "pnl_usd", "risk", "time_s",
                      "started"]
    assert wide.out.splitlines()[-1] == "3 run(s)"
    narrow = run_subprocess("catalog", "--artifacts", str(root), env={"COLUMNS": "100"})
    assert max(len(line) for line in narrow.out.splitlines()) <= 100
    assert "profile" in narrow.out.splitlines()[0]  # $COLUMNS is the terminal's width


def test_catalog_iterations_view_and_parquet(runs: tuple[Path, list[str]], tmp_path: Path,
                                             cli) -> None:  # type: ignore[no-untyped-def]
    root, ids = runs
    out = cli("catalog", "--artifacts", str(root), "--iterations", "--width", "80")
    lines = out.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[2 + 12].startswith("12 iteration(s)")
    assert re.match(rf"{re.escape(ids[0])}\s+1\s", lines[2])
    target = tmp_path / "rows.parquet"
    out = cli("catalog", "--artifacts", str(root), "--parquet", str(target))
    assert out.code == 0 and str(target) in out.out
    assert pl.read_parquet(target).equals(load_catalog(root).frame)
    nowhere = cli("catalog", "--artifacts", str(root), "--parquet", str(tmp_path / "no" / "x"))
    assert nowhere.code == 2 and "Traceback" not in nowhere.err
    assert nowhere.err == (f"soakkit: error: {tmp_path / 'no' / 'x'}: cannot write the Parquet "
                           "file: no such file or directory (ENOENT)\n")
    bad = cli("catalog", "--artifacts", str(root), "--json", "--iterations")
    assert bad.code == 2 and "not allowed with" in bad.err


def test_text_tables_clip_then_hide_and_never_wrap() -> None:
    frame = pl.DataFrame({"run": ["a-very-long-run-identifier-0001"], "profile": ["steady_safe"],
                          "note": ["x" * 40], "pnl_usd": [-12345.678]})
    text, hidden = fit_text_table(frame, 60, whole=("run",), optional=("profile",))
    assert hidden == [] and all(len(line) <= 60 for line in text.splitlines())
    assert "a-very-long-run-identifier-0001" in text and "-12,345.68" in text and "…" in text
    text, hidden = fit_text_table(frame, 52, whole=("run",), optional=("profile",))
    assert hidden == ["profile"] and "profile" not in text
    assert all(len(line) <= 52 for line in text.splitlines())


def test_jupyter_shows_html_tables_in_the_report_style(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    html = load_catalog(root)._repr_html_()
    assert html.count('class="soakkit-table"') == 1 and ids[0] in html
    assert "3 run(s), 12 iteration(s)" in html
    kpi = load_kpi_report(root, ids[1])._repr_html_()
    assert kpi.count('class="soakkit-table"') == 2 and "under the production gate" in kpi
    disk = load_disk_report(root, now=NOW)._repr_html_()
    assert 'class="soakkit-table"' in disk and "MiB" in disk
    explore = load_exploration(root, days=0)._repr_html_()
    assert "every run: 3 run(s)" in explore
    assert table_html(pl.DataFrame({"a": [1]})).startswith("<style>")
