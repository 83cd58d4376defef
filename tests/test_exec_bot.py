"""``--strategy exec:PROGRAM``: the example bot soaks, sweeps and replays; a bot that fails ends
the run with one line, and what was written before stays.

Every bot here is a real program (the example under ``examples/``, or a few lines of
Python written into the test's folder) run by a real ``soakkit`` process.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO, assert_one_line_error, run_subprocess

BOT = f"exec:{sys.executable} {REPO / 'examples' / 'exec_bot.py'}"

#: The protocol loop every test bot here runs: ``<<SETUP>>`` first, then the answer to
#: ``start`` (``<<START>>``) and to each ``step`` (``<<STEP>>``, with ``msg``), as lines.
_LOOP = '''
import json, os, sys, time
<<SETUP>>
for line in sys.stdin:
    msg = json.loads(line)
    kind = msg["type"]
    if kind == "describe":
        print(json.dumps({"type": "describe", "params": []}), flush=True)
    elif kind == "start":
<<START>>
    elif kind == "step":
<<STEP>>
    else:
        break
'''


def _program(setup: str, start: str, step: str) -> str:
    """A test bot's source: :data:`_LOOP` with its three parts (dedented code)."""
    def block(code: str, indent: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), indent)
    return (_LOOP.replace("<<SETUP>>", block(setup, "")).replace("<<START>>", block(start, " " * 8))
            .replace("<<STEP>>", block(step, " " * 8)))


#: A bot that answers correctly until it misbehaves on its ``FAIL_AT``-th step of the
#: ``FAIL_START``-th window it is started for (windows counted in a file beside it).
_FLAKY = _program('''
    HERE = os.path.dirname(os.path.abspath(__file__))
    count_file = os.path.join(HERE, "starts")
    steps = 0
''', '''
    starts = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
    open(count_file, "w").write(str(starts))
    print('{"type": "ready"}', flush=True)
''', '''
    steps += 1
    if starts == FAIL_START and steps == FAIL_AT:
        MISBEHAVE
    print('{"actions": []}', flush=True)
''')
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


_COUNTER = _program('''
    log = open(sys.argv[1], "w")
    trades = updates = 0
''', '''
    print('{"type": "ready"}', flush=True)
''', '''
    trades += len(msg["trades"])
    updates += len(msg["updates"])
    log.write(f"{msg['now']} {msg['seen']} {trades} {updates}\\n")
    log.flush()
    wake = {"at": msg["now"] + 1_000_000_000} if SLEEPY else None
    print(json.dumps({"actions": [], "wake": wake}), flush=True)
''')


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


#: A bot that subscribes to ``FEED`` (``None``: says nothing, as a protocol-1 bot) and logs,
#: at every step, how many trades and updates it was sent (-1: the key was absent).
_SUBSCRIBER = _program('''
    log = open(sys.argv[1], "w")
    feed = FEED
''', '''
    ready = {"type": "ready"} if feed is None else {"type": "ready", "feed": feed}
    print(json.dumps(ready), flush=True)
''', '''
    log.write(f"{msg['now']} {len(msg['trades']) if 'trades' in msg else -1} "
              f"{len(msg['updates']) if 'updates' in msg else -1} {len(msg['reports'])}\\n")
    print(json.dumps({"actions": [], "wake": {"at": msg["now"] + 300_000_000}}), flush=True)
''')


def _engine_run(tmp_path: Path, source: str, label: str, tape=None,  # type: ignore[no-untyped-def]
                changes: dict[str, float] | None = None, args: str = ""):
    """Run a bot's source (``sys.argv[1]``: a log file beside it, then ``args``) on the
    engine in process, with steady_safe's values (and ``changes``)."""
    import numpy as np

    from soakkit.config.layers import resolve
    from soakkit.sim.market import simulate_market
    from soakkit.strategy.engine import run_engine
    from soakkit.strategy.registry import load_strategy

    bot = tmp_path / f"{label}.py"
    bot.write_text(source)
    ref = load_strategy(f"exec:{sys.executable} {bot} {tmp_path / f'{label}.log'} {args}")
    values = {**resolve("steady_safe", env={}, params=ref.params).values, **(changes or {})}
    tape = tape if tape is not None else simulate_market("volatile", 1, np.random.default_rng(2))
    return run_engine(tape, ref.factory(), values, np.random.default_rng(0))


def _logged(path: Path) -> list[tuple[int, ...]]:
    return [tuple(int(x) for x in line.split()) for line in path.read_text().splitlines()]


def test_a_bot_gets_the_row_streams_it_subscribed_to_and_only_those(tmp_path: Path) -> None:
    feeds = {"default": None, "both": ["trades", "updates"], "trades": ["trades"],
             "updates": ["updates"], "none": []}
    logs = {}
    for label, feed in feeds.items():
        _engine_run(tmp_path, _SUBSCRIBER.replace("FEED", repr(feed)), label)
        logs[label] = _logged(tmp_path / f"{label}.log")
    full = logs["default"]
    assert len(full) > 150 and sum(t for _, t, _, _ in full) > 100
    assert sum(u for _, _, u, _ in full) > 100
    assert logs["both"] == full  # the default is every stream, as before subscriptions
    steps = [(now, reports) for now, _, _, reports in full]
    for label in ("trades", "updates", "none"):  # called at the same steps, with the same
        assert [(now, reports) for now, _, _, reports in logs[label]] == steps  # answers
    assert [row[:2] for row in logs["trades"]] == [row[:2] for row in full]
    assert all(u == -1 for _, _, u, _ in logs["trades"])
    assert [(now, u) for now, _, u, _ in logs["updates"]] == [(now, u) for now, _, u, _ in full]
    assert all(t == -1 for _, t, _, _ in logs["updates"])
    assert all(t == u == -1 for _, t, u, _ in logs["none"])


@pytest.mark.parametrize(("feed", "shown"), [('"trades"', "'\"trades\"'"),
                                             ('["trades", "depth"]', "'[\"trades\", \"depth\"]'"),
                                             ('{"trades": 1}', "'{\"trades\": 1}'")])
def test_a_junk_feed_ends_the_run_in_one_line_naming_the_program(tmp_path: Path, feed: str,
                                                                  shown: str) -> None:
    from soakkit.core.errors import StrategyError

    source = _SUBSCRIBER.replace("FEED", feed.replace('"', "'"))
    with pytest.raises(StrategyError) as raised:
        _engine_run(tmp_path, source, "junk")
    said = str(raised.value)
    assert said.startswith(f"strategy exec:{sys.executable} {tmp_path / 'junk.py'} ")
    assert f"wrote junk (a feed {shown} in its ready answer" in said
    assert said.endswith(" at start") and "\n" not in said


def test_a_junk_feed_is_one_line_from_the_cli(tmp_path: Path) -> None:
    bot = tmp_path / "bot.py"
    bot.write_text(_SUBSCRIBER.replace("FEED", "'all'").replace("sys.argv[1]", "os.devnull"))
    strategy = f"exec:{sys.executable} {bot}"
    result = run_subprocess("soak", "--strategy", strategy, "--iterations", "1",
                            "--sim-minutes", "1", "--no-tune", "--artifacts",
                            str(tmp_path / "a"), "--quiet")
    assert result.code == 1, result.err
    assert_one_line_error(result, f"strategy {strategy} wrote junk (a feed '\"all\"' in its "
                                  "ready answer")
    assert len(result.err.strip().splitlines()) == 1


def test_the_example_bot_fills_the_same_as_its_protocol_1_form(tmp_path: Path) -> None:
    """The example bot subscribes to no rows and sleeps through the answers that would not
    change what it does (``wake``'s ``orders`` and ``position``, and ``held``); as it was
    first written for protocol 1 (``--protocol-1``: every row, woken by every answer) it
    places the same orders and gets the same fills: on a
    synthetic market and on the real BTCUSDT capture, with steady_safe's values (it
    unloads past its limit) and with a tight limit and a strong skew (some of its quotes
    have 0 lots)."""
    import numpy as np

    from soakkit.sim.market import simulate_market
    from soakkit.sim.replay import load_tape, replay_window
    source = (REPO / "examples" / "exec_bot.py").read_text()
    capture = load_tape(REPO / "examples" / "tapes" / "binance-spot-btcusdt")
    markets = (simulate_market("volatile", 3, np.random.default_rng(4)),
               replay_window(capture, 2, 1))
    tight = {"bot_skew": 2.0, "position_limit_notional": 300.0}
    for tape, changes in itertools.product(markets, ({}, tight)):
        results = [_engine_run(tmp_path, source, "bot", tape, changes, args)
                   for args in ("", "--protocol-1")]
        first, other = results
        assert first.orders is not None and other.orders is not None
        assert first.orders.size.size > 20 and first.fills.ns.size > 5
        for field in ("decide_ns", "side", "price", "size"):
            assert getattr(first.orders, field).tolist() == getattr(other.orders,
                                                                    field).tolist()
        for field in ("ns", "side", "lots", "ticks"):
            assert (getattr(first.fills, field).tolist()
                    == getattr(other.fills, field).tolist())
        assert first.unloads == other.unloads


#: A bot that quotes both sides at its first step and every ``EVERY`` s after, and sleeps
#: with ``WAKE`` (``{}``: woken by every answer); it logs every answer it is sent.
_WATCHER = _program('''
    log = open(sys.argv[1], "w")
    wake = WAKE
    quoted = -1
''', '''
    print(json.dumps({"type": "ready", "feed": []}), flush=True)
''', '''
    held = msg.get("held", 0)
    for i, report in enumerate(msg["reports"]):
        log.write(f"{msg['now']} {json.dumps(report)} {'held' if i < held else 'new'}\\n")
    log.write(f"{msg['now']} step {msg['position']}\\n")
    actions = []
    second = msg["now"] // 2_000_000_000
    if second != quoted:
        quoted = second
        bid, _, ask, _ = msg["book"]
        actions = [["quote", 1, bid - 1, 1], ["quote", -1, ask + 1, 1]]
    at = (second + 1) * 2_000_000_000
    print(json.dumps({"actions": actions, "wake": {"at": at, **wake}}), flush=True)
''')


def test_a_bot_sleeps_through_the_answers_it_does_not_watch_and_gets_them_later(
        tmp_path: Path) -> None:
    """``wake``'s ``orders``: only answers about those orders that end them or are not an
    acceptance or a partial fill wake the program, or a position outside ``position``;
    every other answer comes with the next message, in order, none lost."""
    def run(label: str, wake: str) -> list[list[str]]:
        _engine_run(tmp_path, _WATCHER.replace("WAKE", wake), label)
        return [line.split(" ", 1) for line in (tmp_path / f"{label}.log").read_text()
                .splitlines()]

    every = run("every", "{}")
    none = run("none", '{"orders": []}')
    first = run("first", '{"orders": [1]}')
    flat = run("flat", '{"orders": [], "position": [0, 0]}')

    def answers(log: list[list[str]]) -> list[str]:
        return [what.rsplit(" ", 1)[0] for _, what in log if not what.startswith("step")]

    def steps(log: list[list[str]]) -> list[int]:
        return [int(now) for now, what in log if what.startswith("step")]

    assert len(answers(every)) > 40
    for log in (none, first, flat):  # the same answers in the same order: none lost, but
        got = answers(log)  # those that came after the program's last call
        after = [what.rsplit(" ", 1)[0] for now, what in every
                 if not what.startswith("step") and int(now) > steps(log)[-1]]
        assert got + after == answers(every) and len(after) < 10
        came = {what.rsplit(" ", 1)[0]: int(now) for now, what in every
                if not what.startswith("step")}
        for now, what in log:  # "held" counts exactly those that came at an earlier step
            if not what.startswith("step"):
                report, how = what.rsplit(" ", 1)
                assert (came[report] < int(now)) == (how == "held")
    assert all(what.endswith(" new") for _, what in every if not what.startswith("step"))
    assert [now // (2 * 10**9) for now in steps(none)] == list(range(30))  # time alone
    assert len(steps(none)) == 30 < len(steps(first)) < len(steps(every))
    first_answers = [(json.loads(what.rsplit(" ", 1)[0]), what.rsplit(" ", 1)[1])
                     for _, what in first if what.startswith("[")]
    ends = [how for (kind, order_id, _, _, _, left), how in first_answers
            if order_id == 1 and kind != "accepted" and (kind != "fill" or left == 0)]
    assert ends == ["new"]  # order 1's end woke it when it came
    moved = [int(now) for now, what in flat if what.startswith("step")
             and what != "step 0"]
    assert moved and set(steps(flat)) - set(steps(none))  # position left [0, 0]: woken


def test_a_junk_wake_ends_the_run_in_one_line(tmp_path: Path) -> None:
    from soakkit.core.errors import StrategyError

    for wake in ('{"orders": 1}', '{"orders": [True]}', '{"position": [0]}', '{"when": 5}'):
        with pytest.raises(StrategyError) as raised:
            _engine_run(tmp_path, _WATCHER.replace("WAKE", wake), "junk")
        said = str(raised.value)
        assert "wrote junk (a wake " in said and '"orders": [id, ...]' in said, said
        assert "at step 1 (t=0.000 s of the window)" in said and "\n" not in said
