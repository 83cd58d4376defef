"""The catalog's listing: GNU find and Python's scandir give the same files, and every
case find cannot print as it should falls back to the Python listing."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from soakkit.catalog import entry, find, load_catalog, scan
from soakkit.catalog import load as load_module
from soakkit.catalog.find import FIND_MIN_FOLDERS, FindListing
from soakkit.catalog.scan import FolderScan
from soakkit.soak import SoakOptions, run_soak

from .conftest import subprocess_env

NS = 1_767_225_600_123_456_789  # 2026-01-01 00:00:00.123456789 UTC


def _write(path: Path, data: bytes, ns: int = NS) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _folders(runs: Path, count: int = FIND_MIN_FOLDERS + 1) -> list[Path]:
    """Run folders with every kind of entry the listing meets."""
    out = []
    for k in range(count):
        folder = runs / f"run{k:02d}"
        folder.mkdir(parents=True)
        _write(folder / "ITER_SUMMARY_1.json", b"{}", NS + k)
        _write(folder / "ITER_SUMMARY_2.json.gz", gzip.compress(b"{}", mtime=0), NS - 7)
        _write(folder / "ITER_SUMMARY_01.json", b"{}")  # not an iteration's name
        _write(folder / "iterations.jsonl", b"")  # the log: listed apart
        _write(folder / "iterations.jsonl.gz", b"")  # a legacy history
        _write(folder / "RUN.json", b"{}")
        (folder / "ITER_SUMMARY_3.json").symlink_to(folder / "ITER_SUMMARY_1.json")
        (folder / "ITER_SUMMARY_4.json").mkdir()
        out.append(folder)
    return out


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("_path")


def _same(listed: dict[str, pl.DataFrame], folders: list[Path]) -> bool:
    """``listed`` is, folder by folder, what Python's scandir lists."""
    return listed.keys() == {str(f) for f in folders} and all(
        _sorted(listed[str(f)]).equals(_sorted(scan._files(f))) for f in folders)


def test_find_lists_what_python_lists(tmp_path: Path) -> None:
    folders = _folders(tmp_path / "runs")
    found = scan._find_files(folders)
    assert found is not None, "GNU find (findutils) is on every Debian system"
    assert _same(found, folders)
    first = found[str(folders[0])]
    assert sorted(first["_name"]) == ["ITER_SUMMARY_1.json", "ITER_SUMMARY_2.json.gz",
                                      "iterations.jsonl.gz"]
    assert first.filter(pl.col("_name") == "ITER_SUMMARY_1.json")["_mtime"].item() == NS


def test_folders_beyond_one_command_line_take_several_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _folders(tmp_path / "runs")
    runs: list[int] = []
    popen = subprocess.Popen

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return popen(*args, **kwargs)

    monkeypatch.setattr(find, "FIND_ARG_BYTES", len(str(folders[0])) * 2 + 2)
    monkeypatch.setattr(find.subprocess, "Popen", counted)
    found = scan._find_files(folders)
    assert found is not None and _same(found, folders)
    assert len(runs) == (len(folders) + 1) // 2  # two folders a command


def test_a_folder_given_twice_is_listed_once(tmp_path: Path) -> None:
    folders = _folders(tmp_path / "runs")
    found = scan._find_files([*folders, folders[0]])
    assert found is not None and _same(found, folders)
    with FolderScan([folders[0], *folders]) as listing:
        assert _same({str(f): listing.files(f) for f in folders}, folders)


def test_command_lines_count_bytes_and_start_no_find_without_folders(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert find._command_lines([]) == []  # find without a path would list "."
    monkeypatch.setattr(find, "FIND_ARG_BYTES", 8)
    wide = Path("\u00e9\u00e9\u00e9")  # 3 characters, 6 bytes
    assert find._command_lines([wide, Path("ab")]) == [[str(wide)], ["ab"]]


def test_a_linked_runs_folder_is_listed_through_the_link(tmp_path: Path) -> None:
    _folders(tmp_path / "real")
    (tmp_path / "runs").symlink_to(tmp_path / "real")
    folders = sorted((tmp_path / "runs").iterdir())
    found = scan._find_files(folders)
    assert found is not None
    assert _same(found, folders)
    assert all(part.height == 3 for part in found.values())


@pytest.mark.parametrize("odd", ["newline", "before_1970", "after_2262"])
def test_what_find_cannot_print_falls_back_to_python(tmp_path: Path, odd: str) -> None:
    folders = _folders(tmp_path / "runs")
    if odd == "newline":
        _write(folders[3] / "ITER_SUMMARY_5.json\n", b"{}")
    else:
        ns = -1_500_000_000 if odd == "before_1970" else 15_000_000_000 * 10**9
        path = folders[3] / "ITER_SUMMARY_5.json"
        path.write_bytes(b"{}")
        try:
            os.utime(path, ns=(ns, ns))
        except (OSError, OverflowError):
            pytest.skip("this file system cannot date a file there")
    assert scan._find_files(folders) is None
    with FolderScan(folders) as listing:
        assert _same({str(f): listing.files(f) for f in folders}, folders)


def test_without_find_the_catalog_is_the_same(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "söak"  # a path of more bytes than characters
    run = run_soak(SoakOptions(iterations=3, sim_minutes=1, seed=1, mode="mixed",
                               gate="production", artifacts=root,
                               now="2026-03-01T00:00:00Z"), env={})
    for k in range(FIND_MIN_FOLDERS):  # copies keep their files' times: the log matches them
        shutil.copytree(run.run_dir, root / "runs" / f"{run.run_id}-{k}", symlinks=True)
    edited = root / "runs" / f"{run.run_id}-2" / "ITER_SUMMARY_2.json"
    _write(edited, edited.read_bytes() + b"\n")  # the log no longer matches this file
    (root / "latest").unlink()  # the runner's link, made the legacy layout's folder
    (root / "latest").mkdir()
    _write(root / "latest" / "ITER_SUMMARY_1.json", (run.run_dir / "ITER_SUMMARY_1.json")
           .read_bytes())
    finds: list[tuple[int, bool, bool]] = []
    find_files = scan._find_files

    def counted(folders: list[Path], listing: FindListing | None = None
                ) -> dict[str, pl.DataFrame] | None:
        started = listing is not None
        found = find_files(folders, listing)
        finds.append((len(folders), found is not None, started))  # listed by find
        return found

    monkeypatch.setattr(scan, "_find_files", counted)
    with_find = load_catalog(root, cache=False)
    assert finds == [(FIND_MIN_FOLDERS + 2, True, True)]  # the run folders and latest/
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert scan._find_files(sorted((root / "runs").iterdir())) is None
    without = load_catalog(root, cache=False)
    assert_frame_equal(with_find.frame, without.frame)
    assert (with_find.problems, with_find.notes) == (without.problems, without.notes)
    assert with_find.frame.height == 3 * (FIND_MIN_FOLDERS + 1) + 1
    assert len(with_find.notes) == 1 and "ITER_SUMMARY_2.json" in with_find.notes[0]


def test_a_cold_load_imports_neither_numpy_nor_the_tuner_nor_argparse(tmp_path: Path) -> None:
    _folders(tmp_path / "runs")
    code = ("import sys; from soakkit.catalog import load_catalog; "
            f"load_catalog({str(tmp_path)!r}, cache=False); "
            "print(sorted(m for m in ('numpy', 'soakkit.tuning.engine', 'argparse') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_name_ending_in_a_newline_is_no_iterations_file(tmp_path: Path) -> None:
    """A regular expression's ``$`` matches before a final newline: the names are matched
    whole."""
    (folder,) = _folders(tmp_path / "runs", count=1)
    _write(folder / "ITER_SUMMARY_6.json\n", b"{}")
    assert "ITER_SUMMARY_6.json\n" not in scan._files(folder)["_name"].to_list()


def test_a_name_ending_in_a_carriage_return_falls_back_to_python(tmp_path: Path) -> None:
    """polars drops a carriage return that ends a field: find's listing would name a file
    ``ITER_SUMMARY_5.json`` that does not exist."""
    folders = _folders(tmp_path / "runs")
    _write(folders[3] / "ITER_SUMMARY_5.json\r", b"{}")
    assert scan._find_files(folders) is None
    with FolderScan(folders) as listing:
        assert _same({str(f): listing.files(f) for f in folders}, folders)
        assert "ITER_SUMMARY_5.json" not in listing.files(folders[3])["_name"].to_list()


def test_a_file_removed_while_listed_is_left_out(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Rotation may delete a file between the folder's listing and its lstat."""
    (folder,) = _folders(tmp_path / "runs", count=1)
    scandir = os.scandir

    def then_rotate(fd: int) -> Any:
        with scandir(fd) as it:
            entries = list(it)
        (folder / "ITER_SUMMARY_1.json").unlink()
        return contextlib.nullcontext(iter(entries))

    monkeypatch.setattr(scan.os, "scandir", then_rotate)
    names = sorted(s[6] for s in scan.folder_sources(folder))
    assert names == ["ITER_SUMMARY_2.json.gz", "iterations.jsonl", "iterations.jsonl.gz"]


@pytest.mark.parametrize("count", [2, FIND_MIN_FOLDERS + 1])
def test_a_folder_removed_during_a_load_is_left_out_either_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """find leaves a folder removed since the folders were listed out; so does Python."""
    for k in range(count):
        folder = tmp_path / "runs" / f"run{k:02d}"
        folder.mkdir(parents=True)
        _write(folder / "RUN.json", b"{}")
    folder_mtimes = entry.folder_mtimes

    def then_remove(artifacts: Path) -> Any:
        out = folder_mtimes(artifacts)
        shutil.rmtree(out[0][0].path)
        return out

    monkeypatch.setattr(entry, "folder_mtimes", then_remove)
    loaded = load_catalog(tmp_path, cache=False)
    assert loaded.frame.height == 0


def test_a_time_find_printed_from_a_double_falls_back(tmp_path: Path) -> None:
    """``%T@`` is nanoseconds and a zero; a tenth digit that is not a zero is not them."""
    line = "\x00".join([f"{tmp_path}/run00", "ITER_SUMMARY_1.json", "1", "2",
                         "1767225600.123456789"])
    assert scan._parse_find(f"{line}0\n".encode(), [tmp_path / "run00"]) is not None
    assert scan._parse_find(f"{line}7\n".encode(), [tmp_path / "run00"]) is None


def test_a_log_appended_while_the_files_are_listed_is_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run renames ITER_SUMMARY_3 into place, then appends its line to the log. A load
    that reads the log between the two and lists the files after must not say the file is
    missing from the log (and keep saying it from the cache: the folder did not change)."""
    root = tmp_path / "soak"
    run = run_soak(SoakOptions(iterations=3, sim_minutes=1, seed=1, mode="mixed",
                               gate="production", artifacts=root,
                               now="2026-03-01T00:00:00Z"), env={})
    (run.run_dir / "iterations.parquet").unlink(missing_ok=True)
    log = run.run_dir / "iterations.jsonl"
    full = log.read_bytes()
    cut = full.rstrip(b"\n").rfind(b"\n") + 1
    log.write_bytes(full[:cut])  # iteration 3 not logged yet
    read = threading.Event()
    read_tables, files = load_module.read_tables, scan._files

    def tables(*args: Any) -> Any:
        out = read_tables(*args)
        read.set()
        return out

    def append_then_list(folder: Path) -> pl.DataFrame:
        assert read.wait(timeout=60)
        with log.open("ab") as f:  # the run appends meanwhile
            f.write(full[cut:])
        return files(folder)

    monkeypatch.setattr(load_module, "read_tables", tables)
    monkeypatch.setattr(scan, "_files", append_then_list)
    first = load_catalog(root)
    again = load_catalog(root)
    assert first.frame.height == again.frame.height == 3
    assert first.notes == again.notes == ()


def test_a_cold_load_starts_find_before_polars_and_a_warm_one_none(tmp_path: Path) -> None:
    """What a load reads is known from folder mtimes and the cache's keys: ``find`` lists it
    on the other core while the interpreter imports polars; nothing changed: no find."""
    _folders(tmp_path / "runs")
    code = ("import sys\n"
            "finds = []\n"
            "def hook(event, args):\n"
            "    if event == 'subprocess.Popen' and args[1][0] == 'find':\n"
            "        finds.append('polars' in sys.modules)\n"
            "sys.addaudithook(hook)\n"
            "from soakkit.catalog import load_catalog\n"
            f"for _ in range(2): load_catalog({str(tmp_path)!r})\n"
            "print(finds)")
    env = {**subprocess_env(), "SOAKKIT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[False]"  # one find, before polars; the warm load none


def test_a_listing_started_for_other_folders_is_stopped_and_not_used(tmp_path: Path) -> None:
    folders = _folders(tmp_path / "runs", count=2 * FIND_MIN_FOLDERS)
    other = FindListing(folders[1:])  # the cache said one folder was unchanged; it is not
    with FolderScan(folders, other) as listing:
        assert _same({str(f): listing.files(f) for f in folders}, folders)
    assert other._running is None


def test_closing_a_listing_stops_its_find(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _folders(tmp_path / "runs")
    monkeypatch.setattr(find, "FIND_ARG_BYTES", len(str(folders[0])) + 1)  # one a command
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def kept(*args: Any, **kwargs: Any) -> Any:
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(find.subprocess, "Popen", kept)
    with FindListing(folders) as listing:
        assert len(started) == 1  # the next command line starts when this one ends
    assert started[0].returncode is not None  # waited for: no process left behind
    assert listing.output() is None  # stopped before it was complete
    with FindListing(folders) as listing:
        out = listing.output()
    assert out is not None and len(started) == 1 + len(folders)
    assert listing.output() is out  # kept


def test_an_inode_past_int64_is_listed_and_cached_whole(tmp_path: Path) -> None:
    """Inodes are unsigned 64-bit numbers; some file systems give ones of 2**63 or more."""
    line = "\x00".join([f"{tmp_path}/run00", "ITER_SUMMARY_1.json", str(2**64 - 1), "2",
                         "1767225600.1234567890"])
    found = scan._parse_find(f"{line}\n".encode(), [tmp_path / "run00"])
    assert found is not None
    assert found[f"{tmp_path}/run00"]["_ino"].to_list() == [2**64 - 1]
    assert scan.SOURCE_SCHEMA["_ino"] == load_module.KEY_SCHEMA["_ino"] == pl.UInt64()


def test_no_memory_file_for_find_falls_back_to_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = _folders(tmp_path / "runs")

    def no_descriptors() -> Any:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(find, "_memory_file", no_descriptors)
    assert FindListing(folders).output() is None
    with FolderScan(folders) as listing:
        assert _same({str(f): listing.files(f) for f in folders}, folders)


def test_an_error_during_a_load_stops_find_at_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C or an error while the files are listed: the scan does not wait for find."""
    folders = _folders(tmp_path / "runs")
    slow = tmp_path / "bin" / "find"
    slow.parent.mkdir()
    slow.write_text("#!/bin/sh\nexec sleep 600\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(KeyboardInterrupt), FolderScan(folders) as listing:
        running = listing._listing._running  # type: ignore[union-attr]
        assert running is not None
        raise KeyboardInterrupt
    assert running[0].returncode == -9  # killed, not waited for


def test_a_file_removed_since_it_was_listed_is_no_problem(tmp_path: Path) -> None:
    """Rotation or a run removed between the listing and the read: the file is left out,
    as one removed before the listing is."""
    from soakkit.catalog.parse import frame_from_files

    gone = str(tmp_path / "runs" / "r" / "ITER_SUMMARY_1.json")
    frame, problems = frame_from_files([(gone, "r", "runs", "file", {}, 1)])
    assert frame.height == 0 and problems == []
