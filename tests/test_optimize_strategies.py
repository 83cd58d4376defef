"""``soakkit optimize`` of a user's strategy: the example bot (``exec:``) and a ``module:Class``
plugin, each searching its own declared parameters end to end on a tiny study, and the
recommended profile carrying them (and usable as the next study's starting point)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO, run_subprocess

pytestmark = pytest.mark.slow  # each test runs whole studies: the full suite runs them

NOW = "2026-01-01T00:00:00Z"
BOT = f"exec:{sys.executable} {REPO / 'examples' / 'exec_bot.py'}"
#: One mode, one seed each side, one iteration of one simulated minute, in this process.
TINY = ["--modes", "calm", "--seeds", "1", "--eval-seeds", "2", "--iterations", "1",
        "--sim-minutes", "1", "--oos-top", "1", "--workers", "1", "--write-profile",
        "always", "--now", NOW, "--quiet"]

#: A plugin strategy with two declared parameters: joins the touch with an offset, sized.
PLUGIN = textwrap.dedent('''
    from soakkit.config.params import ParamSpec
    from soakkit.strategy import Quote, Strategy


    class Joiner(Strategy):
        name = "joiner"
        declared = (
            ParamSpec("joiner_offset_ticks", "int", "ticks", 2, 0, 5, 1, True,
                      "Ticks behind the best price."),
            ParamSpec("joiner_lots", "int", "lots", 2, 1, 8, 1, True, "Lots quoted a side."),
        )

        def on_step(self, step):
            off = self.ctx.params["joiner_offset_ticks"]
            lots = self.ctx.params["joiner_lots"]
            if step.now_ns % 1_000_000_000 >= self.ctx.loop_ns:  # once a second
                return []
            return [Quote(1, step.book.bid_px - off, lots),
                    Quote(-1, step.book.ask_px + off, lots)]
''')


def _study(art: Path, name: str) -> tuple[dict, dict | None, list[dict]]:  # type: ignore[type-arg]
    folder = art / "studies" / name
    result = json.loads((folder / "result.json").read_text())
    profile_file = art / "profiles" / f"{name}.json"
    profile = json.loads(profile_file.read_text()) if profile_file.exists() else None
    from soakkit.optimize.search import open_study
    from soakkit.optimize.store import StudyStore

    trials = [{"number": t.number, "params": t.params, "state": t.state.name}
              for t in open_study(StudyStore(folder), read_only=True).trials]
    return result, profile, trials


def _check_recommendation(art: Path, name: str, strategy: str, params: dict[str, tuple]
                          ) -> dict:  # type: ignore[type-arg]
    """The study searched ``params`` (name → bounds) and its profile carries them."""
    result, profile, trials = _study(art, name)
    assert all(t["state"] == "COMPLETE" for t in trials), trials
    for t in trials:
        assert set(t["params"]) == set(params)
        for n, (lo, hi) in params.items():
            assert lo <= t["params"][n] <= hi
    winner = result["evidence"]["winner"]
    assert winner["trial"] != 0, result  # these inputs: the search found better
    assert profile is not None, result
    assert profile["provenance"]["strategy"] == strategy
    assert profile["provenance"]["searched"] == list(params)
    assert {n: profile["params"][n] for n in params} == winner["values"]
    return profile


def test_a_study_of_the_example_exec_bot_recommends_its_own_parameters(tmp_path: Path) -> None:
    art = tmp_path / "a"
    # sampler seed 3: trial 1 joins the touch (most offsets of -2..20 never fill in a minute)
    argv = ["optimize", "--strategy", BOT, "--params", "bot_offset_ticks,bot_skew", *TINY,
            "--trials", "4", "--seed", "3", "--name", "bot", "--artifacts", str(art)]
    done = run_subprocess(*argv)
    assert done.code in (0, 1), done.err
    assert "Traceback" not in done.err
    profile = _check_recommendation(art, "bot", BOT, {"bot_offset_ticks": (-2, 20),
                                                      "bot_skew": (0.0, 2.0)})
    assert isinstance(profile["params"]["bot_offset_ticks"], int)
    shown = run_subprocess("config", "show", "--profile", "bot", "--strategy", BOT,
                           "--artifacts", str(art))
    assert shown.code == 0, shown.err
    assert "bot_offset_ticks" in shown.out and "study: bot" in shown.out


def test_a_study_of_a_module_class_strategy_and_one_from_its_recommendation(
        tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sk_opt_joiner.py").write_text(PLUGIN)
    env = {"PYTHONPATH": str(plugins)}
    art = tmp_path / "a"
    strategy = "sk_opt_joiner:Joiner"  # starts 2 ticks back; sampler seed 1 tries 1 tick
    bounds = {"joiner_offset_ticks": (0, 5), "joiner_lots": (1, 8)}
    done = run_subprocess("optimize", "--strategy", strategy, "--params",
                          ",".join(bounds), *TINY, "--trials", "4", "--seed", "1",
                          "--name", "joiner",
                          "--artifacts", str(art), env=env)
    assert done.code in (0, 1), done.err
    assert "Traceback" not in done.err
    first = _check_recommendation(art, "joiner", strategy, bounds)
    # the recommendation, carrying the strategy's own parameters, starts the next study
    again = run_subprocess("optimize", "--strategy", strategy, "--profile", "joiner",
                           "--params", "joiner_lots", *TINY, "--trials", "2",
                           "--write-profile", "never", "--name", "joiner-2",
                           "--artifacts", str(art), env=env)
    assert again.code in (0, 1), again.err
    _, _, trials = _study(art, "joiner-2")
    assert trials[0]["params"] == {"joiner_lots": first["params"]["joiner_lots"]}
