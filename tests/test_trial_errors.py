"""A strategy's error inside a trial window names the time the user finds in the iteration.

A trial cuts an iteration into windows (:func:`soakkit.soak.trading.plan_windows`), each
traded from its own start; the error's ``t=`` must count from the iteration's start (what
its ``ITER_SUMMARY``, the market's minutes and the regime labels count from), and say which
window the step number belongs to.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soakkit.config.layers import resolve
from soakkit.core.errors import StrategyError
from soakkit.core.io import clock_from
from soakkit.sim.tape import NS
from soakkit.soak import SoakOptions
from soakkit.soak.iteration import Session, run_iteration
from soakkit.soak.trading import plan_windows
from soakkit.strategy.engine import WINDOW, where_in
from soakkit.strategy.registry import load_strategy
from soakkit.tuning.guards import TunerState
from soakkit.tuning.store import MemoryRuntimeStore

#: fails at its sixth step in the second window it trades
PLUGIN = textwrap.dedent('''
    from soakkit.strategy.legacy import LegacyQuoter

    WINDOWS = []


    class FailsInTheSecondWindow(LegacyQuoter):
        name = "fails-late"

        def start(self, ctx):
            super().start(ctx)
            WINDOWS.append(ctx.duration_ns)

        def on_step(self, step):
            if len(WINDOWS) == 2 and step.now_ns >= 5 * self.ctx.loop_ns:
                raise RuntimeError("broken")
            return super().on_step(step)
''')


def test_where_in_counts_from_the_iteration_and_names_the_window() -> None:
    error = StrategyError(f"strategy x raised E: y at step 6 (t=0.325 s {WINDOW})")
    assert str(where_in(error, 3)) == "strategy x raised E: y at step 6 (t=0.325 s of iteration 3)"
    assert str(where_in(error, 3, 60 * NS)) == (
        "strategy x raised E: y at step 6 in the window from 60.000 s "
        "(t=60.325 s of iteration 3)")


def test_an_error_in_a_trial_window_gives_the_iteration_time(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    (tmp_path / "sk_fails_late.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    options = SoakOptions(profile="steady_safe", iterations=2, sim_minutes=4, mode="calm",
                          seed=3, tune=True, gate="production", artifacts=tmp_path / "a",
                          strategy="sk_fails_late:FailsInTheSecondWindow")
    params = load_strategy(options.strategy, {}).params
    cfg = resolve(options.profile, artifacts=options.artifacts, env={}, params=params)
    session = Session(options, "trial-error", clock_from("2026-01-01T00:00:00Z", {}), {},
                      cfg.profile.sha256)
    stable = {"tail_age_ms": float(cfg.values["tail_age_ms"]) * 2}
    # iteration 1 changed tail_age_ms: iteration 2 is a trial, stable vs candidate windows
    session.entries = [{"iteration": 1, "applied": False, "applied_deltas": {},
                        "state": TunerState().to_json(),
                        "trial": {"verdict": None, "windows": [], "pending": {
                            "change_iteration": 1, "rules": ["r"], "stable_values": stable,
                            "iterations": 0, "pairs": []}}}]
    windows = plan_windows(240.0, cfg.values, {**cfg.values, **stable})
    assert len(windows) == 4
    second = windows[1]
    loop_ms = float(second.params["min_interval_ms"])
    with pytest.raises(StrategyError) as caught:
        run_iteration(session, 2, MemoryRuntimeStore.new(cfg.profile.name, cfg.profile.sha256))
    message = str(caught.value)
    t = second.start_ns / NS + 5 * loop_ms / 1000
    assert f"at step 6 in the window from {second.start_ns / NS:.3f} s " \
           f"(t={t:.3f} s of iteration 2)" in message, message
    assert WINDOW not in message
