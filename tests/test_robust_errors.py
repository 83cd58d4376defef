"""Issue 13, classes 1, 2 and 9: one error path, empty paths, one table of exit codes.

Every OSError on a path the user gave is one line ``soakkit: error: <path>: <what> (<ERRNO>)``
with a documented exit code, nothing half-written, and a retry that does the right thing.
The file system refuses for real: a file where a folder belongs, read-only mounts, a full
tmpfs, a name too long for the kernel, a folder the user may not read (tests/fs_refusal.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from soakkit.cli import build_parser
from soakkit.core.errors import EXIT_CODE_MEANINGS, ROTATE_EXIT_CODES, ExitCode
from soakkit.core.inputs import path_arg

from .conftest import REPO, CliResult, assert_one_line_error, run_subprocess
from .fs_refusal import as_nobody, namespace_session, read_only, tiny_tmpfs

NOW = "2026-11-24T12:00:00Z"
RUN_ID = "20261124T120000Z-steady_safe-calm-s1-tuned"
SOAK = ["soak", "--sim-minutes", "1", "--now", NOW, "--quiet"]


def _one_line(result: CliResult, *fragments: str) -> None:
    assert_one_line_error(result, *fragments)
    assert len(result.err.strip().splitlines()) == 1, result.err


def _no_temp_files(root: Path) -> None:
    assert not [p for p in root.rglob("*.tmp")], list(root.rglob("*.tmp"))


# ------------------------------------------------------------------ 1. the file system refuses
def test_artifacts_is_a_file_or_runs_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "F"
    afile.write_text("x")
    result = run_subprocess(*SOAK, "--artifacts", str(afile))
    assert result.code == ExitCode.USAGE
    _one_line(result, f"{afile}: cannot create the runs folder: is a file where a folder "
                      "belongs (ENOTDIR)")
    root = tmp_path / "art"
    root.mkdir()
    (root / "runs").write_text("x")
    result = run_subprocess(*SOAK, "--artifacts", str(root))
    assert result.code == ExitCode.USAGE
    _one_line(result, str(root / "runs"), "(EEXIST)")
    assert sorted(p.name for p in root.iterdir()) == ["runs"]


def test_read_only_artifacts_root(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    result = run_subprocess(*SOAK, "--artifacts", str(root), prefix=read_only(root))
    assert result.code == ExitCode.USAGE
    _one_line(result, f"{root / 'runs'}: cannot create the runs folder: read-only file system "
                      "(EROFS)")
    assert list(root.iterdir()) == []


@pytest.mark.slow
def test_disk_full_stops_the_run_resumably_and_the_retry_completes(tmp_path: Path) -> None:
    root = tmp_path / "full"
    root.mkdir()
    out = tmp_path / "copy"
    prefix, errno_name = tiny_tmpfs(root, 96 * 1024)
    if errno_name == "EFBIG":  # no mount namespaces: the per-file size limit refuses instead
        first = run_subprocess(*SOAK, "--artifacts", str(root), "--iterations", "400",
                               prefix=prefix)
        retry = run_subprocess(*SOAK, "--artifacts", str(root), "--resume", RUN_ID)
        shutil.copytree(root, out)
    else:
        first, retry = namespace_session(root, [
            f'mount -t tmpfs -o size={96 * 1024} soakkit-full "$0"',
            [*SOAK, "--artifacts", str(root), "--iterations", "400"],
            'mount -o remount,size=64m "$0"',
            [*SOAK, "--artifacts", str(root), "--resume", RUN_ID, "--iterations", "400"],
            f'cp -a "$0" {out}'], tmp_path / "logs")
    assert first.code == ExitCode.USAGE, first.err
    _one_line(first, f"run {RUN_ID} stopped after iteration", f"--resume {RUN_ID}",
              f"({errno_name})")
    run_dir = out / "runs" / RUN_ID
    assert retry.code == ExitCode.OK, retry.err
    meta = json.loads((run_dir / "RUN.json").read_text())
    assert meta["status"] == "finished" and meta["iterations_done"] == 400
    assert sorted(int(p.name[13:-5]) for p in run_dir.glob("ITER_SUMMARY_*.json")) == \
        list(range(1, 401))
    assert len(list((out / "runs").iterdir())) == 1  # the retry reused the run
    _no_temp_files(out)


def test_latest_link_refused_after_a_run_is_a_warning_and_no_second_run(tmp_path: Path) -> None:
    root = tmp_path / "art"
    root.mkdir()
    done, again = namespace_session(root, [
        'mount -t tmpfs soakkit-root "$0" && mkdir "$0/runs"',
        'mount -t tmpfs soakkit-runs "$0/runs" && mount -o remount,ro "$0"',
        [*SOAK, "--artifacts", str(root), "--iterations", "2"],
        [*SOAK, "--artifacts", str(root), "--resume", RUN_ID],
        f'cp -a "$0/runs" {tmp_path / "runs"}'], tmp_path / "logs")
    assert done.code == ExitCode.OK, done.err
    assert "Traceback" not in done.err
    assert done.err.startswith("soakkit: warning: ") and "(EROFS)" in done.err
    assert f"--run {RUN_ID}" in done.err
    assert again.code == ExitCode.USAGE
    _one_line(again, f"run {RUN_ID} already finished")
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [RUN_ID]


def test_a_name_too_long_for_the_kernel(tmp_path: Path) -> None:
    deep = tmp_path  # short enough to create, too long once runs/<run id> is added
    while len(str(deep)) < 4068:
        deep = deep / ("d" * min(200, 4070 - len(str(deep)) - 1))
    deep.mkdir(parents=True)
    result = run_subprocess(*SOAK, "--artifacts", str(deep))
    assert result.code == ExitCode.USAGE
    _one_line(result, "cannot create the run folder: name too long", "(ENAMETOOLONG)")
    assert len(result.err) < 400  # the path is shortened in the message
    too_long = run_subprocess(*SOAK, "--artifacts", str(deep) + "/x" * 40)
    _one_line(too_long, "argument --artifacts: path too long")


@pytest.mark.slow
def test_report_out_is_a_file_or_read_only(tmp_path: Path) -> None:
    afile = tmp_path / "F"
    afile.write_text("x")
    art = tmp_path / "art"
    art.mkdir()
    argv = ["report", "disk", "-p", "artifacts", str(art), "--out"]
    result = run_subprocess(*argv, str(afile))
    assert result.code == ExitCode.USAGE
    _one_line(result, f"{afile}: cannot create the reports folder: is a file where a folder "
                      "belongs (ENOTDIR)")
    ro = tmp_path / "ro"
    ro.mkdir()
    result = run_subprocess(*argv, str(ro), prefix=read_only(ro))
    assert result.code == ExitCode.USAGE
    _one_line(result, "cannot create the reports folder: read-only file system (EROFS)")
    assert list(ro.iterdir()) == []


def test_config_migrate_in_a_read_only_folder_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "legacy"
    root.mkdir()
    (root / "ultra_safe_overrides.json").write_text('{"min_interval_ms": 90}')
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    result = run_subprocess("config", "migrate", "--path", str(root), prefix=read_only(root))
    assert result.code == ExitCode.USAGE
    _one_line(result, "read-only file system (EROFS)")
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user may enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="soakkit-nobody-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_rotate_over_an_unreadable_subfolder(shared_tmp: Path) -> None:
    run = shared_tmp / "art" / "runs" / "r1"
    (run / "sub").mkdir(parents=True)
    for n in (1, 2, 3):
        (run / f"ITER_SUMMARY_{n}.json").write_text(json.dumps({"iteration": n}))
    if os.geteuid() == 0:
        for path in [shared_tmp, *shared_tmp.rglob("*")]:
            os.chown(path, 65534, 65534)
    (run / "sub").chmod(0)
    result = as_nobody("rotate", "--path", "art", "--keep-latest", "1", "--now", NOW,
                       cwd=shared_tmp)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert "soakkit: error: runs/r1/sub: cannot list: permission denied (EACCES)" in \
        result.stderr
    assert all(line.startswith("soakkit: ") for line in result.stderr.splitlines())
    assert sorted(p.name for p in run.glob("ITER_SUMMARY_*")) == ["ITER_SUMMARY_3.json"]
    (shared_tmp / "art" / "runs").chmod(0)
    result = as_nobody("catalog", "--artifacts", "art", "--no-cache", cwd=shared_tmp)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr == "soakkit: error: art/runs: permission denied (EACCES)\n"


# ------------------------------------------------------------------ 2. empty paths
def _path_flags() -> list[tuple[list[str], str]]:
    """(command words, flag) for every path flag of every command, found in the parser."""
    found: list[tuple[list[str], str]] = []

    def visit(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, [*words, name])
            elif action.type is path_arg:
                found.append((words, action.option_strings[0] if action.option_strings
                              else action.dest))
    visit(build_parser(), [])
    return found


def test_every_path_like_flag_uses_the_path_check() -> None:
    offenders = []

    def visit(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, [*words, name])
            elif (action.metavar in ("DIR", "FILE", "PATH") or action.type is Path) \
                    and action.type is not path_arg:
                offenders.append((words, action.option_strings))
    visit(build_parser(), [])
    assert offenders == []
    assert len(_path_flags()) >= 15


@pytest.mark.parametrize(("words", "flag"), _path_flags(),
                         ids=[" ".join([*w, f]) for w, f in _path_flags()])
def test_an_empty_path_is_an_error_everywhere(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                              words: list[str], flag: str) -> None:
    monkeypatch.chdir(tmp_path)
    extra = {"explain": ["min_interval_ms"], "restore": ["RUN"], "show": ["--profile", "x"]}
    argv = [*words, *extra.get(words[-1], [])]
    argv += [flag, ""] if flag.startswith("-") else [""]
    if words == ["metrics"] and flag != "--out":
        argv += ["--out", str(tmp_path)]
    result = cli(*argv)
    assert result.code == (1 if words[0] == "rotate" else ExitCode.USAGE), result.err
    _one_line(result, "empty path")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_report_path_parameter(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name in ("soak", "kpi", "disk"):
        result = cli("report", name, "-p", "artifacts", "", "--out", str(tmp_path / "r"))
        assert result.code == ExitCode.USAGE
        assert_one_line_error(result, "-p artifacts: empty path")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 9. one table of exit codes
def test_user_named_things_that_do_not_exist_exit_2(cli, artifacts: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for argv in (["config", "show", "--profile", "steady_safe", "--run", "NOSUCH",
                  "--artifacts", str(artifacts)],
                 ["soak", "--resume", "nosuch", "--artifacts", str(artifacts)],
                 ["catalog", "--artifacts", str(tmp_path / "missing")]):
        result = cli(*argv)
        assert result.code == ExitCode.USAGE, (argv, result.err)
        _one_line(result)


def test_soak_reports_every_option_problem_together(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("soak", "--artifacts", str(tmp_path / "a"), "--iterations", "0", "--seed",
                 "-1", "--mode", "storm", "--gate", "nosuch", "--sim-minutes", "x",
                 "--set", "tail_age_ms=0700", "--profile", "../p", "--bogus")
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "unrecognized arguments: --bogus", "--iterations 0",
                          "--seed -1", "--mode 'storm'", "--gate 'nosuch'", "--sim-minutes x",
                          "tail_age_ms", "invalid profile name")
    assert len(result.err.splitlines()) == 8
    assert not (tmp_path / "a").exists()


def _readme_table(text: str, heading: str) -> dict[int, str]:
    """The first table of section ``heading``: code -> meaning."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    table = re.search(r"(?:^\|.*\n)+", section, flags=re.M)
    assert table, heading
    rows = re.findall(r"^\| `(\d+)` \| ([^|]+) \|", table.group(0), flags=re.M)
    return {int(code): meaning.strip() for code, meaning in rows}


def test_readme_and_errors_doc_say_what_the_code_says() -> None:
    wanted = {int(code): meaning for code, meaning in EXIT_CODE_MEANINGS.items()}
    for doc in (REPO / "README.md", REPO / "docs" / "ERRORS.md"):
        text = doc.read_text()
        assert _readme_table(text, "## Exit codes") == wanted, doc
        assert all(f"`{code}` | {meaning}" in text for code, meaning in
                   ROTATE_EXIT_CODES.items() if code in (1, 2)), doc


def test_every_command_help_lists_its_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in commands.choices:
        out = cli(name, "--help").out
        assert "exit codes:" in out and "130 " in out and "143 " in out, name


def test_a_command_started_with_stdout_closed_ends_without_a_traceback(tmp_path: Path) -> None:
    """``soakkit … >&-``: Python starts with ``sys.stdout`` None; the command's output is
    dropped, as Python's own ``print`` drops it, and nothing else fails."""
    import subprocess
    import sys

    done = subprocess.run(["sh", "-c", f'exec "{sys.executable}" -m soakkit config '
                           "list-profiles >&-"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120, check=False)
    assert (done.returncode, done.stderr) == (0, "")


def test_the_terminal_width_falls_back_like_shutil(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that replaced ``sys.__stdout__`` with an object without ``isatty`` (or one
    that raises) gets shutil's fallback of 80 columns, not an error while parsers build."""
    import sys

    from soakkit.cli._common import terminal_columns

    class NoIsatty:
        pass

    class Raises:
        def isatty(self) -> bool:
            raise OSError("bad")

    monkeypatch.delenv("COLUMNS", raising=False)
    for stream in (NoIsatty(), Raises(), None):
        monkeypatch.setattr(sys, "__stdout__", stream)
        assert terminal_columns() == 80
        assert "usage: soakkit" in build_parser().format_help()
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_columns() == 123
