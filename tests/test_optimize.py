"""`soakkit optimize` without a long study: bad input (one line, exit 2, nothing written),
the search space from the parameter table, the verdicts of an empty and an infeasible
study, the recommended profile's immutability; and one small study on the default local
Dask cluster, end to end through the CLI (trials, constraints from the gate, the profile
with its provenance, a rerun that resumes, an extension).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import polars as pl
import pytest

from soakkit.config.params import PARAMS, TUNABLE
from soakkit.config.profiles import list_profiles
from soakkit.core.digests import signature
from soakkit.core.errors import UsageError
from soakkit.gate import GATES
from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.conclude import VERDICTS, conclude
from soakkit.optimize.plan import build_plan
from soakkit.optimize.recommend import check_profile_free, profile_path, write_profile
from soakkit.optimize.scoring import PASS_RATE
from soakkit.optimize.search import grid_levels, grid_points, open_study
from soakkit.optimize.space import default_params, distributions, search_params
from soakkit.optimize.store import StudyStore, studies_root

from .conftest import REPO, CliResult, assert_one_line_error, run_subprocess

NOW = "2026-01-01T00:00:00Z"
TAPES = REPO / "examples" / "tapes"
#: A small study: one mode, three seeds each side, four short iterations, two parameters.
SMALL = ["--modes", "calm", "--seeds", "1-3", "--eval-seeds", "101-103", "--iterations", "4",
         "--sim-minutes", "1", "--params", "base_spread_bps_delta,max_delta_ratio",
         "--now", NOW]


def _spec(art: Path, **kw: object) -> OptimizeSpec:
    base: dict[str, object] = {"modes": ("calm",), "seeds": (1, 2), "eval_seeds": (3, 4),
                               "iterations": 2, "sim_minutes": 1, "artifacts": art,
                               "params": ("tail_age_ms",), "name": "unit", "now": NOW}
    base.update(kw)
    return OptimizeSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("argv", "fragments"), [
    (["--seeds", "1-5", "--eval-seeds", "5-9"], ["--seeds and --eval-seeds share 1 seed",
                                                 "disjoint"]),
    (["--seeds", "1-20", "--eval-seeds", "10-30"], ["share 11 seed(s) (e.g. 10)"]),
    (["--params", "tail_age_mss"], ["--params 'tail_age_mss'", "tail_age_ms"]),
    (["--tape-split", "1.5"], ["--tape-split"]),
    (["--oos-top", "0"], ["--oos-top"]),
    (["--trials", "0"], ["--trials"]),
    (["--trials", "10001"], ["--trials", "10000"]),
    (["--modes", "sideways"], ["--modes 'sideways'"]),
    (["--modes", ""], ["--modes", "--tapes"]),
    (["--name", "latest"], ["--name 'latest'"]),
    (["--name", "small\n"], ["--name 'small\\n'"]),  # $ would match before the newline
    (["--name", "steady_safe"], ["--name 'steady_safe'", "built-in profile"]),
    (["--profile", "no_such_profile"], ["--profile 'no_such_profile'"]),
    (["--eval-seeds", "9-3"], ["--eval-seeds", "descending"]),
    (["--tapes", "/nonexistent/tape"], ["--tapes /nonexistent/tape"]),
    (["--tapes", f"{TAPES / 'sample'},{TAPES / 'sample'}/"], ["a tape named 'sample' is "
                                                            "listed twice"]),
    (["--tapes", f"{TAPES / 'sample'},{TAPES / 'binance-spot-btcusdt'}", "--tape-split",
      "0.1"], [f"--tapes {TAPES / 'binance-spot-btcusdt'}: 5 window(s)", "cannot be split"]),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], ["--workers"]),
    (["--eval-tapes", "/nonexistent/tape"], ["--eval-tapes /nonexistent/tape"]),
    (["--tapes", str(TAPES / "sample"), "--eval-tapes", f"{TAPES / 'sample'}/"],
     [f"--eval-tapes {TAPES / 'sample'}: a tape named 'sample' is listed twice",
      "cannot also be held back"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
        cli, tmp_path: Path, argv: list[str], fragments: list[str]) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "a"
    # a tiny study if the input were taken: a missed refusal fails fast
    result: CliResult = cli("optimize", "--artifacts", str(art), "--seeds", "1-2",
                            "--eval-seeds", "101-102", "--trials", "1", "--iterations", "1",
                            "--sim-minutes", "1", "--write-profile", "never", *argv)
    assert result.code == 2, result
    assert_one_line_error(result, *fragments)
    assert not studies_root(art).exists()


def test_the_space_is_the_parameter_tables_bounds() -> None:
    specs = search_params("legacy")
    assert default_params(specs) == TUNABLE
    space = distributions(specs, TUNABLE)
    for name, dist in space.items():
        spec = PARAMS[name]
        assert (dist.low, dist.high) == (spec.lo, spec.hi)  # type: ignore[attr-defined]
        assert type(dist).__name__ == ("IntDistribution" if spec.kind == "int"
                                       else "FloatDistribution")


def test_the_grid_sampler_fills_its_budget_within_bounds() -> None:
    params = ("base_spread_bps_delta", "tail_age_ms")
    levels = grid_levels(PARAMS, params, 64)
    assert [len(v) for v in levels.values()] == [8, 8]
    points = grid_points(PARAMS, params, 64)
    assert len(points) == 64 == len({tuple(p.values()) for p in points})
    for name in params:
        assert all(PARAMS[name].lo <= p[name] <= PARAMS[name].hi for p in points)
    assert len(grid_points(PARAMS, ("tail_age_ms",), 1)) == 2  # at least two levels


def _store(plan_art: Path) -> StudyStore:
    store = StudyStore(studies_root(plan_art) / "unit")
    store.folder.mkdir(parents=True)
    return store


def test_an_empty_study_says_so(tmp_path: Path) -> None:
    plan = build_plan(_spec(tmp_path))
    store = _store(tmp_path)
    study = open_study(store)
    for _ in range(3):
        trial = study.ask()
        trial.set_user_attr("error", "task failed: RuntimeError: boom")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    stages: list[str] = []
    doc = conclude(plan, study, store, None, NOW, lambda: None, stages.append)  # type: ignore[arg-type]
    assert doc["verdict"] == "empty" and doc["complete"] == 0 and doc["failed"] == 3
    assert doc["reasons"] == ["no trial completed (first error: task failed: RuntimeError: "
                              "boom)"]
    assert json.loads(store.result_path.read_text())["verdict"] == "empty"
    assert not stages and not profile_path(tmp_path, "unit").exists()


def test_an_infeasible_study_says_so(tmp_path: Path) -> None:
    plan = build_plan(_spec(tmp_path))
    store = _store(tmp_path)
    study = open_study(store)
    for value in (1.0, 2.0):
        trial = study.ask()
        trial.set_constraint(f"calm:{PASS_RATE}", 0.25)  # a quarter of the pass rate lost
        study.tell(trial, value)
    doc = conclude(plan, study, store, None, NOW, lambda: None, print)  # type: ignore[arg-type]
    assert doc["verdict"] == "infeasible" and doc["feasible"] == 0
    assert "none of the 2 complete trials holds the constraints" in doc["reasons"][0]
    assert set(VERDICTS) >= {"empty", "infeasible", "no better", "not supported", "supported"}


def test_a_recommended_profile_is_never_silently_replaced(tmp_path: Path) -> None:
    doc = {"schema_version": 1, "description": "x", "params": {"tail_age_ms": 900},
           "provenance": {"tool": "soakkit optimize", "study": "s1", "trials": 20}}
    path, sha = write_profile(tmp_path, "s1", doc, None)
    assert write_profile(tmp_path, "s1", doc, None) == (path, sha)  # same bytes: fine
    with pytest.raises(UsageError, match="holds another recommendation"):
        write_profile(tmp_path, "s1", {**doc, "params": {"tail_age_ms": 901}}, None)
    check_profile_free(tmp_path, "s1", 20)  # this study, as many trials: its own file
    with pytest.raises(UsageError, match=r"--trials 40: .* after 20 trials"):
        check_profile_free(tmp_path, "s1", 40)
    (tmp_path / "profiles" / "mine.json").write_text(
        '{"schema_version": 1, "description": "", "params": {}}')
    with pytest.raises(UsageError, match="not written by this study"):
        check_profile_free(tmp_path, "mine", 20)


def _load_study(folder: Path):  # type: ignore[no-untyped-def]
    return open_study(StudyStore(folder), read_only=True)


@pytest.mark.slow  # a LocalCluster of 2 workers (1 runs in process) and a 16-trial study
def test_a_small_study_on_the_local_cluster(tmp_path: Path) -> None:
    art = tmp_path / "a"
    argv = ["optimize", *SMALL, "--profile", "ultra_safe", "--trials", "16", "--workers", "2",
            "--name", "small",
            "--write-profile", "always", "--artifacts", str(art)]
    first = run_subprocess(*argv)
    assert first.code in (0, 1), first.err
    assert "Traceback" not in first.err
    assert "study small: finished, 16 trials: 0 done earlier, 16 run now, 0 failed" in first.out
    assert "on the local cluster" in first.err
    folder = art / "studies" / "small"
    assert (art / "studies" / "latest").resolve() == folder.resolve()
    result = json.loads((folder / "result.json").read_text())
    assert result["verdict"] in VERDICTS and result["trials"] == 16
    assert result["evidence_sha256"] == signature(result["evidence"])

    # every trial searched the table's bounds; trial 0 is the starting profile itself
    study = _load_study(folder)
    trials = study.trials
    assert [t.number for t in trials] == list(range(16))
    assert all(t.state.name == "COMPLETE" for t in trials)
    from soakkit.config.layers import resolve
    start = resolve("ultra_safe", artifacts=art, env={}).values
    assert trials[0].params == {n: start[n] for n in ("base_spread_bps_delta",
                                                      "max_delta_ratio")}
    for t in trials:
        for name, value in t.params.items():
            assert PARAMS[name].lo <= value <= PARAMS[name].hi
    # the constraints are the gate's thresholds (and the pass rate), per market
    expected = {f"calm:{PASS_RATE}"} | {f"calm:{th.kpi}" for th in
                                        GATES["production"].thresholds}
    assert all(set(t.constraints) == expected for t in trials)
    assert all(v <= 0 for v in trials[0].constraints.values())  # the baseline holds them
    feasible = [t for t in trials if all(v <= 0 for v in t.constraints.values())]
    best = max(feasible, key=lambda t: (t.value, -t.number))
    winner = result["evidence"]["winner"]
    assert winner["trial"] == best.number != 0  # these inputs: the search found better

    # overfitting measured on these trials
    overfit = result["evidence"]["overfitting"]
    assert overfit["trials"] == 16 and 0.0 <= overfit["dsr"] <= 1.0
    assert overfit["pbo"]["configurations"] == len(feasible)
    assert 0.0 <= overfit["pbo"]["pbo"] <= 1.0
    # out of sample: against every shipped profile, untuned and tuned
    references = {c["reference"] for c in result["evidence"]["out_of_sample"]}
    shipped = [p.name for p in list_profiles(None)]
    assert references == {*shipped, *(f"{name} + tuner" for name in shipped)}
    assert all(math.isfinite(c["ci95"][0]) for c in result["evidence"]["out_of_sample"])

    # the recommendation: a profile with its provenance, which `config show` prints
    profile = json.loads((art / "profiles" / "small.json").read_text())
    prov = profile["provenance"]
    assert prov["study"] == "small" and prov["trials"] == 16 and prov["trial"] == best.number
    assert prov["evidence"]["sha256"] == result["evidence_sha256"]
    assert prov["data"]["calibration"][0]["seeds"] == "1-3"
    assert prov["data"]["evaluation"][0]["seeds"] == "101-103"
    assert {k: profile["params"][k] for k in best.params} == winner["values"]
    shown = run_subprocess("config", "show", "--profile", "small", "--artifacts", str(art))
    assert shown.code == 0, shown.err
    assert "provenance:" in shown.out and "study: small" in shown.out

    # a rerun of the finished study returns its result without running anything
    again = run_subprocess(*argv)
    assert again.code == first.code
    assert "16 trials: 16 done earlier, 0 run now, 0 failed" in again.out
    # extending it would change the written recommendation: refused before any work
    more = [*argv[:argv.index("--trials")], "--trials", "20",
            *argv[argv.index("--trials") + 2:]]
    refused = run_subprocess(*more)
    assert refused.code == 2
    assert_one_line_error(refused, "--trials 20", "after 16 trials")
    extended = run_subprocess(*more, "--write-profile", "never")
    assert extended.code in (0, 1), extended.err
    assert "20 trials: 16 done earlier, 4 run now, 0 failed" in extended.out
    assert [t.number for t in _load_study(folder).trials] == list(range(20))
    assert json.loads((art / "profiles" / "small.json").read_text()) == profile


def test_a_tape_calibrates_on_its_early_windows_and_is_judged_on_the_later_ones(
        tmp_path: Path) -> None:
    from soakkit.sim.replay import load_tape, windows_available

    tape = Path(__file__).resolve().parent.parent / "examples" / "tapes" / "binance-spot-btcusdt"
    windows = windows_available(load_tape(tape), 1)
    plan = build_plan(_spec(tmp_path, modes=(), tapes=(tape,), tape_split=0.6))
    (cal,), (ev,) = plan.data.calibration.groups, plan.data.evaluation.groups
    assert cal.name == ev.name == "tape:binance-spot-btcusdt"
    assert (cal.first, cal.last) == (1, math.floor(windows * 0.6))
    assert (ev.first, ev.last) == (cal.last + 1, windows)  # walk-forward: never earlier
    assert set(cal.seeds).isdisjoint(ev.seeds)
    assert plan.data.identity()["tapes"][str(tape)]  # its digest is part of the study
    with pytest.raises(UsageError, match="cannot be split"):
        build_plan(_spec(tmp_path, modes=(), tapes=(tape,), tape_split=0.01))


def test_a_held_back_tape_is_judged_whole_and_never_calibrates(tmp_path: Path) -> None:
    from soakkit.sim.replay import load_tape, windows_available

    seen, held = TAPES / "binance-spot-btcusdt", TAPES / "sample"
    plan = build_plan(_spec(tmp_path, modes=("calm",), tapes=(seen,), eval_tapes=(held,)))
    assert [g.name for g in plan.data.calibration.groups] == ["calm",
                                                              "tape:binance-spot-btcusdt"]
    ev = {g.name: g for g in plan.data.evaluation.groups}
    assert list(ev) == ["calm", "tape:binance-spot-btcusdt", "tape:sample"]
    whole = ev["tape:sample"]
    assert (whole.first, whole.last) == (1, windows_available(load_tape(held), 1))
    assert whole.seeds == (3, 4)  # the evaluation seeds
    assert plan.data.identity()["tapes"][str(held)]  # its digest is part of the study
    with pytest.raises(UsageError, match="give at least one market mode or --tapes"):
        build_plan(_spec(tmp_path, modes=(), eval_tapes=(held,)))


def test_a_copy_or_a_namesake_of_a_searched_tape_is_not_held_back(tmp_path: Path) -> None:
    import shutil

    seen = TAPES / "sample"
    shutil.copytree(seen, tmp_path / "copy")
    shutil.copytree(seen, tmp_path / "next-day" / "sample")
    with pytest.raises(UsageError, match=r"--eval-tapes .*copy: the same recording as "
                                         r"--tapes .*sample \(a tape the search sees"):
        build_plan(_spec(tmp_path, modes=("calm",), tapes=(seen,),
                         eval_tapes=(tmp_path / "copy",)))
    with pytest.raises(UsageError, match="the same folder name, which names a tape's market"):
        build_plan(_spec(tmp_path, modes=("calm",), tapes=(seen,),
                         eval_tapes=(tmp_path / "next-day" / "sample",)))


def _comparison(group: str, reference: str, beats: bool, diff: float | None = -0.5
                ) -> dict[str, object]:
    lo = None if diff is None else (0.1 if beats else -0.7)
    return {"group": group, "reference": reference, "cells": 12, "diff": diff,
            "ci95": [lo, None if diff is None else 0.9], "beats": beats}


def test_the_recorded_markets_line_of_a_study_of_tapes_alone(
        capsys: pytest.CaptureFixture[str]) -> None:
    from soakkit.cli.optimize import _print_recorded

    tapes_only = [_comparison(g, ref, beats=ref == "ultra_safe", diff=None
                              if (g, ref) == ("all", "steady_safe") else -0.5)
                  for ref in ("aggressive", "steady_safe", "ultra_safe")
                  for g in ("tape:a", "tape:b", "all")]
    _print_recorded(tapes_only)  # no synthetic mode: the tapes are pooled in 'all'
    assert capsys.readouterr().out.splitlines() == [
        "  on the recorded markets (all, 12 held-back windows): beats 1 of 3 shipped profiles",
        "    - not shown better than aggressive: -0.5 [-0.7, +0.9]",
        "    - not shown better than steady_safe: no interval"]
    _print_recorded([_comparison(g, "aggressive", False) for g in ("calm", "all")])
    assert capsys.readouterr().out == ""  # no tape: no line


@pytest.mark.slow
def test_a_study_judges_the_winner_on_a_held_back_tape_whole(
        cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "a"
    result = cli("optimize", "--artifacts", str(art), "--modes", "calm", "--tapes",
                 str(TAPES / "binance-spot-btcusdt"), "--eval-tapes", str(TAPES / "sample"),
                 "--seeds", "1-2", "--eval-seeds", "101-102", "--trials", "2",
                 "--iterations", "1", "--sim-minutes", "1", "--oos-top", "1",
                 "--params", "tail_age_ms", "--workers", "1", "--name", "held",
                 "--write-profile", "never", "--now", NOW)
    assert result.code in (0, 1), result
    doc = json.loads((art / "studies" / "held" / "result.json").read_text())
    compared = {c["group"]: c for c in doc["evidence"]["out_of_sample"]
                if c["reference"] == "aggressive"}
    assert {"calm", "tape:binance-spot-btcusdt", "tape:sample", "tapes", "all"} <= set(compared)
    assert compared["tape:sample"]["cells"] == 20  # every one-minute window, none calibrated
    assert compared["tapes"]["cells"] == 20 + 2  # beside the split tape's held-back windows
    pooled = [c for c in doc["evidence"]["out_of_sample"]
              if c["group"] == "tapes" and "+" not in c["reference"]]  # untuned profiles
    shown = [line for line in result.out.splitlines() if "on the recorded markets" in line]
    assert shown == [f"  on the recorded markets (tapes, 22 held-back windows): beats "
                     f"{sum(c['beats'] for c in pooled)} of {len(pooled)} shipped profiles"]


def test_a_journal_line_cut_by_a_kill_is_dropped_on_resume(tmp_path: Path) -> None:
    store = _store(tmp_path)
    study = open_study(store)
    trial = study.ask({"tail_age_ms": distributions(PARAMS, ("tail_age_ms",))["tail_age_ms"]})
    study.tell(trial, 1.0)
    whole = store.journal_path.read_bytes()
    with store.journal_path.open("ab") as fh:
        fh.write(b'{"op_code": 4, "worker_id": "killed-mid-wri')  # no newline: cut short
    (store.folder / ".result.json.123.tmp").write_text("{")  # an interrupted atomic write
    store.remove_stale_files()
    assert store.journal_path.read_bytes() == whole
    assert not list(store.folder.glob("*.tmp"))
    again = open_study(store, read_only=True)
    assert [(t.number, t.value) for t in again.trials] == [(0, 1.0)]


class _Killed(BaseException):
    """The client dies here (nothing of it runs after, as with SIGKILL)."""


def _mid_ask(log: dict[str, object], seen: list[object]) -> bool:
    """Before trial 2's second parameter (trial 2 is a random, start-up trial)."""
    return log.get("trial_id") == 2 and log.get("param_name") == "max_delta_ratio"


def _mid_tpe_ask(log: dict[str, object], seen: list[object]) -> bool:
    """Before trial 5's second parameter: with two start-up trials, trial 5 (asked once
    trials 0 and 1 are told) is drawn by TPE's relative sampling."""
    return log.get("trial_id") == 5 and log.get("param_name") == "max_delta_ratio"


def _after_tpe_draw(log: dict[str, object], seen: list[object]) -> bool:
    """Right after trial 5's relative draw is written, before its first parameter."""
    if log.get("trial_id") == 5 and "tpe:relative_params" in str(log.get("system_attr")):
        seen.append(log)
    return bool(seen) and log.get("trial_id") == 5 and "param_name" in log


def _mid_tell(log: dict[str, object], seen: list[object]) -> bool:
    """After trial 1's first constraint, before its second."""
    if log.get("trial_id") == 1 and "constraints:" in str(log.get("system_attr")):
        seen.append(log)
    return len(seen) == 2


def _mid_enqueue(log: dict[str, object], seen: list[object]) -> bool:
    """Between the grid's enqueued points: before the second one is created."""
    if int(str(log.get("op_code", -1))) == 4:  # CREATE_TRIAL
        seen.append(log)
    return len(seen) == 3


@pytest.mark.parametrize(("cut", "sampler", "trials"), [
    (_mid_ask, "tpe", 4), (_mid_tpe_ask, "tpe", 6), (_after_tpe_draw, "tpe", 6),
    (_mid_tell, "tpe", 4), (_mid_enqueue, "grid", 4)])
def test_a_client_killed_mid_write_resumes_to_the_uninterrupted_study(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        cut: Callable[[dict[str, object], list[object]], bool], sampler: str,
        trials: int) -> None:
    from optuna.storages.journal import JournalFileBackend

    from soakkit.optimize import sampling

    monkeypatch.setattr(sampling, "STARTUP_TRIALS", 2)  # TPE draws from trial 5 on

    def spec(art: Path) -> OptimizeSpec:
        return _spec(art, params=("base_spread_bps_delta", "max_delta_ratio"), trials=trials,
                     seeds=(1,), eval_seeds=(3,), workers=1, write_profile="never",
                     sampler=sampler)

    run_optimize(spec(tmp_path / "ref"))
    append, seen = JournalFileBackend.append_logs, list[object]()

    def dies_at_the_cut(self: JournalFileBackend, logs: list[dict[str, object]]) -> None:
        if any(cut(log, seen) for log in logs):
            raise _Killed
        append(self, logs)

    monkeypatch.setattr(JournalFileBackend, "append_logs", dies_at_the_cut)
    with pytest.raises(_Killed):
        run_optimize(spec(tmp_path / "cut"))
    monkeypatch.setattr(JournalFileBackend, "append_logs", append)
    folder = studies_root(tmp_path / "cut") / "unit"
    assert {"RUNNING", "WAITING"} & {t.state.name for t in open_study(
        StudyStore(folder), read_only=True).trials}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing written twice (Optuna warns then)
        run_optimize(spec(tmp_path / "cut"))
    ref_folder = studies_root(tmp_path / "ref") / "unit"
    got, ref = (open_study(StudyStore(f), read_only=True).trials for f in (folder, ref_folder))
    assert [t.params for t in got] == [t.params for t in ref]  # the draws the ask made
    assert [t.constraints for t in got] == [t.constraints for t in ref]
    assert [t.state.name for t in got] == [t.state.name for t in ref]
    assert [t.state.name for t in got][:trials] == ["COMPLETE"] * trials
    results = [json.loads((f / "result.json").read_text()) for f in (folder, ref_folder)]
    assert [{k: v for k, v in r.items() if k != "profile"} for r in results] == [
        {k: v for k, v in results[1].items() if k != "profile"}] * 2


def test_a_strategy_brings_its_own_parameters_into_the_space(tmp_path: Path) -> None:
    from soakkit.strategy.registry import load_strategy

    own = {n: spec for n, spec in load_strategy("glft").params.items() if n not in PARAMS
           or PARAMS[n].owners}
    assert own  # glft declares parameters beyond the engine's
    plan = build_plan(_spec(tmp_path, strategy="glft", params=None))
    tunable_own = {n for n, spec in own.items() if spec.tunable}
    assert tunable_own and tunable_own <= set(plan.params)  # glft_gamma is searched
    assert set(TUNABLE) <= set(plan.params)
    for name in plan.params:
        assert plan.identity()["space"][name] == [plan.specs[name].kind, plan.specs[name].lo,
                                                  plan.specs[name].hi]
    legacy = build_plan(_spec(tmp_path, params=None))
    assert legacy.config_key({}, False, legacy.data.calibration) != plan.config_key(
        {}, False, plan.data.calibration)  # the strategy is part of a configuration
    with pytest.raises(UsageError, match="not a parameter of strategy 'legacy'"):
        build_plan(_spec(tmp_path, params=tuple(own)))


def _eval_rows(edge: dict[tuple[str, int], float]) -> pl.DataFrame:
    """Evaluation rows: a synthetic mode (seeds 1-3, iterations 1-2) and two tapes (held-back
    windows 4-5, latency seeds 1-3); ``edge`` adds to the objective per (group, seed or
    window)."""
    rows = []
    for group, mode, iterations in (("calm", "calm", (1, 2)), ("tape:a", "replay", (4, 5)),
                                    ("tape:b", "replay", (4, 5))):
        for seed in (1, 2, 3):
            for n in iterations:
                unit = n if mode == "replay" else seed
                rows.append({"group": group, "mode": mode, "seed": seed, "iteration": n,
                             "risk_adjusted_pnl": 0.01 * n + 0.001 * seed
                             + edge.get((group, unit), 0.0),
                             "verdict": "PASS", "pnl_usd": 1.0, "risk_ratio": 0.1})
    return pl.DataFrame(rows)


def test_a_tape_is_compared_per_held_back_window_and_tapes_pool() -> None:
    """The sampling unit of a replay is its window (seeds only redraw latency): a tape's
    comparison pairs per window, several tapes pool into ``tapes``, a mode pairs per seed."""
    from soakkit.evidence.study import paired_ci
    from soakkit.optimize.evaluate import ALL, ALL_TAPES, cell_means, compare

    edge = {("calm", 1): 0.2, ("calm", 2): 0.1, ("calm", 3): 0.3, ("tape:a", 4): 0.05,
            ("tape:a", 5): -0.01, ("tape:b", 4): 0.02, ("tape:b", 5): 0.04}
    winner, other = cell_means(_eval_rows(edge)), cell_means(_eval_rows({}))
    assert winner.height == 3 + 2 * 6  # calm: a cell per seed; a tape: per (seed, window)
    groups = ["calm", "tape:a", "tape:b"]
    found = {c.group: c for c in compare(winner, {"x": other}, groups, ["tape:a", "tape:b"])}
    assert list(found) == [*groups, ALL_TAPES, ALL]
    assert {g: c.cells for g, c in found.items()} == {
        "calm": 3, "tape:a": 2, "tape:b": 2, ALL_TAPES: 4, ALL: 7}
    pooled = paired_ci([0.05, -0.01, 0.02, 0.04], [0.0] * 4)  # one difference per window
    assert (found[ALL_TAPES].diff, found[ALL_TAPES].lo, found[ALL_TAPES].hi) == \
        pytest.approx((pooled.diff, pooled.lo, pooled.hi))
    per_seed = paired_ci([0.2, 0.1, 0.3], [0.0] * 3)
    assert (found["calm"].lo, found["calm"].hi) == pytest.approx((per_seed.lo, per_seed.hi))
    # one tape: no pooled tapes comparison (the tape's own is the real market); tapes only:
    # every group pooled is the tapes pooled, said once
    assert [c.group for c in compare(winner, {"x": other}, groups, ["tape:a"])] == [*groups, ALL]
    tapes = ["tape:a", "tape:b"]
    only = compare(winner.filter(pl.col("group") != "calm"), {"x": other}, tapes, tapes)
    assert [(c.group, c.cells) for c in only] == [("tape:a", 2), ("tape:b", 2), (ALL, 4)]
