"""The sim-to-real table: each profile replayed on a tape and run on its synthetic market."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from soakkit.evidence.sim_to_real import (
    AGREE_FILLS_RATIO,
    ProfileCell,
    SideResult,
    fidelity_study,
    sim_to_real,
)
from soakkit.sim.calibrate import write_market_profile
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import load_tape, record
from soakkit.sim.tapefile import write_tape
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import SoakOptions

from .conftest import REPO, assert_one_line_error, run_subprocess
from .test_calibrate_book import BOOK_MARKET, ORIGIN_NS

SAMPLE = REPO / "examples" / "tapes" / "binance-spot-btcusdt"


@pytest.fixture(scope="module")
def book_tape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three minutes recorded from the order-book market of the calibration tests."""
    folder = tmp_path_factory.mktemp("tape") / "book"
    return write_tape(folder, record(simulate_market("calm", 3, np.random.default_rng(4),
                                                     BOOK_MARKET), ORIGIN_NS))


def _side(fills: float, pnl: float) -> SideResult:
    return SideResult(fills, pnl, -1.0, 0.5, 4)


def test_a_cell_agrees_on_fills_within_half_to_double_and_the_same_pnl_sign() -> None:
    low, high = AGREE_FILLS_RATIO
    assert ProfileCell("p", _side(10, 1.0), _side(10 * low, 0.2)).agrees
    assert ProfileCell("p", _side(10, 1.0), _side(10 * high, 3.0)).agrees
    assert not ProfileCell("p", _side(10, 1.0), _side(10 * high + 0.1, 3.0)).agrees
    assert not ProfileCell("p", _side(10, 1.0), _side(4.9, 3.0)).fills_agree
    differs = ProfileCell("p", _side(10, 1.0), _side(10, -0.1))
    assert differs.fills_agree and not differs.pnl_agrees and not differs.agrees
    only_synthetic = ProfileCell("p", _side(0, 0.0), _side(3, 0.5))
    assert math.isinf(only_synthetic.fills_ratio) and not only_synthetic.agrees
    idle = ProfileCell("p", _side(0, 0.0), _side(0, 0.0))
    assert math.isnan(idle.fills_ratio) and idle.agrees
    assert only_synthetic.to_json()["fills_ratio"] == "inf"


def test_both_sides_are_the_soaks_they_stand_for(book_tape: Path, tmp_path: Path) -> None:
    """The replay side is the replay soak of the tape, the synthetic side the soak on the
    market, seed by seed; the verdict follows from the figures."""
    tape = load_tape(book_tape)
    report = sim_to_real(tape, BOOK_MARKET, minutes=2, seeds=[3, 4],
                         profiles=["aggressive", "ultra_safe"], artifacts=tmp_path)
    assert [c.profile for c in report.cells] == ["aggressive", "ultra_safe"]
    market = write_market_profile(tmp_path / "book.json", BOOK_MARKET)
    for cell in report.cells:
        for side, extra in (("replay", {"market_data": book_tape}),
                            ("synthetic", {"market": str(market), "mode": "mixed"})):
            kpis = [r.kpis for seed in (3, 4) for r in run_in_memory(SoakOptions(
                profile=cell.profile, iterations=2, sim_minutes=1, seed=seed,
                gate="production", tune=False, artifacts=tmp_path, **extra), env={})]
            got = getattr(cell, side)
            assert got.iterations == 4
            per_seed = [np.mean([k["pnl_usd"] for k in kpis[:2]]),
                        np.mean([k["pnl_usd"] for k in kpis[2:]])]
            assert got.pnl_positive_share == np.mean([p > 0 for p in per_seed])
            assert got.fills == pytest.approx(np.mean([k["fill_count"] for k in kpis]))
            assert got.pnl_usd == pytest.approx(np.mean([k["pnl_usd"] for k in kpis]))
        assert cell.replay.fills > 0 and cell.synthetic.fills > 0
        ratio = cell.synthetic.fills / cell.replay.fills
        assert cell.agrees == (AGREE_FILLS_RATIO[0] <= ratio <= AGREE_FILLS_RATIO[1]
                               and np.sign(cell.synthetic.pnl_usd)
                               == np.sign(cell.replay.pnl_usd))
    assert report.agree == sum(c.agrees for c in report.cells)
    doc = report.to_json()
    assert doc["seeds"] == [3, 4] and len(doc["cells"]) == 2  # type: ignore[arg-type]


def test_facts_only_when_no_profile_is_asked_for(book_tape: Path, tmp_path: Path) -> None:
    market = write_market_profile(tmp_path / "book.json", BOOK_MARKET)
    study = fidelity_study(book_tape, market=str(market), artifacts=tmp_path, minutes=1,
                           seeds=2, profiles=())
    assert study.table is None and study.to_json()["sim_to_real"] is None
    assert study.facts.tape == str(book_tape) and study.facts.market == "book"


def test_bad_profiles_are_one_line(book_tape: Path, tmp_path: Path) -> None:
    for profiles, fragment in (("steady_safe,nope", "--profiles 'nope': no such profile"),
                               ("steady_safe,", "--profiles 'steady_safe,': empty item"),
                               (",".join(["steady_safe"] * 2 + [f"p{i}" for i in range(8)]),
                                "expected 1 to 8 profiles")):
        done = run_subprocess("fidelity", str(book_tape), "--profiles", profiles,
                              "--artifacts", str(tmp_path))
        assert done.code == 2, (profiles, done.err)
        assert_one_line_error(done, fragment)


_SIDE = re.compile(r"^\s+(\S*)\s+(replay|synthetic)\s+([\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+|nan)"
                   r"\s+(\d+)%\s+(\d+)%$")


@pytest.mark.slow
def test_the_table_on_the_shipped_real_sample(tmp_path: Path) -> None:
    """Both sides ran on the real sample, and each printed verdict is the one its printed
    figures give."""
    out = tmp_path / "fidelity.json"
    done = run_subprocess("fidelity", str(SAMPLE), "--minutes", "2", "--seeds", "1",
                          "--profiles", "steady_safe,aggressive", "--out", str(out),
                          "--artifacts", str(tmp_path))
    assert done.code == 0, done.err
    assert done.err == ""  # progress only on a terminal
    sides = [m.groups() for m in map(_SIDE.match, done.out.splitlines()) if m]
    assert [s[1] for s in sides] == ["replay", "synthetic"] * 2
    verdicts = [line for line in done.out.splitlines() if "verdict" in line and "fills x" in line]
    doc = json.loads(out.read_text())
    table = doc["sim_to_real"]
    assert table["minutes"] == 2 and table["seeds"] == [0]
    for k, cell in enumerate(table["cells"]):
        replay, synthetic = (float(sides[2 * k][2]), float(sides[2 * k][3])), \
            (float(sides[2 * k + 1][2]), float(sides[2 * k + 1][3]))
        assert replay[0] > 0, "the replay traded"
        assert cell["replay"]["iterations"] == cell["synthetic"]["iterations"] == 2
        assert replay[0] == pytest.approx(cell["replay"]["fills_per_iteration"], abs=0.005)
        assert synthetic[0] == pytest.approx(cell["synthetic"]["fills_per_iteration"],
                                             abs=0.005)
        agrees = (AGREE_FILLS_RATIO[0] <= synthetic[0] / replay[0] <= AGREE_FILLS_RATIO[1]
                  and np.sign(synthetic[1]) == np.sign(replay[1]))
        assert cell["agrees"] == agrees
        assert verdicts[k].endswith("agrees" if agrees else "disagrees")
    assert f"{table['agree']} of 2 profiles agree" in done.out
    assert len(doc["facts"]) == 12


def test_the_report_checks_its_parameters_before_a_kernel_starts(book_tape: Path,
                                                                 tmp_path: Path) -> None:
    """``soakkit report fidelity``: no tape, a tape too short, an unknown profile or market
    are one line each, exit 2, before any kernel runs."""
    from soakkit.notebooks.checks import report_problems

    good = {"tape": str(book_tape), "minutes": None, "seeds": 2, "seed": 0,
            "profiles": "steady_safe", "market": None}
    assert report_problems("fidelity", good, tmp_path) == []
    assert report_problems("fidelity", {**good, "profiles": "none"}, tmp_path) == []
    problems = report_problems("fidelity", {**good, "tape": None}, tmp_path)
    assert problems == ["-p tape: give the tape folder to compare with"]
    problems = report_problems("fidelity", {**good, "minutes": 5, "profiles": "nope",
                                            "market": "gone"}, tmp_path)
    assert [p.split(":")[0] for p in problems] == ["-p tape", "-p profiles", "-p market"]
    assert "--minutes 5: the tape has 2 whole minute(s)" in problems[0]
    done = run_subprocess("report", "fidelity", "-p", "tape", str(book_tape), "-p", "seeds",
                          "0", "--out", str(tmp_path / "reports"), "--artifacts", str(tmp_path))
    assert done.code == 2
    assert_one_line_error(done, "-p seeds 0")
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
