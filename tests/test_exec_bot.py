"""``--strategy exec:PROGRAM``: the example bot soaks, sweeps and replays; a bot that fails ends
the run with one line, and what was written before stays.

Every bot here is a real program (the example under ``examples/``, or a few lines of
Python written into the test's folder) run by a real ``soakkit`` process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .conftest import REPO, assert_one_line_error, run_subprocess

BOT = f"exec:{sys.executable} {REPO / 'examples' / 'exec_bot.py'}"

#: A bot that answers correctly until it misbehaves on its ``FAIL_AT``-th step of the
#: ``FAIL_START``-th window it is started for (windows counted in a file beside it).
_FLAKY = '''
import json, os, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
count_file = os.path.join(HERE, "starts")
steps = 0
for line in sys.stdin:
    msg = json.loads(line)
    kind = msg["type"]
    if kind == "describe":
        print(json.dumps({"type": "describe", "params": []}), flush=True)
    elif kind == "start":
        starts = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
        open(count_file, "w").write(str(starts))
        print('{"type": "ready"}', flush=True)
    elif kind == "step":
        steps += 1
        if starts == FAIL_START and steps == FAIL_AT:
            MISBEHAVE
        print('{"actions": []}', flush=True)
    else:
        break
'''
_MISBEHAVIOUR = {
    "crash": ('print("out of quotes", file=sys.stderr, flush=True); sys.exit(3)',
              "exited with status 3", "its stderr ends: 'out of quotes'"),
    "hang": ("time.sleep(60)", "did not answer within 0.5 s", ""),
    "junk": ('print("hello", flush=True); continue', "wrote junk (not a JSON line: 'hello')",
             ""),
    "bad action": ('print(json.dumps({"actions": [["quote", 2, 5, 1]]}), flush=True); continue',
                   "sent side 2, price 5, lots 1", ""),
}


def _flaky(folder: Path, misbehave: str, start: int, at: int = 30) -> str:
    path = folder / "bot.py"
    path.write_text(_FLAKY.replace("FAIL_START", str(start)).replace("FAIL_AT", str(at))
                    .replace("MISBEHAVE", misbehave))
    return f"exec:{sys.executable} {path}"


def _runs(artifacts: Path) -> list[Path]:
    return sorted(p for p in (artifacts / "runs").iterdir() if p.is_dir())


def test_the_example_bot_soaks_with_its_own_parameters(artifacts: Path) -> None:
    result = run_subprocess("soak", "--strategy", BOT, "--iterations", "2", "--sim-minutes", "2",
                            "--mode", "volatile", "--set", "bot_offset_ticks=1", "--artifacts",
                            str(artifacts), "--now", "2026-01-01T00:00:00Z", "--quiet")
    assert result.code in (0, 1), result.err
    assert "error" not in result.err
    (run,) = _runs(artifacts)
    meta = json.loads((run / "RUN.json").read_text())
    assert meta["options"]["strategy"] == BOT
    assert meta["config"]["params"]["bot_offset_ticks"]["origin"]["layer"] == "cli"
    for n in (1, 2):
        doc = json.loads((run / f"ITER_SUMMARY_{n}.json").read_text())
        assert doc["params"]["bot_offset_ticks"] == {
            "value": 1, "origin": "cli:--set bot_offset_ticks=1"}
        assert doc["params"]["bot_skew"]["origin"] == "defaults"
        assert "base_spread_bps" not in doc["params"]  # the legacy quoter's, not the bot's
        assert doc["summary"]["fill_count"] > 50


def test_the_example_bot_replays_a_recorded_tape(artifacts: Path) -> None:
    result = run_subprocess("soak", "--strategy", BOT, "--market-data",
                            str(REPO / "examples" / "tapes" / "sample"), "--iterations", "2",
                            "--sim-minutes", "2", "--artifacts", str(artifacts), "--quiet")
    assert result.code in (0, 1), result.err
    (run,) = _runs(artifacts)
    doc = json.loads((run / "ITER_SUMMARY_2.json").read_text())
    assert doc["mode"] == "replay" and doc["summary"]["fill_count"] > 0


def test_the_example_bot_sweeps_beside_the_built_ins(tmp_path: Path) -> None:
    artifacts = tmp_path / "a"
    result = run_subprocess("sweep", "--strategies", f"legacy;{BOT}", "--modes", "calm",
                            "--seeds", "1-2", "--tune", "off", "--iterations", "1",
                            "--sim-minutes", "1", "--workers", "1", "--name", "bots",
                            "--artifacts", str(artifacts), "--quiet")
    assert result.code == 0, result.err
    import polars as pl

    rows = pl.concat([pl.read_parquet(path)
                      for path in (artifacts / "sweeps" / "bots").rglob("*.parquet")])
    assert sorted(rows["strategy"].unique().to_list()) == sorted(["legacy", BOT])
    assert rows["error"].is_null().all()


@pytest.mark.parametrize("how", list(_MISBEHAVIOUR))
def test_a_bot_that_fails_in_iteration_two_ends_the_run_in_one_line(tmp_path: Path, how: str
                                                                    ) -> None:
    misbehave, said, stderr = _MISBEHAVIOUR[how]
    artifacts = tmp_path / "artifacts"
    strategy = _flaky(tmp_path, misbehave, start=2)
    result = run_subprocess("soak", "--strategy", strategy, "--iterations", "3",
                            "--sim-minutes", "1", "--no-tune", "--artifacts", str(artifacts),
                            "--quiet", env={"SOAKKIT_EXEC_TIMEOUT_S": "0.5"})
    assert result.code == 1, result.err
    assert_one_line_error(result, f"strategy {strategy} {said} at step 30 (t=",
                          "of iteration 2", stderr, "--resume")
    assert len(result.err.strip().splitlines()) == 1
    (run,) = _runs(artifacts)
    meta = json.loads((run / "RUN.json").read_text())
    assert meta["status"] == "failed" and said in meta["error"]
    assert meta["iterations_done"] == 1
    first = json.loads((run / "ITER_SUMMARY_1.json").read_text())  # intact, as written
    assert first["iteration"] == 1
    assert not (run / "ITER_SUMMARY_2.json").exists()


def test_a_bot_that_cannot_describe_itself_is_refused_before_anything_runs(tmp_path: Path
                                                                           ) -> None:
    bot = tmp_path / "mute.py"
    bot.write_text("import sys\nsys.stdin.readline()\nprint('I am a bot', flush=True)\n")
    artifacts = tmp_path / "a"
    result = run_subprocess("soak", "--strategy", f"exec:{sys.executable} {bot}",
                            "--artifacts", str(artifacts))
    assert result.code == 2
    assert_one_line_error(result, "when asked to describe itself", "wrote junk")
    assert not (artifacts / "runs").exists()
    missing = run_subprocess("soak", "--strategy", "exec:/no/such/bot", "--artifacts",
                             str(artifacts))
    assert missing.code == 2
    assert_one_line_error(missing, "cannot start '/no/such/bot'")


def test_a_bot_that_declares_a_bad_parameter_is_refused(tmp_path: Path) -> None:
    bot = tmp_path / "bad.py"
    bot.write_text("import json, sys\nsys.stdin.readline()\nprint(json.dumps({'type': "
                   "'describe', 'params': [{'name': 'x', 'default': 5, 'lo': 0, 'hi': 1}]}),"
                   " flush=True)\n")
    result = run_subprocess("config", "show", "--profile", "steady_safe", "--strategy",
                            f"exec:{sys.executable} {bot}")
    assert result.code == 2
    assert_one_line_error(result, "parameter 'x': default 5 is outside [0, 1]")


_COUNTER = '''
import json, sys
log = open(sys.argv[1], "w")
trades = updates = 0
for line in sys.stdin:
    msg = json.loads(line)
    kind = msg["type"]
    if kind == "describe":
        print(json.dumps({"type": "describe", "params": []}), flush=True)
    elif kind == "start":
        print('{"type": "ready"}', flush=True)
    elif kind == "step":
        trades += len(msg["trades"])
        updates += len(msg["updates"])
        log.write(f"{msg['now']} {msg['seen']} {trades} {updates}\\n")
        log.flush()
        wake = {"at": msg["now"] + 1_000_000_000} if SLEEPY else None
        print(json.dumps({"actions": [], "wake": wake}), flush=True)
    else:
        break
'''


def test_a_sleeping_program_gets_every_event_it_slept_through(tmp_path: Path) -> None:
    """``wake`` skips steps; the next message carries every trade and update since."""
    import numpy as np

    from soakkit.config.layers import resolve
    from soakkit.sim.market import simulate_market
    from soakkit.strategy.engine import run_engine
    from soakkit.strategy.registry import load_strategy

    logs = {}
    tape = simulate_market("volatile", 1, np.random.default_rng(2))
    for sleepy in (False, True):
        bot = tmp_path / f"counter_{sleepy}.py"
        bot.write_text(_COUNTER.replace("SLEEPY", str(sleepy)))
        logs[sleepy] = tmp_path / f"log_{sleepy}.txt"
        ref = load_strategy(f"exec:{sys.executable} {bot} {logs[sleepy]}")
        values = dict(resolve("steady_safe", env={}, params=ref.params).values)
        run_engine(tape, ref.factory(), values, np.random.default_rng(0))
    every = {int(now): (int(t), int(u)) for now, _, t, u in
             (line.split() for line in logs[False].read_text().splitlines())}
    woken = [(int(now), int(t), int(u)) for now, _, t, u in
             (line.split() for line in logs[True].read_text().splitlines())]
    assert 55 <= len(woken) <= 65 and len(every) == 800  # once a second, of every 75 ms
    for now, trades, updates in woken:
        assert (trades, updates) == every[now]
