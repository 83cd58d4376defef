"""Issue 28, cases 4, 6, 8 and 10: far dates, names that are not UTF-8, kernel folders,
unnamed streams and library wording.

A clock outside 1970..2261 is refused before a run id exists; a run an older soakkit wrote
in year 9999 (file times beyond int64 nanoseconds) is skipped with a warning by the catalog,
the metrics and the reports, never a traceback. A path that is not UTF-8 is refused by every
command in one line; names that are not UTF-8 *inside* an artifacts folder are listed with
their bytes escaped. ``rotate --path /proc`` lists what it cannot read. A full standard
output, a device as an output file and damaged gzip data are named in soakkit's words.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from soakkit.core.errors import ExitCode
from soakkit.soak import SoakOptions, run_soak

from .clock_guard import SESSION_START_ENV
from .conftest import CliResult, assert_one_line_error, run_subprocess, subprocess_env
from .rotation_helpers import stamp, write

NOW = "2026-11-24T12:00:00Z"
#: What an older soakkit stamped with ``--now 9999-12-31T23:59:59Z`` (ext4 keeps 2446).
YEAR_9999_S = 253_402_300_799
NOT_UTF8 = os.fsdecode(b"art-\xff\xfe")


def _run(root: Path, seed: int) -> Path:
    return run_soak(SoakOptions(iterations=2, sim_minutes=1, seed=seed, artifacts=root,
                                now=NOW), env={}).run_dir


def _from_year_9999(run_dir: Path) -> Path:
    """``run_dir`` as a soakkit without the date bound wrote it with --now in year 9999."""
    far = run_dir.with_name(run_dir.name.replace("20261124T120000Z", "99991231T235959Z"))
    shutil.copytree(run_dir, far)
    (far / "iterations.parquet").unlink()
    for path in far.iterdir():
        if path.suffix in (".json", ".jsonl"):
            path.write_text(path.read_text().replace("2026-11-24T12:00:", "9999-12-31T23:59:"))
    for path in [*far.iterdir(), far]:
        os.utime(path, (YEAR_9999_S, YEAR_9999_S), follow_symlinks=False)
    return far


# ------------------------------------------------------------------ 4. far dates
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                                  "2262-04-12T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_clock_outside_the_window_is_refused_before_a_run_exists(tmp_path: Path, cli,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  when: str) -> None:
    soak = ["soak", "--iterations", "1", "--sim-minutes", "1", "--quiet", "--artifacts",
            str(tmp_path / "a")]
    result = cli(*soak, "--now", when)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"--now: '{when}' is outside 1970-01-01..2261-12-31")
    monkeypatch.setenv("SOAKKIT_NOW", when)
    for argv in (soak, ["sweep", "--seeds", "1", "--artifacts", str(tmp_path / "a"),
                        "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0.2"]):
        result = cli(*argv)
        assert result.code == ExitCode.USAGE, (argv, result)
        assert_one_line_error(result, f"SOAKKIT_NOW: '{when}' is outside")
    assert not (tmp_path / "a" / "runs").exists() and not (tmp_path / "a" / "sweeps").exists()
    assert "1970-01-01..2261-12-31" in " ".join(cli("soak", "--help").out.split())


@pytest.mark.slow
def test_a_run_from_year_9999_is_skipped_not_a_traceback(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "art"
    good = _run(art, 1)
    far = _from_year_9999(_run(tmp_path / "b", 2))
    far = Path(shutil.move(far, art / "runs" / far.name))
    assert os.stat(far / "ITER_SUMMARY_1.json").st_mtime_ns > 2**63 - 1, \
        "this file system cannot hold the time that broke the catalog"
    skipped = f"{far / 'ITER_SUMMARY_1.json'}: started_utc 9999-12-31T23:59:"
    catalog = cli("catalog", "--artifacts", str(art))
    assert catalog.code == ExitCode.PROBLEMS, catalog
    assert skipped in catalog.err and "is outside 1970-01-01..2261-12-31; skipped" in catalog.err
    assert good.name in catalog.out and far.name not in catalog.out
    assert cli("catalog", "--artifacts", str(art)).code == ExitCode.PROBLEMS  # from the cache
    (tmp_path / "prom").mkdir()
    metrics = cli("metrics", "--artifacts", str(art), "--out", str(tmp_path / "prom"))
    assert metrics.code == ExitCode.PROBLEMS and skipped in metrics.err
    rotate = cli("rotate", "--path", str(art), "--dry-run", "--now", NOW)
    assert rotate.code == 0 and "Traceback" not in rotate.err
    report = run_subprocess("report", "kpi", "-p", "artifacts", str(art), "-p", "run",
                            good.name, "--out", str(tmp_path / "reports"), "--now", NOW)
    assert report.code == ExitCode.PROBLEMS, report.err
    assert "Traceback" not in report.err


# ------------------------------------------------------------------ 6. names that are not UTF-8
@pytest.mark.parametrize("argv", [
    ["soak", "--iterations", "1", "--artifacts", "{bad}"], ["catalog", "--artifacts", "{bad}"],
    ["metrics", "--artifacts", "{bad}", "--out", "{bad}"],
    ["report", "kpi", "-p", "artifacts", "{bad}"], ["report", "disk", "-p", "artifacts", "{bad}"],
    ["rotate", "--path", "{bad}", "--dry-run"], ["tape", "check", "{bad}"],
    ["config", "list-profiles", "--artifacts", "{bad}"], ["sweep", "--artifacts", "{bad}"],
    ["calibrate", "{bad}", "--name", "x"]])
def test_a_path_that_is_not_utf8_is_one_line(tmp_path: Path, cli, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / NOT_UTF8
    bad.mkdir()
    result = cli(*[a.replace("{bad}", str(bad)) for a in argv])
    assert result.code == (1 if argv[0] == "rotate" else ExitCode.USAGE), result
    assert_one_line_error(result, f"{tmp_path}/art-\\xff\\xfe' is not valid UTF-8")
    assert "\udcff" not in result.err
    assert list(bad.iterdir()) == []


def test_a_path_that_is_not_utf8_from_a_real_command_line(tmp_path: Path) -> None:
    bad = os.fsencode(tmp_path) + b"/art-\xff"
    proc = subprocess.run([sys.executable, "-m", "soakkit", "catalog", "--artifacts", bad],
                          capture_output=True, env=subprocess_env(), check=False, timeout=120)
    assert proc.returncode == ExitCode.USAGE
    assert proc.stderr.decode().endswith("art-\\xff' is not valid UTF-8: soakkit keeps paths "
                                         "as text in its tables, logs and reports; rename it "
                                         "(see --help)\n")


@pytest.mark.slow
def test_names_that_are_not_utf8_inside_the_artifacts_are_listed_escaped(tmp_path: Path,
                                                                        cli) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "art"
    run_dir = _run(art, 1)
    write(run_dir / os.fsdecode(b"notes-\xff.txt"), b"x", 0.5)
    write(art / os.fsdecode(b"stray-\xfe"), b"y", 0.5)
    (art / "runs" / os.fsdecode(b"bad-\xff")).mkdir()
    stamp(art / "runs" / os.fsdecode(b"bad-\xff"), 0.5)
    assert cli("catalog", "--artifacts", str(art)).code == 0
    (tmp_path / "prom").mkdir()
    assert cli("metrics", "--artifacts", str(art), "--out", str(tmp_path / "prom")).code == 0
    rotate = cli("rotate", "--path", str(art), "--dry-run", "--explain", "--now", NOW)
    assert rotate.code == 0 and "Traceback" not in rotate.err
    disk = run_subprocess("report", "disk", "-p", "artifacts", str(art), "-p", "now", NOW, "--out",
                          str(tmp_path / "reports"), "--now", NOW)
    assert disk.code == 0, disk.err
    html = (tmp_path / "reports" / "latest" / "disk" / "report.html").read_text()
    assert "stray-\\xfe" in html


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "esc\x1b[31m"])
def test_a_path_with_a_control_character_is_refused(tmp_path: Path, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("catalog", "--artifacts", str(tmp_path / name))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "path contains a control character")
    assert len(result.err.strip().splitlines()) == 1


# ------------------------------------------------------------------ 8. kernel folders
def test_rotating_proc_lists_what_it_cannot_read() -> None:
    # the command; /proc's times are the kernel's, so the clock guard (which checks
    # that a test's own files are aged against its clock) stands aside: nothing asserted
    # here depends on an age
    result = run_subprocess("rotate", "--path", "/proc", "--dry-run",
                            env={SESSION_START_ENV: ""})
    assert result.code == 1 and "Traceback" not in result.err  # 1: rotate's "error"
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines and all(line.startswith("soakkit: error: ") and ": cannot list: " in line
                         for line in lines), lines
    assert "<unknown path>" not in result.err and "size:" in result.out


# ------------------------------------------------------------------ 10. unnamed streams, wording
def _to_dev_full(*argv: str) -> CliResult:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "soakkit", *argv], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=subprocess_env(),
                              check=False, timeout=120)
    return CliResult(proc.returncode, "", proc.stderr)


@pytest.mark.parametrize("argv", [["catalog"], ["catalog", "--json"], ["config", "precedence"],
                                  ["--help"]])
def test_a_full_standard_output_is_named(tmp_path: Path, argv: list[str]) -> None:
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "/dev/full is not the device"
    _run(tmp_path, 1)
    if argv[0] == "catalog":
        argv = [*argv, "--artifacts", str(tmp_path)]
    result = _to_dev_full(*argv)
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "standard output: cannot write: no space left on device "
                                  "(ENOSPC)")


def test_a_device_is_never_replaced_by_an_output_file(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _run(tmp_path, 1)
    result = cli("catalog", "--artifacts", str(tmp_path), "--parquet", "/dev/full", "--force")
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "/dev/full: cannot write the Parquet file: not a regular "
                                  "file; refusing to replace it")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_catalog_parquet_is_never_overwritten_without_force(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _run(tmp_path, 1)
    out = tmp_path / "runs.parquet"
    out.write_bytes(b"mine")
    refused = cli("catalog", "--artifacts", str(tmp_path), "--parquet", str(out))
    assert refused.code == ExitCode.USAGE
    assert_one_line_error(refused, f"--parquet {out}: a file is already there; --force "
                                   "replaces it")
    assert out.read_bytes() == b"mine"
    forced = cli("catalog", "--artifacts", str(tmp_path), "--parquet", str(out), "--force")
    assert forced.code == 0 and "(replaced)" in forced.out and out.read_bytes() != b"mine"


@pytest.mark.slow
def test_damaged_gzip_data_is_a_skipped_file_in_plain_words(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run_dir = _run(tmp_path, 1)
    for name in ("iterations.parquet", "iterations.jsonl"):
        (run_dir / name).unlink()
    doc = (run_dir / "ITER_SUMMARY_1.json").read_bytes()
    packed = bytearray(gzip.compress(doc))
    packed[30:60] = bytes(b ^ 0xFF for b in packed[30:60])
    (run_dir / "ITER_SUMMARY_1.json.gz").write_bytes(bytes(packed))
    (run_dir / "ITER_SUMMARY_1.json").unlink()
    result = cli("catalog", "--artifacts", str(tmp_path))
    assert result.code == ExitCode.PROBLEMS
    assert f"{run_dir / 'ITER_SUMMARY_1.json.gz'}: damaged compressed data; skipped" in result.err
    assert "<unknown path>" not in result.err and "Error -3" not in result.err
    report = run_subprocess("report", "kpi", "-p", "artifacts", str(tmp_path), "--out",
                            str(tmp_path / "reports"), "--now", NOW)
    assert report.code == ExitCode.PROBLEMS, report.err
    assert "damaged compressed data" in report.err


def test_an_unreadable_tape_table_is_described_in_soakkits_words(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "tape"
    assert cli("tape", "sample", str(folder), "--minutes", "1").code == 0
    (folder / "trades.parquet").write_bytes(b"PAR1\x00\x01\x1b[2Jgarbage")
    result = cli("tape", "check", str(folder))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"{folder / 'trades.parquet'}: not a readable parquet file "
                                  "(truncated or damaged)")
    assert "\x1b" not in result.err
