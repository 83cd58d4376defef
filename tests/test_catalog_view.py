"""`soakkit catalog` for people (a per-run summary that fits the terminal) and for scripts,
and the HTML tables that Jupyter shows for the catalog and the report objects."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from soakkit.catalog import load_catalog
from soakkit.catalog.load import RUN_SUMMARY_SCHEMA
from soakkit.cli import _stream as stream
from soakkit.cli import main
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
                                      sim_minutes=4, gate="production", artifacts=root,
                                      tune=k < 2, now=f"2026-03-0{k + 1}T00:00:00Z"), env={})
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
    assert summary["tune"].to_list() == [True, True, False]
    assert summary["strategy"].to_list() == ["legacy"] * 3
    assert summary["market"].to_list() == ["synthetic"] * 3
    assert frame["tune"].unique().sort().to_list() == [False, True]


def test_catalog_is_readable_at_80_columns(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    out = run_subprocess("catalog", "--artifacts", str(root))  # not a terminal: 80 columns
    assert out.code == 0, out.err
    lines = out.out.splitlines()
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    header = lines[0].split()
    # the tuner column stays at 80 columns: tuned and untuned runs told apart at a glance
    assert header == ["run", "tuner", "iter", "verdict", "pnl_usd"]
    body = lines[2:2 + len(ids)]
    assert [line.split()[:2] for line in body] == [[i, "on"] for i in ids[:2]] + [[ids[2], "off"]]
    assert all(i.endswith("-tuned") for i in ids[:2]) and ids[2].endswith("-untuned")
    assert lines[-2].startswith("3 run(s); hidden at 80 columns:")
    wide = run_subprocess("catalog", "--artifacts", str(root), "--width", "200")
    header = wide.out.splitlines()[0].split()
    assert header == ["run", "tuner", "iter", "verdict", "pnl_usd", "risk", "time_s",
                      "started", "profile", "mode", "strategy", "market"]
    assert wide.out.splitlines()[2].split()[-2:] == ["legacy", "synthetic"]
    assert wide.out.splitlines()[-1] == "3 run(s)"
    narrow = run_subprocess("catalog", "--artifacts", str(root), env={"COLUMNS": "100"})
    assert max(len(line) for line in narrow.out.splitlines()) <= 100
    assert "time_s" in narrow.out.splitlines()[0]  # $COLUMNS is the terminal's width


def test_catalog_iterations_view_and_parquet(runs: tuple[Path, list[str]], tmp_path: Path,
                                             cli) -> None:  # type: ignore[no-untyped-def]
    root, ids = runs
    out = cli("catalog", "--artifacts", str(root), "--iterations", "--width", "80")
    lines = out.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[2 + 12].startswith("12 iteration(s)")
    assert lines[0].split()[:3] == ["run", "tuner", "iter"]
    assert re.match(rf"{re.escape(ids[0])}\s+on\s+1\s", lines[2])
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


def test_catalog_json_is_written_a_chunk_at_a_time(runs: tuple[Path, list[str]], cli,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    """`--json` copies a few bytes of text at a time and prints one JSON array on one line,
    every row as :func:`to_records` gives it (non-finite numbers as null); `--parquet`
    writes through a temp file, and a failed write leaves neither it nor a partial target."""
    from soakkit.catalog.load import to_records
    from soakkit.cli import catalog as catalog_cli

    root, _ = runs
    frame = load_catalog(root).frame
    monkeypatch.setattr(stream, "CHUNK_BYTES", 7)
    assert frame.height > 2
    out = cli("catalog", "--artifacts", str(root), "--json")
    assert out.code == 0
    assert out.out.endswith("]\n") and out.out.count("\n") == 1
    finite = [{k: None if isinstance(v, float) and not math.isfinite(v) else v
               for k, v in row.items()} for row in to_records(frame)]
    assert json.loads(out.out) == finite
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    whole = frame.with_columns(pl.col(c).dt.strftime(catalog_cli.JSON_TIME_FORMAT)
                               for c in times).write_json()
    assert out.out == whole + "\n"  # polars' write_json's bytes, copied chunk by chunk
    redirected = io.StringIO()  # a text stream with no bytes underneath gets the same text
    with contextlib.redirect_stdout(redirected):
        assert main(["catalog", "--artifacts", str(root), "--json"]) == 0
    assert redirected.getvalue() == out.out
    target = tmp_path / "rows.parquet"
    target.write_bytes(b"the previous export")

    def failing(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        file.write(b"PAR1 half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing)
    full = cli("catalog", "--artifacts", str(root), "--parquet", str(target), "--force")
    assert full.code == 2 and full.err.startswith(f"soakkit: error: {target}: cannot write")
    assert target.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet"]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_json_and_csv_chunks_are_polars_bytes_with_newlines_in_strings(
        chunk: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` turns NDJSON's newlines into commas: a newline inside a string stays
    escaped, and a character split between two chunks reaches a text stream whole;
    `--csv` streams polars' CSV the same way."""
    from soakkit.cli import catalog as catalog_cli

    frame = pl.DataFrame({"text": ["a\nb", "c\r\nd", "", None, "\\n", "Ⓢ€ü"] * 3,
                          "x": [1.5, float("nan"), None, float("inf"), -0.0, 2.0] * 3,
                          "tags": [["p\nq"], [], None, ["r"], ["\n"], ["µ"]] * 3})
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    catalog_cli._write_json(frame)
    assert capsys.readouterr().out == frame.write_json() + "\n"
    catalog_cli._write_json(frame.head(0))
    assert capsys.readouterr().out == "[]\n"
    redirected = io.StringIO()
    with contextlib.redirect_stdout(redirected):
        catalog_cli._write_json(frame)
    assert redirected.getvalue() == frame.write_json() + "\n"
    flat = frame.with_columns(pl.col("tags").list.join(";"))
    catalog_cli._write_csv(frame)  # --csv: polars' CSV, list columns joined by ";"
    assert capsys.readouterr().out == flat.write_csv()
    with contextlib.redirect_stdout(redirected := io.StringIO()):
        catalog_cli._write_csv(frame)
    assert redirected.getvalue() == flat.write_csv()


def test_json_stops_polars_when_stdout_goes_and_raises_its_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader gone (`| head`) stops polars' writer at once, and an error of the writer's
    reaches the caller; neither leaves a thread or a file descriptor behind."""
    import threading

    from soakkit.cli import catalog as catalog_cli

    frame = pl.DataFrame({"x": list(range(200_000)), "text": ["row"] * 200_000})
    fds = len(os.listdir("/proc/self/fd"))

    class GoneAfterOneWrite(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            if getattr(self, "wrote", False):
                raise BrokenPipeError(32, "Broken pipe")
            self.wrote = True
            return len(data)  # type: ignore[arg-type]

    gone = io.TextIOWrapper(GoneAfterOneWrite(), write_through=True)  # type: ignore[arg-type]
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(sys, "stdout", gone)
    with pytest.raises(BrokenPipeError):
        catalog_cli._write_json(frame)
    monkeypatch.undo()

    def half_then_full(self: pl.DataFrame, file: str) -> None:
        with open(file, "wb") as out:
            out.write(b'{"x":1}\n{"x"')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_ndjson", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        catalog_cli._write_json(frame)
    assert not [t for t in threading.enumerate() if t.name == "soakkit-json"]
    assert len(os.listdir("/proc/self/fd")) == fds

    def no_last_newline(self: pl.DataFrame, file: str) -> None:
        with open(file, "wb") as out:
            out.write(b'{"x":1}\n{"x":2}')

    monkeypatch.setattr(pl.DataFrame, "write_ndjson", no_last_newline)
    with contextlib.redirect_stdout(text := io.StringIO()):
        catalog_cli._write_json(frame)
    assert text.getvalue() == '[{"x":1},{"x":2}]\n'  # the last byte is never lost

    def cannot_start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", cannot_start)
    with pytest.raises(RuntimeError, match="can't start"):
        catalog_cli._write_json(frame)
    assert len(os.listdir("/proc/self/fd")) == fds  # both ends of the pipe closed


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


def test_run_tables_and_report_frames_show_in_the_kits_style_in_jupyter(
        runs: tuple[Path, list[str]]) -> None:
    """``Catalog.runs()`` as a cell's value is the reports' table (not polars' own), with the
    tuner, strategy and market columns; after ``notebook_setup`` (``use_table_style``) every
    frame a report returns is too."""
    from IPython.core.interactiveshell import InteractiveShell

    from soakkit.report.display import use_table_style

    root, ids = runs
    shell = InteractiveShell.instance()
    runs_table = load_catalog(root).runs()
    html = shell.display_formatter.format(runs_table)[0]["text/html"]
    assert 'class="soakkit-table"' in html and "3 run(s)" in html and ids[2] in html
    assert all(f"<th>{c}</th>" in html for c in ("tune", "strategy", "market"))
    header = load_kpi_report(root, ids[1]).header
    assert 'class="soakkit-table"' not in shell.display_formatter.format(header)[0]["text/html"]
    use_table_style()
    assert 'class="soakkit-table"' in shell.display_formatter.format(header)[0]["text/html"]
    big = pl.DataFrame({"n": list(range(1000))})
    shown = shell.display_formatter.format(big)[0]["text/html"]
    assert "the first 200 of 1000 rows" in shown and shown.count("<tr>") == 201


def test_a_figure_with_nothing_to_draw_is_a_sentence(runs: tuple[Path, list[str]]) -> None:
    """An untuned run has no tuning events: the figure says so in words (no empty plot, no
    matplotlib "No artists with labels found" warning); the linked-baseline note says why
    there is no comparison."""
    import warnings

    from soakkit.report import charts, figures

    root, ids = runs
    report = load_kpi_report(root, ids[2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        said = charts.tuning_events(report.iterations)
    assert said == "No tuning events in iterations 1-5: the tuner was off."
    assert report.comparison is None and report.baseline_note.startswith("no baseline: the run")
    history = pl.DataFrame(schema={"before_allocated": pl.Int64, "after_allocated": pl.Int64,
                                   "now": pl.String})
    assert figures.disk_growth(history, None).startswith("No disk growth to draw")
    compared = load_kpi_report(root, ids[1], baseline=ids[0])
    assert compared.comparison is not None and compared.comparison.columns[:3] == [
        "kpi", "run", "baseline"]
    assert compared.baseline_note == f"baseline {ids[0]} (parameter `baseline`)"
    assert load_kpi_report(root, ids[1], baseline="none").comparison is None


def test_the_reports_charts_are_valid_vega_lite(runs: tuple[Path, list[str]]) -> None:
    """The notebooks show a chart's specification without altair's validation (0.15 s of a
    KPI report kernel's CPU); here every chart the reports build is validated against the
    Vega-Lite schema, for tuned and untuned runs under both gates and the runs overview,
    and the shown specification is the validated one."""
    from soakkit.report import charts

    root, ids = runs
    built: list[Any] = []
    for run_id in ids:
        for gate in ("smoke", "production"):
            frame = load_kpi_report(root, run_id, gate=gate).iterations
            built += [charts.kpi_trends_chart(frame, gate), charts.param_trajectories(frame)]
            events = charts.tuning_events(frame)  # a sentence when there is nothing to draw
            built += [] if isinstance(events, str) else [events]
    assert sum(getattr(chart, "name", None) == "tuning_events" for chart in built) >= 2
    built.append(charts.runs_chart(load_exploration(root, days=0, now=NOW, run="latest").runs))
    for chart in built:
        validated = chart.to_dict(validate=True)  # raises on a specification Vega-Lite refuses
        assert charts.spec(chart) == json.loads(json.dumps(validated, sort_keys=True))
