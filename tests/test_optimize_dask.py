"""Studies on an external Dask cluster (`dask scheduler` + two `dask worker` processes on
127.0.0.1, free ports, temp folders): the Python API through ``--scheduler``, a client
killed mid-study that resumes from its journal, and the same result either way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.search import open_study
from soakkit.optimize.store import StudyStore

from .conftest import run_subprocess, subprocess_env
from .dask_support import DaskCluster, wait_for
from .test_optimize import NOW, SMALL

pytestmark = pytest.mark.slow

TRIALS = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    c = DaskCluster(tmp_path_factory.mktemp("dask")).start(workers=2)
    try:
        yield c
    finally:
        c.stop()


def _without_path(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k != "profile"}


def test_a_killed_study_resumes_to_the_same_result(cluster: DaskCluster,
                                                   tmp_path: Path) -> None:
    # the Python API on the external cluster, uninterrupted: the reference
    spec = OptimizeSpec(modes=("calm",), seeds=(1, 2, 3), eval_seeds=(101, 102, 103),
                        iterations=4, sim_minutes=1,
                        params=("base_spread_bps_delta", "max_delta_ratio"), trials=TRIALS,
                        name="resumed", artifacts=tmp_path / "ref", now=NOW,
                        scheduler=cluster.address, write_profile="never")
    reference = run_optimize(spec)
    assert reference.status == "finished" and reference.ran == TRIALS
    assert reference.failed == 0 and reference.verdict is not None
    assert "<b>study resumed</b>" in reference._repr_html_()  # how a notebook shows it

    # the CLI on the same cluster, killed (SIGKILL: no clean-up) after a few trials
    art = tmp_path / "a"
    argv = ["optimize", *SMALL, "--trials", str(TRIALS), "--name", "resumed",
            "--write-profile", "never", "--scheduler", cluster.address,
            "--artifacts", str(art)]
    proc = subprocess.Popen([sys.executable, "-m", "soakkit", *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=subprocess_env())
    trials_dir = art / "studies" / "resumed" / "trials"
    wait_for(lambda: trials_dir.is_dir() and len(list(trials_dir.glob("*.parquet"))) >= 6,
             "six trials stored")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    folder = art / "studies" / "resumed"
    assert not (folder / "result.json").exists()

    rerun = run_subprocess(*argv)
    assert rerun.code in (0, 1), rerun.err
    assert "Traceback" not in rerun.err
    line = next(x for x in rerun.out.splitlines() if x.startswith("study resumed:"))
    before = int(line.split(": ")[2].split(" done earlier")[0])
    assert 1 <= before < TRIALS, line
    assert f"{TRIALS - before} run now, 0 failed" in line
    trials = open_study(StudyStore(folder), read_only=True).trials
    assert [t.number for t in trials] == list(range(TRIALS))
    assert all(t.state.name == "COMPLETE" for t in trials)  # none left running
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    # trial k is sampled from the same history whatever the interruption
    ref = json.loads((tmp_path / "ref" / "studies" / "resumed" / "result.json").read_text())
    got = json.loads((folder / "result.json").read_text())
    assert _without_path(got) == _without_path(ref)


def test_a_trial_killed_while_it_was_asked_is_completed_on_resume(cluster: DaskCluster,
                                                                  tmp_path: Path) -> None:
    from soakkit.optimize.plan import build_plan, execution_spec
    from soakkit.optimize.search import Search
    from soakkit.optimize.store import studies_root
    from soakkit.sweep.cluster import connect

    spec = OptimizeSpec(modes=("calm",), seeds=(1,), eval_seeds=(2,), iterations=1,
                        sim_minutes=1, params=("tail_age_ms", "max_delta_ratio"), trials=3,
                        name="asked", artifacts=tmp_path, now=NOW, scheduler=cluster.address)
    plan = build_plan(spec)
    store = StudyStore(studies_root(tmp_path) / plan.name)
    store.folder.mkdir(parents=True)
    store.create(plan.identity(), NOW, None)
    study = open_study(store)
    told: list[int] = []
    with connect(execution_spec(spec)) as conn:
        Search(plan, study, store, conn, NOW, lambda: None,
               lambda done: told.append(done.number)).run(2)
        cut = study.ask()  # a client killed between creating trial 2 and sampling it all
        cut.suggest_int("tail_age_ms", 300, 1500)
        Search(plan, study, store, conn, NOW, lambda: None,
               lambda done: told.append(done.number)).run(3)
    assert told == [0, 1, 2]
    last = open_study(store, read_only=True).trials[2]
    assert last.state.name == "COMPLETE"
    assert set(last.params) == set(last.user_attrs["values"]) == {"tail_age_ms",
                                                                   "max_delta_ratio"}
    assert last.params["tail_age_ms"] == cut.params["tail_age_ms"]  # what it had is kept
