"""Artifact rotation: policy and reasons, the adversarial cases R1–R20, fidelity, determinism."""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from soakkit.catalog import load_catalog
from soakkit.core.errors import LockedError, RotationError
from soakkit.core.io import canonical_json
from soakkit.core.locks import exclusive_lock
from soakkit.rotation import RotationPolicy, plan_rotation, rotate
from soakkit.rotation import apply as apply_module
from soakkit.rotation import scan as scan_module
from soakkit.rotation.policy import LOG_MAX_BYTES

from .conftest import run_subprocess
from .rotation_helpers import (
    DAY,
    NOW,
    NOW_ISO,
    assert_nothing_lost,
    make_tree,
    snapshot,
    stamp,
    write,
)

POLICY = RotationPolicy(keep_latest=5, ttl_days=7.0)


def reasons(root: Path, policy: RotationPolicy = POLICY, now=NOW) -> dict[str, str]:  # type: ignore[no-untyped-def]
    plan = plan_rotation(root, policy, now)
    return {d.path: d.reason for d in plan.decisions(include_keep=True)}


def test_policy_reasons_on_a_soak_tree(tmp_path: Path) -> None:
    make_tree(tmp_path)
    r = reasons(tmp_path)
    assert r["runs/r1/ITER_SUMMARY_30.json"] == "keep:latest(rank=1/5)"
    assert r["runs/r1/ITER_SUMMARY_26.json"] == "keep:latest(rank=5/5)"
    assert r["runs/r1/ITER_SUMMARY_25.json"] == "delete:beyond_keep_latest(rank=6/5)"
    assert r["latest/ITER_SUMMARY_7.json"] == "delete:beyond_keep_latest(rank=6/5)"  # legacy folder
    assert r["runs/r1/iterations.jsonl"] == "history:preserve(iterations=25)"
    assert r["snapshots/snap_2.json"] == "compress:older_than_ttl(age_d=8.0)"
    assert r["snapshots/snap_1.json"] == "keep:younger_than_ttl(age_d=5.0)"
    assert r["runs/r1/RUN.json"] == "keep:protected"
    assert r["runs/r1/runtime_overrides.json"] == "keep:protected"
    assert r["profiles/mine.json"] == "keep:protected_dir"


def test_real_run_keeps_history_and_the_catalog_still_has_every_iteration(tmp_path: Path) -> None:
    originals = make_tree(tmp_path)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.exit_code == 0, result.record["errors"]
    assert_nothing_lost(tmp_path, originals)
    assert sorted(p.name for p in (tmp_path / "runs/r1").glob("ITER_SUMMARY_*")) == [
        f"ITER_SUMMARY_{n}.json" for n in (26, 27, 28, 29, 30)]
    catalog = load_catalog(tmp_path)
    assert catalog.problems == ()
    per_run = {r: catalog.frame.filter(catalog.frame["run_id"] == r)["iteration"].to_list()
               for r in ("r1", "r2", "legacy-latest")}
    assert per_run == {"r1": list(range(1, 31)), "r2": list(range(1, 9)),
                       "legacy-latest": list(range(1, 13))}
    again = rotate(tmp_path, POLICY, now=NOW + timedelta(seconds=1))
    assert [a for a in again.record["actions"] if a["phase"] != "skip"] == []


def test_r1_symlinked_iter_summary_is_never_followed(tmp_path: Path) -> None:
    make_tree(tmp_path, runs={"runs/r1": 8}, snapshots=0)
    target = tmp_path.parent / "outside.json"
    target.write_text("secret")
    os.symlink(target, tmp_path / "runs/r1/ITER_SUMMARY_100.json")
    assert reasons(tmp_path)["runs/r1/ITER_SUMMARY_100.json"] == "skip:symlink"
    assert reasons(tmp_path)["runs/r1/ITER_SUMMARY_8.json"] == "keep:latest(rank=1/5)"
    rotate(tmp_path, RotationPolicy(keep_latest=1, ttl_days=0.0), now=NOW)
    assert target.read_text() == "secret"
    assert os.path.islink(tmp_path / "runs/r1/ITER_SUMMARY_100.json")


def test_r2_symlinked_folder_is_not_traversed(tmp_path: Path) -> None:
    outside = tmp_path.parent / "elsewhere"
    write(outside / "ITER_SUMMARY_1.json", b"{}", 30)
    os.symlink(outside, tmp_path / "snapshots")
    os.symlink("/", tmp_path / "root_link")
    r = reasons(tmp_path, RotationPolicy(keep_latest=1, ttl_days=0.0))
    assert r == {"snapshots": "skip:symlink", "root_link": "skip:symlink"}


def test_r3_file_swapped_for_symlink_after_planning(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, runs={"runs/r1": 8})
    secret = tmp_path.parent / "secret.json"
    secret.write_text("do not touch")
    real_plan = apply_module.plan_rotation

    def plan_then_swap(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real_plan(*args, **kwargs)
        for rel in ("snapshots/snap_3.json", "runs/r1/ITER_SUMMARY_1.json"):
            (tmp_path / rel).unlink()
            os.symlink(secret, tmp_path / rel)
        return plan

    monkeypatch.setattr(apply_module, "plan_rotation", plan_then_swap)
    result = rotate(tmp_path, POLICY, now=NOW)
    got = {a["path"]: a["result"] for a in result.record["actions"]}
    assert got["snapshots/snap_3.json"].startswith("skipped:changed")
    assert got["runs/r1/ITER_SUMMARY_1.json"] == "skipped:changed"
    assert secret.read_text() == "do not touch"


def test_r4_hard_linked_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "snapshots/a.json", b"{}" * 100, 30)
    os.link(tmp_path / "snapshots/a.json", tmp_path / "snapshots/b.json")
    assert reasons(tmp_path)["snapshots/a.json"] == "skip:multi_link(nlink=2)"
    rotate(tmp_path, POLICY, now=NOW)
    assert (tmp_path / "snapshots/a.json").exists() and (tmp_path / "snapshots/b.json").exists()


def test_r5_other_filesystem_is_not_entered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "mnt/ITER_SUMMARY_1.json", b"{}", 30)
    write(tmp_path / "snapshots/a.json", b"x" * 500, 30)
    real_scandir = os.scandir

    class Entry:
        def __init__(self, entry: os.DirEntry[str]) -> None:
            self._e = entry
            self.name, self.path = entry.name, entry.path

        def stat(self, follow_symlinks: bool = True):  # type: ignore[no-untyped-def]
            st = self._e.stat(follow_symlinks=follow_symlinks)
            if self.name != "mnt":
                return st
            fields = ("st_mode", "st_size", "st_blocks", "st_mtime_ns", "st_nlink", "st_ino")
            return SimpleNamespace(**{f: getattr(st, f) for f in fields}, st_dev=st.st_dev + 1)

    class Listing:
        def __init__(self, path: str) -> None:
            self._it = real_scandir(path)

        def __iter__(self):  # type: ignore[no-untyped-def]
            return (Entry(e) for e in self._it)

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self._it.close()

    monkeypatch.setattr(scan_module.os, "scandir", Listing)
    r = reasons(tmp_path)
    assert r["mnt"] == "skip:other_device"
    assert "mnt/ITER_SUMMARY_1.json" not in r


def test_r6_second_rotation_is_locked_or_waits(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    make_tree(tmp_path, runs={"runs/r1": 3}, snapshots=1)
    (tmp_path / "rotation").mkdir()
    with exclusive_lock(tmp_path / "rotation/.lock", "test"):
        with pytest.raises(LockedError):
            rotate(tmp_path, POLICY, now=NOW)
        result = cli("rotate", "--path", str(tmp_path))
        assert result.code == 1 and "locked" in result.err
    holder = threading.Thread(target=_hold, args=(tmp_path / "rotation/.lock", 0.4))
    holder.start()
    time.sleep(0.1)
    assert rotate(tmp_path, POLICY, now=NOW, wait_lock=5.0).exit_code == 0
    holder.join()


def _hold(path: Path, seconds: float) -> None:
    with exclusive_lock(path, "holder"):
        time.sleep(seconds)


def test_r8_future_mtime_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "snapshots/future.json", b"x" * 300, -3)  # 3 days ahead
    write(tmp_path / "snapshots/slightly.json", b"x" * 300, -100 / DAY)  # 100 s ahead: tolerated
    r = reasons(tmp_path, RotationPolicy(keep_latest=5, ttl_days=0.0))
    assert r["snapshots/future.json"] == "keep:future_mtime(ahead_s=259200)"
    assert r["snapshots/slightly.json"].startswith("keep:younger_than_ttl")


def test_r9_clock_going_backwards_is_reported(tmp_path: Path) -> None:
    make_tree(tmp_path, runs={}, snapshots=2)
    rotate(tmp_path, POLICY, now=NOW)
    result = rotate(tmp_path, POLICY, now=NOW - timedelta(days=1))
    assert any("clock went backwards" in w for w in result.record["warnings"])
    assert [a for a in result.record["actions"] if a["action"] == "delete"] == []


def test_r10_numeric_order_and_non_canonical_names(tmp_path: Path) -> None:
    folder = tmp_path / "runs/r"
    for name in ("ITER_SUMMARY_9.json", "ITER_SUMMARY_10.json", "ITER_SUMMARY_100.json",
                 "ITER_SUMMARY_7.json", "ITER_SUMMARY_007.json", "ITER_SUMMARY_-1.json",
                 "ITER_SUMMARY_3.JSON", "ITER_SUMMARY_2.json.bak",
                 "ITER_SUMMARY_99999999999999999999.json", "ITER_SUMMARY_1.json"):
        write(folder / name, b'{"iteration": 1}', 1)
    r = reasons(tmp_path, RotationPolicy(keep_latest=2, ttl_days=30.0))
    assert r["runs/r/ITER_SUMMARY_100.json"] == "keep:latest(rank=1/2)"
    assert r["runs/r/ITER_SUMMARY_10.json"] == "keep:latest(rank=2/2)"
    for n, rank in ((9, 3), (7, 4), (1, 5)):
        assert r[f"runs/r/ITER_SUMMARY_{n}.json"] == f"delete:beyond_keep_latest(rank={rank}/2)"
    for odd in ("007.json", "-1.json", "3.JSON", "2.json.bak", "99999999999999999999.json"):
        assert not r[f"runs/r/ITER_SUMMARY_{odd}"].startswith("delete"), odd
    plan = plan_rotation(tmp_path, RotationPolicy(keep_latest=2, ttl_days=30.0), NOW)
    deletes = [d.path for d in plan.decisions() if d.phase == "delete"]
    assert deletes == ["runs/r/ITER_SUMMARY_1.json", "runs/r/ITER_SUMMARY_7.json",
                       "runs/r/ITER_SUMMARY_9.json"]


def test_r11_odd_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    odd = [b"bad\xff\xfename.json", b"new\nline.json", b"x" * 246 + b".json"]
    for raw in odd:
        path = os.path.join(os.fsencode(folder), raw)
        with open(path, "wb") as fh:
            fh.write(b"y" * 400)
        t = NOW.timestamp() - 30 * DAY
        os.utime(path, (t, t))
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.exit_code == 0, result.record["errors"]
    log = (tmp_path / "rotation/ROTATION_LOG.jsonl").read_bytes()
    assert log.count(b"\n") == 1  # one record, one line
    record = json.loads(log)
    b64 = [a for a in record["actions"] if "path_b64" in a]
    assert len(b64) == 1 and a_decoded(b64[0]) == b"snapshots/bad\xff\xfename.json"
    assert all(os.path.exists(os.path.join(os.fsencode(folder), raw + b".gz")) for raw in odd)
    longest = b"y" * 250 + b".json"  # 255 bytes: no room for ".gz"
    with open(os.path.join(os.fsencode(folder), longest), "wb") as fh:
        fh.write(b"z" * 400)
    os.utime(os.path.join(os.fsencode(folder), longest), (0, 0))
    r = reasons(tmp_path)
    assert r[os.fsdecode(b"snapshots/" + longest)] == "keep:name_too_long_to_compress"


def a_decoded(action: dict[str, str]) -> bytes:
    import base64

    return base64.b64decode(action["path_b64"])


def test_r12_permission_error_is_reported_and_others_continue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    originals = make_tree(tmp_path, runs={"runs/r1": 8}, snapshots=0)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == "ITER_SUMMARY_2.json":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(apply_module.os, "unlink", unlink)
    result = rotate(tmp_path, POLICY, now=NOW)
    assert result.exit_code == 1
    assert result.record["errors"] == ["runs/r1/ITER_SUMMARY_2.json: error:EACCES"]
    assert (tmp_path / "runs/r1/ITER_SUMMARY_2.json").exists()
    assert not (tmp_path / "runs/r1/ITER_SUMMARY_3.json").exists()
    assert_nothing_lost(tmp_path, originals)


@pytest.mark.parametrize("kind", ["missing", "file", "symlink"])
def test_r13_bad_root(tmp_path: Path, cli, kind: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    if kind == "file":
        root.write_text("x")
    elif kind == "symlink":
        (tmp_path / "real").mkdir()
        os.symlink(tmp_path / "real", root)
    result = cli("rotate", "--path", str(root))
    assert result.code == 1
    expected = {"missing": "no such directory", "file": "not a directory",
                "symlink": "is a symlink"}[kind]
    assert expected in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    with pytest.raises(RotationError):
        rotate(root, POLICY, now=NOW)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--keep-latest", "0"], "--allow-delete-all"),
     (["--keep-latest", "-1"], "--keep-latest: -1: expected a value 0..1000000000"),
     (["--keep-latest", "1.5"], "expected an integer, got '1.5'"),
     (["--keep-latest", "nan"], "expected an integer, got 'nan'"),
     (["--keep-latest", str(10**20)], "--keep-latest"),
     (["--ttl-days", "-1"], "expected a value 0..36500"),
     (["--ttl-days", "nan"], "finite"), (["--ttl-days", "inf"], "finite"),
     (["--max-size-mb", "0"], "> 0"), (["--max-size-mb", "-5"], "> 0"),
     (["--delete-to-budget"], "needs --max-size-mb"), (["--now", "noon"], "--now")],
)
def test_r14_bad_arguments_exit_1(tmp_path: Path, cli, args: list[str], fragment: str) -> None:  # type: ignore[no-untyped-def]
    make_tree(tmp_path, runs={"runs/r1": 3}, snapshots=1)
    before = snapshot(tmp_path)
    result = cli("rotate", "--path", str(tmp_path), *args)
    assert result.code == 1, result.err
    assert fragment in result.err and "Traceback" not in result.err
    assert snapshot(tmp_path) == before
    assert cli("rotate", "--path", str(tmp_path), "--keep-latest", "0", "--allow-delete-all",
               "--dry-run", "--now", NOW_ISO).code == 0


def test_r15_ttl_boundary_is_inclusive(tmp_path: Path) -> None:
    write(tmp_path / "snapshots/exact.json", b"x" * 300, 7.0)
    write(tmp_path / "snapshots/under.json", b"x" * 300, 7.0 - 1 / DAY)
    write(tmp_path / "snapshots/over.json", b"x" * 300, 7.0 + 1 / DAY)
    r = reasons(tmp_path)
    assert r["snapshots/exact.json"].startswith("compress:older_than_ttl")
    assert r["snapshots/over.json"].startswith("compress:older_than_ttl")
    assert r["snapshots/under.json"].startswith("keep:younger_than_ttl")


def _without_results(record: dict) -> dict:  # type: ignore[type-arg]
    actions = [{k: v for k, v in a.items() if k != "result"} for a in record["actions"]]
    return {**{k: v for k, v in record.items()
               if k not in ("dry_run", "after", "after_is_projection", "over_budget", "status",
                            "actions")}, "actions": actions}


def test_r16_dry_run_fidelity_and_no_change(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    make_tree(tmp_path)
    before = snapshot(tmp_path)
    dry = rotate(tmp_path, POLICY, now=NOW, dry_run=True)
    assert snapshot(tmp_path) == before  # names, sizes, mtimes: and no rotation/ folder
    out = cli("rotate", "--path", str(tmp_path), "--dry-run", "--keep-latest", "5",
              "--now", "2026-11-24T12:00:00Z")
    assert out.code == 0 and "would delete" in out.out and snapshot(tmp_path) == before
    real = rotate(tmp_path, POLICY, now=NOW)
    assert _without_results(dry.record) == _without_results(real.record)
    assert all(a["result"].startswith("done") for a in real.record["actions"]
               if a["phase"] != "skip")


@pytest.mark.determinism
def test_r17_same_tree_same_now_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a)
    make_tree(b, reverse=True)
    rotate(a, POLICY, now=NOW)
    rotate(b, POLICY, now=NOW)
    la = (a / "rotation/ROTATION_LOG.jsonl").read_bytes()
    lb = (b / "rotation/ROTATION_LOG.jsonl").read_bytes()
    assert la == lb
    assert (a / "rotation/MANIFEST.jsonl").read_bytes() == (b / "rotation/MANIFEST.jsonl").read_bytes()
    assert canonical_json(json.loads(la), compact=True).encode() == la


def test_r18_budget_on_allocated_bytes(tmp_path: Path) -> None:
    make_tree(tmp_path, runs={"runs/r1": 4}, snapshots=0)
    with open(tmp_path / "sparse.bin", "wb") as fh:  # 64 MiB apparent, ~0 allocated
        fh.truncate(64 * 1024 * 1024)
    stamp(tmp_path / "sparse.bin", 1.0)
    plan = plan_rotation(tmp_path, POLICY, NOW)
    assert plan.before.apparent_bytes > 64 * 1024 * 1024 > plan.before.allocated_bytes
    allocated = plan.before.allocated_bytes
    at_limit = rotate(tmp_path, RotationPolicy(keep_latest=5, max_size_mb=allocated / 1048576),
                      now=NOW)
    assert at_limit.exit_code == 0 and not at_limit.record["over_budget"]
    over = rotate(tmp_path, RotationPolicy(keep_latest=5, max_size_mb=0.001), now=NOW)
    assert over.exit_code == 2 and over.record["status"] == "over_budget"
    assert (tmp_path / "runs/r1/ITER_SUMMARY_1.json").exists()  # never deleted by default


def test_r18_delete_to_budget_is_opt_in_and_oldest_first(tmp_path: Path) -> None:
    for k in range(4):
        write(tmp_path / f"snapshots/s{k}.json.gz", os.urandom(20_000), 10 + k)
    policy = RotationPolicy(keep_latest=5, max_size_mb=0.05, delete_to_budget=True)
    result = rotate(tmp_path, policy, now=NOW)
    deleted = {a["path"] for a in result.record["actions"] if a["phase"] == "budget"}
    assert deleted == {"snapshots/s3.json.gz", "snapshots/s2.json.gz"}  # the two oldest
    assert (tmp_path / "snapshots/s0.json.gz").exists() and (tmp_path / "snapshots/s1.json.gz").exists()
    assert result.exit_code == 0


def test_lines_rendered_while_scanning_are_those_of_the_final_plan(tmp_path: Path) -> None:
    """The scan's processes render the dry-run lines while they plan; a decision changed
    afterwards (``--delete-to-budget``) is rendered again, never printed stale."""
    make_tree(tmp_path)
    for k in range(4):
        write(tmp_path / f"snapshots/s{k}.json.gz", os.urandom(20_000), 10 + k)
    budget = RotationPolicy(keep_latest=5, max_size_mb=0.05, delete_to_budget=True)
    for policy in (POLICY, budget):
        ahead = plan_rotation(tmp_path, policy, NOW, render=True).dry_run_lines()
        assert ahead == plan_rotation(tmp_path, policy, NOW).dry_run_lines()
    budget_lines = [line.split()[2:] for line in ahead.splitlines() if "over_budget" in line]
    assert budget_lines == [[f"snapshots/s{k}.json.gz", "delete:over_budget(oldest_compressed)"]
                            for k in range(4)]  # decided after the scan rendered its lines


def test_r19_unwritable_log_stops_before_any_action(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    make_tree(tmp_path)
    (tmp_path / "rotation/ROTATION_LOG.jsonl").mkdir(parents=True)
    before = snapshot(tmp_path)
    result = cli("rotate", "--path", str(tmp_path), "--keep-latest", "5")
    assert result.code == 1 and "cannot write rotation log" in result.err
    after = snapshot(tmp_path)
    after.pop("rotation/.lock")  # rotation's own lock file is the only new entry
    assert after == before


def test_r20_protected_files_are_never_touched(tmp_path: Path) -> None:
    for rel in ("runs/r/runtime_overrides.json", "runs/r/RUN.json", "runs/r/TUNING_REPORT.json",
                "profiles/p.json", "rotation/notes.json", "runtime_overrides.json",
                ".hidden.json"):
        write(tmp_path / rel, b"z" * 500, 400)
    before = snapshot(tmp_path)
    result = rotate(tmp_path, RotationPolicy(keep_latest=1, ttl_days=0.0), now=NOW)
    after = snapshot(tmp_path)
    for rel, meta in before.items():
        assert after[rel] == meta, rel
    assert result.record["actions"] == []


def test_active_run_is_never_touched(tmp_path: Path) -> None:
    make_tree(tmp_path, runs={"runs/live": 20, "runs/done": 20}, snapshots=0)
    (tmp_path / "runs/live/.run.lock").touch()
    with exclusive_lock(tmp_path / "runs/live/.run.lock", "soak run"):
        r = reasons(tmp_path)
        assert r["runs/live/ITER_SUMMARY_1.json"] == "keep:active_run"
        assert r["runs/done/ITER_SUMMARY_1.json"].startswith("delete")
        rotate(tmp_path, POLICY, now=NOW)
    assert len(list((tmp_path / "runs/live").glob("ITER_SUMMARY_*.json"))) == 20


def test_log_rotates_itself_by_size(tmp_path: Path) -> None:
    make_tree(tmp_path, runs={}, snapshots=1)
    (tmp_path / "rotation").mkdir()
    (tmp_path / "rotation/ROTATION_LOG.jsonl").write_bytes(b"{}\n" * (LOG_MAX_BYTES // 3 + 1))
    rotate(tmp_path, POLICY, now=NOW)
    assert (tmp_path / "rotation/ROTATION_LOG.jsonl.1").stat().st_size > LOG_MAX_BYTES - 3
    assert (tmp_path / "rotation/ROTATION_LOG.jsonl").read_bytes().count(b"\n") == 1


def test_legacy_spelling_and_json_output(tmp_path: Path) -> None:
    make_tree(tmp_path)
    legacy = run_subprocess("-c", "pass")  # warm the interpreter cache
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "soakkit.rotation", "--path", str(tmp_path),
                           "--ttl-days", "7", "--max-size-mb", "900", "--keep-latest", "100",
                           "--dry-run"], capture_output=True, text=True, check=False,
                          env={**os.environ, "SOAKKIT_NOW": NOW_ISO})
    assert proc.returncode == 0, proc.stderr
    assert "dry run: nothing changed" in proc.stdout and "within budget" in proc.stdout
    out = run_subprocess("rotate", "--path", str(tmp_path), "--json", "--keep-latest", "5",
                         "--now", NOW_ISO)
    record = json.loads(out.out)
    assert record["status"] == "ok" and record["now"] == "2026-11-24T12:00:00.000Z"
    del legacy


_HEAVY = ("polars", "matplotlib", "nbformat", "nbconvert", "papermill", "pandas", "jupyter_client",
          "IPython", "orjson", "multiprocessing")


def _imported_by(tmp_path: Path, *argv: str) -> list[str]:
    code = ("import sys\nfrom soakkit.cli import main\n"
            f"code = main({list(argv)!r})\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {_HEAVY!r}))\n")
    done = run_subprocess_code(code, tmp_path)
    return json.loads(done.replace("'", '"'))


def run_subprocess_code(code: str, cwd: Path) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_light_commands_do_not_import_the_heavy_libraries(tmp_path: Path) -> None:
    """`soakkit rotate` (and the legacy spelling) and `soakkit --help` start fast: they never
    import polars, matplotlib, the notebook stack or multiprocessing (behaviour, not timing)."""
    make_tree(tmp_path / "tree")
    tree = str(tmp_path / "tree")
    assert _imported_by(tmp_path, "rotate", "--path", tree, "--dry-run", "--now", NOW_ISO) == []
    assert _imported_by(tmp_path, "rotate", "--path", tree, "--now", NOW_ISO) == []
    assert _imported_by(tmp_path, "--help") == []
    (tmp_path / "empty").mkdir()  # the legacy spelling has no --now: a tree without ages
    legacy = run_subprocess_code(
        "import sys\nfrom soakkit.cli.rotate import legacy_main\n"
        f"legacy_main(['--path', {str(tmp_path / 'empty')!r}, '--dry-run'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {_HEAVY!r}))", tmp_path)
    assert legacy == "[]"
    help_imports = run_subprocess_code(
        "import sys\nfrom soakkit.cli import main\nmain(['--help'])\n"
        "print('numpy' in sys.modules)", tmp_path)
    assert help_imports == "False"
    masked = run_subprocess_code(  # np.unique's first call would import numpy.ma (~10 ms)
        "import sys\nfrom soakkit.cli import main\n"
        f"main(['rotate', '--path', {tree!r}, '--dry-run', '--now', {NOW_ISO!r}])\n"
        "print('numpy.ma' in sys.modules)", tmp_path)
    assert masked == "False"


def test_syncfs_is_trusted_only_where_it_reports_write_back_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux reports write-back errors through ``syncfs`` since 5.8: older kernels, other
    systems and a libc without it get an fsync per temp instead."""
    import platform

    from soakkit.rotation import syscalls

    assert syscalls._kernel_release("6.18.44-fc-v1300") == (6, 18)
    assert syscalls._kernel_release("5.8.0") >= syscalls.SYNCFS_ERRORS_SINCE
    assert syscalls._kernel_release("5.7.19-generic") < syscalls.SYNCFS_ERRORS_SINCE
    assert syscalls._kernel_release("weird") == (0, 0)
    release = syscalls._kernel_release(platform.release())
    assert syscalls.syncfs_reports_errors() == (
        platform.system() == "Linux" and release >= syscalls.SYNCFS_ERRORS_SINCE)
    fd = os.open(os.getcwd(), os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syscalls.syncfs_reports_errors():
            syscalls.syncfs(fd)
        syscalls.syncfs_reports_errors.cache_clear()
        monkeypatch.setattr(syscalls, "_function", lambda name: None)
        assert not syscalls.syncfs_reports_errors()
        with pytest.raises(OSError):
            syscalls.syncfs(fd)
    finally:
        os.close(fd)
        syscalls.syncfs_reports_errors.cache_clear()


def test_syncfs_is_trusted_only_on_filesystems_whose_syncfs_writes_the_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FUSE server without FUSE_SYNCFS (sshfs) answers ``syncfs`` with 0 and writes
    nothing, and network filesystems are no better: only the local filesystems of
    ``SYNCFS_FILESYSTEMS`` skip the fsync per temp."""
    from soakkit.rotation import syscalls

    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        magic = syscalls.filesystem_magic(fd)
        assert magic is not None and magic > 0  # this machine's fstatfs answers
        assert syscalls.syncfs_covers(fd) == (syscalls.syncfs_reports_errors()
                                             and magic in syscalls.SYNCFS_FILESYSTEMS)
        proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert syscalls.filesystem_magic(proc) == 0x9FA0  # procfs: known, not trusted
            assert not syscalls.syncfs_covers(proc)
        finally:
            os.close(proc)
        for fuse_or_nfs in (0x65735546, 0x6969):
            monkeypatch.setattr(syscalls, "filesystem_magic", lambda fd, m=fuse_or_nfs: m)
            assert not syscalls.syncfs_covers(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("kernel_renames", [True, False])
def test_publishing_a_temp_never_clobbers(tmp_path: Path, kernel_renames: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``renameat2(RENAME_NOREPLACE)`` (or ``link`` + ``unlink`` where the kernel or the
    filesystem lacks it) publishes the temp in one step and refuses an existing name."""
    from soakkit.rotation import syscalls

    if not kernel_renames:
        monkeypatch.setattr(syscalls, "_function", lambda name: None)
    (tmp_path / ".a.gz.tmp").write_bytes(b"new")
    (tmp_path / "b.gz").write_bytes(b"old")
    (tmp_path / ".b.gz.tmp").write_bytes(b"other")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syscalls.rename_noreplace(fd, ".a.gz.tmp", "a.gz")
        with pytest.raises(FileExistsError):
            syscalls.rename_noreplace(fd, ".b.gz.tmp", "b.gz")
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.gz.tmp", "a.gz", "b.gz"]
    assert (tmp_path / "a.gz").read_bytes() == b"new"
    assert (tmp_path / "b.gz").read_bytes() == b"old"


def test_a_tree_planned_in_two_processes_is_the_tree_planned_in_one(tmp_path: Path) -> None:
    """The scan's second process sends its folders' plans back pickled (names packed in one
    string): every decision, every printed line and every log entry is the same as one
    process's, odd names included (not UTF-8, a temp leftover, ``X`` next to ``X.gz``)."""
    make_tree(tmp_path, runs={f"runs/r{k}": 8 for k in range(40)})  # enough folders to share
    odd = tmp_path / "runs" / "r7"
    write(odd / os.fsdecode(b"caf\xff.json"), b"{}" * 300, 9)
    write(odd / ".ITER_SUMMARY_2.json.soakkit-tmp", b"x", 9)
    write(odd / "notes.json", b"n" * 700, 9)
    write(odd / "notes.json.gz", b"\x1f\x8b" + b"\0" * 40, 9)
    code = (
        "import os\nos.environ['OPENBLAS_NUM_THREADS'] = '1'\n"
        "from datetime import datetime\nfrom pathlib import Path\n"
        "from soakkit.rotation import RotationPolicy, plan_rotation\n"
        "from soakkit.rotation.workers import can_fork\n"
        "assert can_fork()\nforks = []\nfork = os.fork\n"
        "os.fork = lambda: forks.append(1) or fork()\n"
        f"now = datetime.fromisoformat({NOW.isoformat()!r})\n"
        f"root, policy = Path({str(tmp_path)!r}), RotationPolicy(keep_latest=5, ttl_days=7.0)\n"
        "one = plan_rotation(root, policy, now, jobs=1)\n"
        "assert not forks\n"
        "two = plan_rotation(root, policy, now, jobs=2, render=True)\n"
        "assert forks == [1]\n"
        "assert two.dry_run_lines() == one.dry_run_lines()\n"
        "assert two.actions() == one.actions()\n"
        "assert list(two.decisions(include_keep=True)) == list(one.decisions(include_keep=True))\n"
        "print(len(one.actions()), sum('caf' in a['path'] for a in one.actions()))\n")
    actions, odd_actions = run_subprocess_code(code, tmp_path).split()
    assert int(actions) > 40 * 3 and int(odd_actions) == 1  # 3 deletions a run, and the odd name


_SUMMARY_LINE = re.compile(r"^  would (\w+) +(\d+) files? +([\d.]+ (?:B|KiB|MiB|GiB|TiB))  (\S+/)  "
                           r"(\S+)$")
_LISTED_LINE = re.compile(r"^  would (\w+) +(\S+)  (\S+)$")


def test_dry_run_prints_a_summary_and_list_prints_every_line(tmp_path: Path, cli, capsys,  # type: ignore[no-untyped-def]
                                                             monkeypatch) -> None:
    """`--dry-run` counts the actions per folder and reason (files and bytes, like
    `restic forget --dry-run`); `--list` prints every one; both spellings take `--list`,
    the rest of the output is the same, and the summary counts exactly what the list lists."""
    from collections import Counter

    from soakkit.cli.rotate import legacy_main
    from soakkit.rotation.actions import human_bytes

    make_tree(tmp_path)
    before = snapshot(tmp_path)
    args = ("rotate", "--path", str(tmp_path), "--dry-run", "--keep-latest", "5", "--now",
            NOW_ISO)
    summary, listed = cli(*args), cli(*args, "--list")
    assert summary.code == listed.code == 0 and snapshot(tmp_path) == before
    listed_lines = [line for line in listed.out.splitlines() if line.startswith("  would ")]
    plan = plan_rotation(tmp_path, POLICY, NOW)
    assert "".join(line + "\n" for line in listed_lines) == plan.dry_run_lines()
    counted: Counter[tuple[str, str, str]] = Counter()
    sizes: Counter[tuple[str, str, str]] = Counter()
    for phase, verb, path, reason, size in plan.acting():
        if phase != "history":
            key = (verb, path.rsplit("/", 1)[0] + "/" if "/" in path else "./",
                   reason.split("(")[0])
            counted[key] += 1
            sizes[key] += size
    shown: dict[tuple[str, str, str], tuple[int, str]] = {}
    for line in summary.out.splitlines():
        if (m := _SUMMARY_LINE.match(line)) is not None:
            shown[(m[1], m[4], m[5])] = (int(m[2]), m[3])
        elif line.startswith("  would "):  # the iteration logs to complete, one per folder
            m = _LISTED_LINE.match(line)
            assert m and m[1] == "preserve" and line in listed_lines
    assert shown == {key: (n, human_bytes(sizes[key])) for key, n in counted.items()}
    assert ("delete", "runs/r1/", "delete:beyond_keep_latest") in shown
    assert len(summary.out.splitlines()) < len(listed.out.splitlines())
    assert "--list prints every file" in summary.out
    rest = [line for line in summary.out.splitlines()
            if not line.startswith(("  would ", "would: "))]
    assert rest == [line for line in listed.out.splitlines() if not line.startswith("  would ")]
    # the legacy spelling (no --now: the clock from SOAKKIT_NOW): the same flag, the same
    # output, the same exit code
    monkeypatch.setenv("SOAKKIT_NOW", NOW_ISO)
    legacy_args = ["--path", str(tmp_path), "--dry-run", "--keep-latest", "5"]
    assert legacy_main([*legacy_args, "--list"]) == 0
    assert capsys.readouterr().out == listed.out
    assert legacy_main(legacy_args) == 0
    assert capsys.readouterr().out == summary.out
    assert snapshot(tmp_path) == before


def test_both_spellings_scan_in_two_processes(tmp_path: Path) -> None:
    """`soakkit rotate` and `python -m soakkit.rotation` both fork the scan's second process
    (the legacy spelling imports numpy before its main runs: OpenBLAS must stay at one
    thread there too), seen through a `sitecustomize` that counts the forks."""
    import subprocess
    import sys

    from .conftest import subprocess_env

    make_tree(tmp_path / "tree", runs={f"runs/r{k}": 8 for k in range(40)})
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, os\nforks = []\nfork = os.fork\n"
        "os.fork = lambda: forks.append(1) or fork()\n"
        "atexit.register(lambda: print('forks', len(forks)))\n")
    env = subprocess_env({"PYTHONPATH": str(hook), "SOAKKIT_NOW": NOW_ISO})
    env.pop("OPENBLAS_NUM_THREADS", None)
    tree = str(tmp_path / "tree")
    for argv in (["soakkit", "rotate", "--path", tree, "--dry-run", "--now", NOW_ISO],
                 ["soakkit.rotation", "--path", tree, "--dry-run"]):
        done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True,
                              check=False, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "forks 1", (argv[0], done.stdout[-300:])


def test_an_inode_of_2_63_or_more_is_planned_and_reported_as_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inodes are unsigned 64-bit numbers (some file systems give ones past int64): the scan
    keeps them in its int64 table and reads them back whole."""
    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True)
    for n in (1, 2, 3):
        write(folder / f"ITER_SUMMARY_{n}.json", b'{"iteration": 1}', 40)
    fields = scan_module._FIELDS

    def far_inodes(st: os.stat_result) -> tuple[int, ...]:
        *rest, ino = fields(st)
        return (*rest, 2**64 - ino)  # as large as an inode gets

    monkeypatch.setattr(scan_module, "_FIELDS", far_inodes)
    plan = plan_rotation(tmp_path, RotationPolicy(keep_latest=1, ttl_days=30.0), NOW)
    deleted = {d.path: d.ino for d in plan.decisions() if d.phase == "delete"}
    assert deleted == {f"runs/r/ITER_SUMMARY_{n}.json":
                       2**64 - (folder / f"ITER_SUMMARY_{n}.json").stat().st_ino
                       for n in (1, 2)}
