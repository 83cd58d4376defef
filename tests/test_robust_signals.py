"""Issue 13, class 8: Ctrl-C and SIGTERM end every command with 130/143 and one line; no
``.partial`` folder survives; old ``.failed`` folders are pruned by the documented policy.

The signal is sent once the command is provably mid-work (a file it writes exists, or it
holds the lock file open), never after a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from soakkit.core.errors import ExitCode
from soakkit.core.locks import exclusive_lock, folder_lock
from soakkit.notebooks.folders import FAILED_KEEP, prune_failed, sweep_abandoned

from .conftest import subprocess_env

pytestmark = pytest.mark.slow  # signals to real processes mid-work (soaks, reports, sweeps)

NOW = "2026-11-24T12:00:00Z"
DAY = "2026-11-24"


def _start(*argv: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "soakkit", *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=subprocess_env({"SOAKKIT_NOW": NOW}))


def _when(ready: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Wait until ``ready()`` (the command is mid-work); fail if it ended first."""
    deadline = time.monotonic() + 240
    while not ready():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def _iterations(root: Path) -> list[Path]:
    return list(root.glob("runs/*/ITER_SUMMARY_*.json"))


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"),
                                                       (signal.SIGTERM, 143, "SIGTERM")])
def test_soak_stops_with_one_line_and_an_interrupted_run_that_resumes(
        tmp_path: Path, signum: int, code: int, name: str) -> None:
    art = tmp_path / "art"
    proc = _start("soak", "--iterations", "300", "--sim-minutes", "1", "--artifacts", str(art),
                  "--quiet", cwd=tmp_path)
    _when(lambda: len(_iterations(art)) >= 2, proc, "the second iteration")
    rc, out, err = _stop(proc, signum)
    assert rc == code, err
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"soakkit: interrupted ({name}): run ") and "--resume" in line
    [run_dir] = (art / "runs").iterdir()
    meta = json.loads((run_dir / "RUN.json").read_text())
    assert meta["status"] == "interrupted" and meta["interrupted_by"] == name
    assert meta["iterations_done"] == len(list(run_dir.glob("ITER_SUMMARY_*.json")))
    resumed = subprocess.run([sys.executable, "-m", "soakkit", "soak", "--resume", run_dir.name,
                              "--artifacts", str(art), "--quiet"], capture_output=True,
                             text=True, env=subprocess_env({"SOAKKIT_NOW": NOW}), check=False)
    assert resumed.returncode in (0, 1), resumed.stderr
    meta = json.loads((run_dir / "RUN.json").read_text())
    assert meta["status"] == "finished" and meta["iterations_done"] == 300


@pytest.mark.parametrize(("command", "signum", "code", "name"), [
    (["report", "soak", "-p", "iterations", "5000", "-p", "sim_minutes", "1"], signal.SIGTERM,
     143, "SIGTERM"),
    # the demo's baseline runs first, in the demo's own process; the soak report's kernel
    # then runs the tuned run, which is interrupted there
    (["demo", "--iterations", "40"], signal.SIGINT, 130, "SIGINT"),
])
def test_reports_stop_without_kernel_noise_and_keep_a_failed_folder(
        tmp_path: Path, command: list[str], signum: int, code: int, name: str) -> None:
    art = tmp_path / "artifacts" / "soak"
    argv = [*command, "-p", "artifacts", str(art), "--out", str(tmp_path / "reports")] \
        if command[0] == "report" else command
    proc = _start(*argv, cwd=tmp_path)
    _when(lambda: bool(list(art.glob("runs/*-tuned/ITER_SUMMARY_*.json"))), proc,
          "the kernel's first soak iteration")
    rc, _, err = _stop(proc, signum)
    assert rc == code, err
    assert err == f"soakkit: interrupted ({name})\n"  # no ZMQError, no DeadKernelError
    reports = tmp_path / "reports"
    assert not list(reports.glob("*/*.partial"))
    [failed] = reports.glob("*/soak-*.failed")
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["error"]["evalue"] == f"interrupted by {name}"
    assert "interrupted" in (tmp_path / "reports" / "index.html").read_text()
    # the kernel was interrupted before it was shut down: its soak says so too
    [run] = (art / "runs").glob("*-tuned")
    assert json.loads((run / "RUN.json").read_text())["status"] == "interrupted"


def test_a_cell_timeout_is_one_line(tmp_path: Path) -> None:
    art = tmp_path / "art"
    proc = subprocess.run([sys.executable, "-m", "soakkit", "report", "soak", "-p", "iterations",
                           "5000", "-p", "sim_minutes", "1", "-p", "artifacts", str(art),
                           "--out", str(tmp_path / "r"), "--cell-timeout", "1"],
                          capture_output=True, text=True, check=False,
                          env=subprocess_env({"SOAKKIT_NOW": NOW}))
    assert proc.returncode == ExitCode.TIMEOUT, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("soakkit: error: report soak failed (timeout)")
    assert not list((tmp_path / "r").rglob("*.partial"))


def test_rotate_stops_while_waiting_for_the_lock(tmp_path: Path) -> None:
    (tmp_path / "rotation").mkdir()
    lock = tmp_path / "rotation" / ".lock"
    with exclusive_lock(lock, "test"):
        proc = _start("rotate", "--path", str(tmp_path), "--wait-lock", "600", cwd=tmp_path)

        def waiting() -> bool:
            fds = Path(f"/proc/{proc.pid}/fd")
            try:
                return any(os.readlink(fd) == str(lock) for fd in fds.iterdir())
            except OSError:
                return False
        _when(waiting, proc, "rotate opened the lock")
        rc, out, err = _stop(proc, signal.SIGTERM)
    assert rc == 143
    assert err == "soakkit: interrupted (SIGTERM)\n" and out == ""


def _report_folder(out: Path, name: str, stamp: str, suffix: str) -> Path:
    folder = out / DAY / f"{name}-{stamp}-0000abcd{suffix}"
    folder.mkdir(parents=True)
    (folder / "report.ipynb").write_text("{}")
    return folder


def test_abandoned_partials_are_swept_and_old_failures_pruned(tmp_path: Path) -> None:
    failed = [_report_folder(tmp_path, "kpi", f"20261124T12{m:02d}00Z", ".failed")
              for m in range(FAILED_KEEP + 2)]
    disk = _report_folder(tmp_path, "disk", "20261124T110000Z", ".failed")
    good = _report_folder(tmp_path, "kpi", "20261124T100000Z", "")
    abandoned = _report_folder(tmp_path, "soak", "20261124T130000Z", ".partial")
    live = _report_folder(tmp_path, "soak", "20261124T140000Z", ".partial")
    with folder_lock(live):  # a report still being written by a live process
        [swept] = sweep_abandoned(tmp_path)
        assert live.exists()
    assert swept.name == abandoned.name.replace(".partial", ".failed")
    manifest = json.loads((swept / "manifest.json").read_text())
    assert manifest["status"] == "abandoned" and manifest["name"] == "soak"
    assert "stopped before it finished" in manifest["error"]["evalue"]
    removed = prune_failed(tmp_path)
    assert sorted(removed) == sorted(failed[:2])  # the oldest kpi failures beyond 5
    assert all(p.exists() for p in [*failed[2:], disk, good, swept, live])


@pytest.mark.slow
def test_sweep_stops_on_sigterm_with_143(tmp_path: Path) -> None:
    """SIGTERM to a sweep's client (a scheduler stopping the job): the sweep ends as
    interrupted with 143, no traceback; its stored batches stay for the rerun."""
    from soakkit.artifacts.layout import SWEEP_PART_RE

    art = tmp_path / "a"
    proc = _start("sweep", "--profiles", "steady_safe", "--modes", "volatile", "--seeds", "1-60",
                  "--tune", "off", "--iterations", "2", "--sim-minutes", "2", "--batch-size",
                  "2", "--workers", "1", "--artifacts", str(art), "--now", NOW, cwd=tmp_path)
    _when(lambda: any(SWEEP_PART_RE.match(p.name) for p in art.glob("sweeps/sw-*/*")), proc,
          "the first stored batch")
    code, out, err = _stop(proc, signal.SIGTERM)
    assert code == ExitCode.SIGTERM, (out, err)
    assert "Traceback" not in err
    assert ": interrupted, 60 cells: 0 done earlier" in out
    assert "rerun the same command to run the missing cells" in out
