"""Run ids are made and read back by one pair of functions (soakkit.artifacts.runid)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from soakkit.artifacts.runid import RunIdParts, make_run_id, parse_run_id
from soakkit.config.params import BUILTIN_STRATEGIES

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("strategy", [*BUILTIN_STRATEGIES, "mymodule:MyBot",
                                      "exec:python3 examples/exec_bot.py"])
@pytest.mark.parametrize("tune", [True, False])
def test_every_strategy_s_run_id_reads_back(strategy: str, tune: bool) -> None:
    """A strategy's part may hold a hyphen (avellaneda-stoikov, custom-<hash>): the id still
    says its profile, market and tuner, with or without a ``-2`` for a second run."""
    run_id = make_run_id(STARTED, "steady_safe", "mixed.my-venue", 7, tune=tune,
                         strategy=strategy)
    expected = RunIdParts("steady_safe", "mixed", tune)
    assert parse_run_id(run_id) == expected
    assert parse_run_id(f"{run_id}-2") == expected


def test_an_id_made_elsewhere_is_not_read_as_one_of_ours() -> None:
    assert parse_run_id("my-own-run") is None
    assert parse_run_id("20260101T000000Z-steady_safe-mixed-s7-tuned-some-other-thing") is None


@pytest.mark.parametrize("strategy", ["legacy", "glft", "avellaneda-stoikov", "mymodule:MyBot"])
def test_a_sweep_cell_s_run_id_says_what_the_run_is_in_a_soak_run_id_s_order(strategy: str
                                                                             ) -> None:
    """One body for both: a soak run's id is a start time and the body, a sweep cell's the
    body and its key; the strategy comes after the tuner in both."""
    from soakkit.artifacts.runid import run_id_body
    from soakkit.sweep.task import cell_run_id

    key = "1a2b3c4d5e6f" + "0" * 52
    body = run_id_body("steady_safe", "volatile", 7, tune=False, strategy=strategy)
    soak = make_run_id(STARTED, "steady_safe", "volatile", 7, tune=False, strategy=strategy)
    cell = cell_run_id("steady_safe", "volatile", False, 7, key, strategy)
    assert soak == f"20260101T000000Z-{body}"
    assert cell == f"{body}-1a2b3c4d5e6f"
    assert body.startswith("steady_safe-volatile-s7-untuned")
    assert parse_run_id(soak) == RunIdParts("steady_safe", "volatile", False)
