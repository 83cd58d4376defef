"""Choosing a strategy: built-in names, ``module:Class``, entry points; and its parameters
going through config layering, provenance, the tuner's records and sweeps unchanged."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from soakkit.config.layers import resolve
from soakkit.config.params import ParamSpec, strategy_params
from soakkit.core.errors import ConfigError, UsageError
from soakkit.strategy.registry import load_strategy

from .conftest import assert_one_line_error, run_subprocess

#: A plugin strategy: joins the touch with a declared offset, in its own module.
PLUGIN = textwrap.dedent('''
    from soakkit.config.params import ParamSpec
    from soakkit.strategy import Quote, Strategy


    class Joiner(Strategy):
        name = "joiner"
        declared = (ParamSpec("joiner_offset_ticks", "int", "ticks", 0, 0, 5, 1, True,
                              "Ticks behind the best price."),)

        def on_step(self, step):
            off = self.ctx.params["joiner_offset_ticks"]
            if step.now_ns % 1_000_000_000 >= self.ctx.loop_ns:  # once a second
                return []
            return [Quote(1, step.book.bid_px - off, 2), Quote(-1, step.book.ask_px + off, 2)]


    class NotAStrategy:
        pass
''')


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    (folder / "sk_joiner").mkdir(parents=True)
    (folder / "sk_joiner" / "__init__.py").write_text(PLUGIN)
    info = folder / "sk_joiner-0.1.dist-info"  # an installed distribution, as pip leaves it
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sk-joiner\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[soakkit.strategies]\njoiner = sk_joiner:Joiner\n")
    return folder


def test_built_in_names_and_their_parameters() -> None:
    for name, own in (("legacy", "base_spread_bps"), ("avellaneda-stoikov", "as_gamma"),
                      ("glft", "glft_gamma")):
        params = load_strategy(name).params
        assert own in params and "min_interval_ms" in params
    assert "as_gamma" not in load_strategy("legacy").params


@pytest.mark.slow
def test_a_module_class_strategy_brings_its_parameters(plugin_path: Path, artifacts: Path
                                                       ) -> None:
    env = {"PYTHONPATH": str(plugin_path)}
    result = run_subprocess("soak", "--strategy", "sk_joiner:Joiner", "--iterations", "1",
                            "--sim-minutes", "1", "--set", "joiner_offset_ticks=2",
                            "--artifacts", str(artifacts), "--quiet", env=env)
    assert result.code in (0, 1), result.err
    (run,) = [p for p in (artifacts / "runs").iterdir() if p.is_dir()]
    doc = json.loads((run / "ITER_SUMMARY_1.json").read_text())
    assert doc["params"]["joiner_offset_ticks"] == {"value": 2,
                                                    "origin": "cli:--set joiner_offset_ticks=2"}
    explain = run_subprocess("config", "explain", "joiner_offset_ticks", "--profile",
                             "steady_safe", "--strategy", "sk_joiner:Joiner", env={
                                 **env, "SOAKKIT_PARAM_JOINER_OFFSET_TICKS": "3"})
    assert explain.code == 0, explain.err
    assert "bounds [0, 5]" in explain.out and "env:SOAKKIT_PARAM_JOINER_OFFSET_TICKS" in explain.out
    bad = run_subprocess("soak", "--strategy", "sk_joiner:Joiner", "--set",
                         "joiner_offset_ticks=9", "--artifacts", str(artifacts), env=env)
    assert bad.code == 2
    assert_one_line_error(bad, "joiner_offset_ticks", "out of bounds [0, 5]")


def test_an_installed_entry_point_is_a_strategy_name(plugin_path: Path, artifacts: Path) -> None:
    result = run_subprocess("sweep", "--strategies", "legacy,joiner", "--modes", "calm",
                            "--seeds", "1", "--tune", "off", "--iterations", "1",
                            "--sim-minutes", "1", "--workers", "1", "--set",
                            "min_interval_ms=65,80", "--artifacts", str(artifacts), "--quiet",
                            env={"PYTHONPATH": str(plugin_path)})
    assert result.code == 0, result.err


@pytest.mark.parametrize(("name", "said"), [
    ("nope", "unknown strategy; expected one of legacy, avellaneda-stoikov, glft"),
    ("glf", "did you mean 'glft'"),
    ("no_such_module:Thing", "cannot import 'no_such_module'"),
    ("sk_joiner:NotAStrategy", "sk_joiner.NotAStrategy is a class that does not subclass "
                               "soakkit.strategy.Strategy"),
    ("sk_joiner:Missing", "sk_joiner.Missing is not there: expected soakkit.strategy.Strategy"),
    ("exec:", "names no program"),
])
def test_a_strategy_that_cannot_be_used_is_one_line(plugin_path: Path, artifacts: Path,
                                                    name: str, said: str) -> None:
    result = run_subprocess("soak", "--strategy", name, "--artifacts", str(artifacts),
                            env={"PYTHONPATH": str(plugin_path)})
    assert result.code == 2
    assert_one_line_error(result, said)
    assert not (artifacts / "runs").exists()


def test_parameters_of_another_strategy_are_named_as_such() -> None:
    legacy = strategy_params("legacy")
    with pytest.raises(ConfigError, match=r"not a parameter of this run's strategy \(it belongs "
                                          r"to avellaneda-stoikov"):
        resolve("steady_safe", env={}, sets=["as_gamma=0.1"], params=legacy)
    glft = strategy_params("glft")
    cfg = resolve("steady_safe", env={}, params=glft)  # the profile's base_spread_bps: left out
    assert "base_spread_bps" not in cfg.values and cfg.values["glft_gamma"] == 0.03
    assert cfg.values["impact_cap_ratio"] == 0.16  # the engine's, from the profile


def test_declared_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="already a parameter of every strategy"):
        strategy_params("x:Y", (ParamSpec("min_interval_ms", "int", "ms", 1, 0, 2, 1, True, ""),))
    with pytest.raises(ValueError, match="a name is 1-64 characters"):
        strategy_params("x:Y", (ParamSpec("Bad-Name", "float", "", 1.0, 0.0, 2.0, 1.0, True, ""),))
    with pytest.raises(UsageError, match="--strategy"):
        load_strategy("")


def test_the_guide_s_example_strategy_runs(tmp_path: Path, artifacts: Path) -> None:
    """docs/STRATEGIES.md's Python example, as printed, soaks with its own parameter."""
    import re

    from .conftest import REPO

    guide = (REPO / "docs" / "STRATEGIES.md").read_text()
    example = re.search(r"```python\n(.*?)```", guide, flags=re.S)
    assert example is not None
    (tmp_path / "my_module.py").write_text(example.group(1))
    result = run_subprocess("soak", "--strategy", "my_module:Joiner", "--iterations", "1",
                            "--sim-minutes", "1", "--set", "joiner_offset_ticks=1",
                            "--artifacts", str(artifacts), "--quiet",
                            env={"PYTHONPATH": str(tmp_path)})
    assert result.code in (0, 1), result.err
    (run,) = [p for p in (artifacts / "runs").iterdir() if p.is_dir()]
    doc = json.loads((run / "ITER_SUMMARY_1.json").read_text())
    assert doc["summary"]["fill_count"] > 0
