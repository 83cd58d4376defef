"""`soakkit fidelity`: the stylized facts of a tape against its synthetic market."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from soakkit.sim.facts import FACTS
from soakkit.sim.fidelity import FACT_TOLERANCE, FactRow, fidelity
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import record
from soakkit.sim.tapefile import read_tape, write_tape

from .conftest import REPO, assert_one_line_error, run_subprocess
from .test_calibrate_book import BOOK_MARKET, ORIGIN_NS


def test_a_market_passes_for_itself(tmp_path: Path) -> None:
    """Facts of a tape a calm-only market generated, against that market: all but the
    noisiest (1-s return kurtosis) within 25 %."""
    calm = dataclasses.replace(BOOK_MARKET, seen=("calm",), transitions=tuple(
        tuple(float(x) for x in row) for row in np.eye(3)))
    tape = record(simulate_market("calm", 11, np.random.default_rng(6), calm), ORIGIN_NS)
    report = fidelity(tape, calm, minutes=10, seeds=8)
    assert [row.key for row in report.rows] == [f.key for f in FACTS]
    assert report.minutes == 10 and report.seeds == 8 and report.market == "book"
    assert report.within >= 11, [r for r in report.rows if not r.within]
    assert all(r.low <= r.synthetic <= r.high for r in report.rows)
    doc = report.to_json()
    assert doc["tolerance"] == FACT_TOLERANCE and len(doc["facts"]) == 12  # type: ignore[arg-type]


def test_the_verdict_is_a_relative_band() -> None:
    row = FactRow("x", "x", "", real=10.0, synthetic=12.5, low=9.0, high=14.0)
    assert row.within
    assert not FactRow("x", "x", "", 10.0, 12.6, 9.0, 14.0).within


@pytest.mark.slow
def test_the_cli_on_the_shipped_real_sample(tmp_path: Path) -> None:
    sample = REPO / "examples" / "tapes" / "binance-spot-btcusdt"
    out = tmp_path / "facts.json"
    done = run_subprocess("fidelity", str(sample), "--seeds", "2", "--minutes", "2",
                          "--out", str(out))
    assert done.code == 0, done.err
    assert "real vs market 'binance-spot-btcusdt'" in done.out
    assert "facts within 25%" in done.out and "order-sign autocorrelation" in done.out
    doc = json.loads(out.read_text())
    assert doc["minutes"] == 2 and doc["seeds"] == 2 and len(doc["facts"]) == 12
    again = run_subprocess("fidelity", str(sample), "--out", str(out))
    assert again.code == 2
    assert_one_line_error(again, "facts.json: the file exists")


def test_bad_fidelity_arguments_are_one_line(tmp_path: Path) -> None:
    folder = write_tape(tmp_path / "tape", record(simulate_market(
        "calm", 2, np.random.default_rng(1), BOOK_MARKET), ORIGIN_NS))
    assert read_tape(folder).duration_s < 120  # one whole minute
    for args, fragment in ((["--seeds", "0"], "--seeds"), (["--minutes", "5"], "--minutes 5"),
                           (["--market", "nope", "--artifacts", str(tmp_path)],
                            "--market nope: no market profile")):
        done = run_subprocess("fidelity", str(folder), *args)
        assert done.code == 2, args
        assert_one_line_error(done, fragment)
