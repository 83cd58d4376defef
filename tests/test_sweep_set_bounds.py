"""``soakkit sweep --set`` across several strategies: each cell's value against its own
strategy's bounds, never only the first strategy's."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soakkit.core.errors import UsageError
from soakkit.sweep.grid import build_grid
from soakkit.sweep.spec import SweepSpec

from .conftest import assert_one_line_error, run_subprocess

#: two plugin strategies declaring the same parameter with different bounds
PLUGINS = textwrap.dedent('''
    from soakkit.config.params import ParamSpec
    from soakkit.strategy.legacy import LegacyQuoter


    class Wide(LegacyQuoter):
        name = "wide"
        declared = (ParamSpec("offset_ticks", "int", "ticks", 0, 0, 9, 1, True, "Offset."),)

        def on_step(self, step):
            return super().on_step(step)


    class Narrow(Wide):
        name = "narrow"
        declared = (ParamSpec("offset_ticks", "int", "ticks", 0, 0, 2, 1, True, "Offset."),)
''')


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "sk_bounds.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _spec(tmp_path: Path, strategies: tuple[str, ...], values: tuple[str, ...]) -> SweepSpec:
    return SweepSpec(strategies=strategies, sets=(("offset_ticks", values),), seeds=(1,),
                     tune=(False,), iterations=1, sim_minutes=1, artifacts=tmp_path / "a")


@pytest.mark.parametrize("order", [("sk_bounds:Wide", "sk_bounds:Narrow"),
                                   ("sk_bounds:Narrow", "sk_bounds:Wide")])
def test_every_strategy_checks_the_value_against_its_own_bounds(plugins: Path, tmp_path: Path,
                                                                order: tuple[str, str]) -> None:
    with pytest.raises(UsageError) as caught:
        build_grid(_spec(tmp_path, order, ("1", "5")))
    assert str(caught.value) == ("--set offset_ticks=1,5: strategy sk_bounds:Narrow: "
                                 "offset_ticks: 5 is out of bounds [0, 2] ticks")
    grid = build_grid(_spec(tmp_path, order, ("0", "2")))  # inside both: a grid
    assert grid.set_values == ((0, 2),) and grid.size == 4


def test_the_cli_refuses_the_cell_out_of_its_strategy_bounds(plugins: Path,
                                                             tmp_path: Path) -> None:
    result = run_subprocess("sweep", "--strategies", "sk_bounds:Wide;sk_bounds:Narrow",
                            "--set", "offset_ticks=3", "--seeds", "1", "--tune", "off",
                            "--iterations", "1", "--sim-minutes", "1", "--artifacts",
                            str(tmp_path / "a"), env={"PYTHONPATH": str(plugins)})
    assert result.code == 2, result.err
    assert_one_line_error(result, "strategy sk_bounds:Narrow", "offset_ticks",
                          "3 is out of bounds [0, 2]")
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "a" / "sweeps").exists()
