"""Calibration of the order-book market: known constants recovered from generated tapes,
jumps from few observations, regimes the tape never showed, and the stylized facts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from soakkit.core.errors import UsageError
from soakkit.sim.bookspec import BOOK_REGIMES, BookSpec
from soakkit.sim.calib_jumps import fit_jumps, fit_transitions
from soakkit.sim.calibrate import calibrate, read_market_profile, write_market_profile
from soakkit.sim.facts import FACTS, stylized_facts
from soakkit.sim.keyed import keyed_normal, keyed_uniform, purpose
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import DEFAULT_MARKET, REGIME_NAMES, REGIMES, regime_schedule
from soakkit.sim.replay import record
from soakkit.sim.strategy import run_strategy
from soakkit.sim.tape import NS, MarketTape

from .simhelp import params

ORIGIN_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z

#: an order-book market with known constants, on a grid fine enough (0.1 bp a tick) and
#: with levels close enough that its calm minutes read as calm to the labeller
BOOK_MARKET = dataclasses.replace(
    DEFAULT_MARKET, name="book", tick=0.5,
    regimes={r: dataclasses.replace(s, gap_bps=s.gap_bps / 4, walk_gap_bps=s.walk_gap_bps / 4)
             for r, s in BOOK_REGIMES.items()})

#: constants a 20-minute calm tape pins down, with their relative tolerance
RECOVERED = {"order_rate_per_s": 0.08, "order_median_usd": 0.05, "order_size_sigma": 0.08,
             "order_tail_alpha": 0.15, "half_spread_bps": 0.1, "depth_usd": 0.1,
             "deep_depth_usd": 0.1, "book_rate_per_s": 0.05, "cancel_share": 0.05,
             "add_median_usd": 0.05, "cancel_frac_median": 0.05, "gap_bps": 0.15,
             "fade_rate_per_s": 0.2, "improve_rate_per_s": 0.1, "meta_len_alpha": 0.15}


@pytest.mark.slow
def test_calibration_recovers_the_constants_of_an_order_book_tape() -> None:
    tape = simulate_market("calm", 20, np.random.default_rng(11), BOOK_MARKET)
    profile = calibrate(record(tape, ORIGIN_NS), "fitted")
    assert profile.order_book and profile.seen == ("calm",)
    truth, fit = BOOK_MARKET.regimes["calm"], profile.regimes["calm"]
    for name, rel in RECOVERED.items():
        assert getattr(fit, name) == pytest.approx(getattr(truth, name), rel=rel), name
    # regimes the tape never showed: derived, never entered by mixed
    assert profile.fit["derived"] == {"volatile": "from calm", "spike": "from calm"}
    mixed = simulate_market("mixed", 30, np.random.default_rng(2), profile)
    assert set(mixed.regime_by_minute.tolist()) == {REGIME_NAMES.index("calm")}


#: a market whose sweeps walk several levels, each deeper one holding more (depth × k)
DEEP_MARKET = dataclasses.replace(
    BOOK_MARKET, regimes={r: dataclasses.replace(s, walk_depth_usd=800.0, walk_growth=1.0)
                          for r, s in BOOK_MARKET.regimes.items()})


@pytest.mark.slow
def test_calibration_recovers_how_the_levels_a_sweep_walks_grow() -> None:
    fitted = {}
    for growth in (1.0, 0.0):
        market = dataclasses.replace(DEEP_MARKET, regimes={
            r: dataclasses.replace(s, walk_growth=growth) for r, s in DEEP_MARKET.regimes.items()})
        tape = simulate_market("calm", 60, np.random.default_rng(11), market)
        fitted[growth] = calibrate(record(tape, ORIGIN_NS), "fitted").regimes["calm"]
        # the first level a sweep walks is measured on the tape, the deeper ones follow
        assert fitted[growth].walk_depth_usd == pytest.approx(800.0, rel=0.2)
    # the large orders' reach is a noisy moment (a few of the largest weigh most): on an
    # hour of this market the fit lands within 20 % (seeds 11, 12: 1.20, 0.82; 0.29, 0.13)
    assert fitted[1.0].walk_growth == pytest.approx(1.0, rel=0.3)
    assert fitted[0.0].walk_growth < 0.4


def test_one_jump_in_one_minute_fits_a_positive_rate_with_an_interval() -> None:
    fit = fit_jumps(np.array([1]), np.array([5.0]), np.array([8.0]))
    assert fit is not None and fit.rate_per_min > 0
    assert 0 < fit.rate_interval[0] < fit.rate_per_min < fit.rate_interval[1]
    assert fit_jumps(np.zeros(0), np.zeros(0), np.zeros(0)) is None


def test_the_jump_estimator_recovers_a_known_rate_and_size() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.5, 400)
    counts = counts[counts > 0]  # only minutes with a jump are spike minutes
    excess = rng.exponential(20.0, int(counts.sum()))
    fit = fit_jumps(counts, excess, np.zeros(excess.size))
    assert fit is not None
    assert fit.rate_interval[0] <= 1.5 <= fit.rate_interval[1]
    assert fit.rate_per_min == pytest.approx(1.5, rel=0.1)
    assert fit.size_interval[0] <= 20.0 <= fit.size_interval[1]


@pytest.mark.slow
def test_calibration_recovers_the_jumps_of_a_generated_spike_tape() -> None:
    tape = simulate_market("spike", 60, np.random.default_rng(0))  # the classic market
    profile = calibrate(record(tape, ORIGIN_NS), "fitted")
    fit, truth = profile.regimes["spike"], REGIMES["spike"]
    assert fit.jump_rate_per_min == pytest.approx(truth.jump_rate_per_min, rel=0.35)
    assert fit.jump_bps == pytest.approx(truth.jump_bps, rel=0.2)
    jumps = profile.fit["jump_fit"]
    assert isinstance(jumps, dict) and jumps["detected"] > 0
    assert jumps["size_bps_90"][0] <= truth.jump_bps <= jumps["size_bps_90"][1]


def test_switching_stays_among_the_regimes_the_labels_showed() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    matrix = np.asarray(fit_transitions(labels))
    assert np.allclose(matrix.sum(axis=1), 1.0)
    assert (matrix[:2, 2] == 0).all()  # spike never entered
    schedule = regime_schedule("mixed", 500, np.random.default_rng(3), matrix,
                               ("calm", "volatile"))
    assert set(schedule.tolist()) == {0, 1}


def test_the_built_in_market_keeps_the_classic_generator() -> None:
    assert DEFAULT_MARKET.regimes is REGIMES and not DEFAULT_MARKET.order_book
    book = simulate_market("volatile", 2, np.random.default_rng(5), BOOK_MARKET)
    classic = simulate_market("volatile", 2, np.random.default_rng(5))
    b, c = stylized_facts(book), stylized_facts(classic)
    # the order book: a taker order prints once per maker order it meets
    assert b["prints_per_s"] > 1.5 * b["orders_per_s"]
    assert c["prints_per_s"] < 1.2 * c["orders_per_s"]


def test_an_order_book_profile_round_trips_and_a_classic_one_still_reads(
        tmp_path: Path) -> None:
    tape = simulate_market("calm", 3, np.random.default_rng(4), BOOK_MARKET)
    profile = calibrate(record(tape, ORIGIN_NS), "venue")
    path = write_market_profile(tmp_path / "venue.json", profile)
    back = read_market_profile(path)
    assert back.order_book and back.seen == profile.seen
    for r in REGIME_NAMES:  # JSON keeps 10 significant digits
        assert dataclasses.astuple(back.regimes[r]) == pytest.approx(
            dataclasses.astuple(profile.regimes[r]))
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 2
    classic = dataclasses.replace(DEFAULT_MARKET, name="old")
    old = read_market_profile(write_market_profile(tmp_path / "old.json", classic))
    assert json.loads((tmp_path / "old.json").read_text())["schema_version"] == 1
    assert not old.order_book and old.regimes == REGIMES
    for spec in doc["regimes"].values():  # written before the depth profile of sweeps
        del spec["walk_growth"]
    (tmp_path / "before.json").write_text(json.dumps(doc))
    assert all(read_market_profile(tmp_path / "before.json").regimes[r].walk_growth == 0.0
               for r in REGIME_NAMES)
    doc["schema_version"] = 7
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match=r"bad\.json: schema_version: expected one of 1, 2"):
        read_market_profile(tmp_path / "bad.json")


def _tape(trades: list[tuple[float, int, int, float]], quotes: list[tuple[float, int, int]],
          seconds: float) -> MarketTape:
    t = np.array([row[0] for row in trades])
    q = np.array([row[0] for row in quotes])
    return MarketTape(
        duration_s=seconds, tick=1.0, lot=1.0, regime_by_minute=np.zeros(1, np.int64),
        trade_ns=np.round(t * NS).astype(np.int64),
        trade_side=np.array([row[1] for row in trades], np.int8),
        trade_px=np.array([row[2] for row in trades], np.int64),
        trade_qty=np.array([row[3] for row in trades]),
        quote_ns=np.round(q * NS).astype(np.int64),
        bid_px=np.array([row[1] for row in quotes], np.int64),
        bid_qty=np.ones(q.size), ask_px=np.array([row[2] for row in quotes], np.int64),
        ask_qty=np.ones(q.size), bursts=0, jumps=0)


def test_the_stylized_facts_of_a_hand_made_tape() -> None:
    # three taker orders: a buy of three prints, a buy of one, a sell of two
    trades = [(1.0, 1, 101, 10.0), (1.0, 1, 101, 20.0), (1.0, 1, 102, 30.0),
              (2.0, 1, 101, 40.0), (3.0, -1, 100, 5.0), (3.0, -1, 100, 5.0)]
    quotes = [(0.0, 100, 101), (6.0, 100, 103)]  # spread 1 tick for 6 s, then 3 for 4 s
    facts = stylized_facts(_tape(trades, quotes, 10.0))
    assert set(facts) == {f.key for f in FACTS}
    assert facts["prints_per_s"] == pytest.approx(0.6)
    assert facts["orders_per_s"] == pytest.approx(0.3)
    assert facts["buy_share"] == pytest.approx(2 / 3)
    order_usd = sorted([10 * 101 + 20 * 101 + 30 * 102, 40 * 101, 10 * 100])
    assert facts["order_median_usd"] == pytest.approx(order_usd[1])
    assert facts["spread_median_ticks"] == 1.0
    assert facts["spread_mean_ticks"] == pytest.approx(1.8)
    signs = np.array([1, 1, 1, 1, -1, -1], float) - 1 / 3
    assert facts["trade_sign_ac1"] == pytest.approx(
        (signs[1:] * signs[:-1]).sum() / (signs**2).sum())
    assert facts["ret_std_bps"] > 0  # the mid moved once, at 6 s


def test_a_calibrated_profile_has_book_regimes_for_every_name() -> None:
    tape = simulate_market("calm", 2, np.random.default_rng(8), BOOK_MARKET)
    profile = calibrate(record(tape, ORIGIN_NS), "venue")
    assert all(isinstance(profile.regimes[r], BookSpec) for r in REGIME_NAMES)


def _before(tape: MarketTape, end_ns: int) -> MarketTape:
    """``tape`` with every trade and quote at or after ``end_ns`` removed."""
    k = int(np.searchsorted(tape.trade_ns, end_ns))
    q = int(np.searchsorted(tape.quote_ns, end_ns))
    return dataclasses.replace(
        tape, trade_ns=tape.trade_ns[:k], trade_side=tape.trade_side[:k],
        trade_px=tape.trade_px[:k], trade_qty=tape.trade_qty[:k], quote_ns=tape.quote_ns[:q],
        bid_px=tape.bid_px[:q], ask_px=tape.ask_px[:q], bid_qty=tape.bid_qty[:q],
        ask_qty=tape.ask_qty[:q])


def test_keyed_latency_draws_keep_the_past_from_depending_on_the_future() -> None:
    """The same market with and without its events after 100 s: with latency draws keyed by
    event (an order-book market's), every fill before 100 s is the same; with draws taken
    by array position (the classic market's), the later events shift earlier fills."""
    tape = simulate_market("volatile", 3, np.random.default_rng(3), BOOK_MARKET)
    assert tape.latency.keyed
    cut = 100 * NS
    outcomes = []
    for keyed in (True, False):
        full = dataclasses.replace(tape, latency=dataclasses.replace(tape.latency, keyed=keyed))
        a, b = (run_strategy(t, params(), np.random.default_rng(9)).fills
                for t in (full, _before(full, cut)))
        early_a, early_b = a.ns < cut, b.ns < cut
        outcomes.append(early_a.sum() == early_b.sum() and all(
            np.array_equal(x[early_a], y[early_b])
            for x, y in ((a.ns, b.ns), (a.lots, b.lots), (a.ticks, b.ticks), (a.side, b.side))))
        assert early_a.sum() > 100
    assert outcomes == [True, False]


def test_keyed_draws_are_functions_of_their_keys() -> None:
    t = np.arange(10_000, dtype=np.int64) * 1_000
    u = keyed_uniform(7, purpose("entry"), t)
    assert ((u > 0) & (u < 1)).all() and abs(float(u.mean()) - 0.5) < 0.02
    assert np.array_equal(keyed_uniform(7, purpose("entry"), t[5_000:]), u[5_000:])
    assert not np.array_equal(keyed_uniform(8, purpose("entry"), t), u)
    z = keyed_normal(7, purpose("ack"), t)
    assert abs(float(z.std()) - 1.0) < 0.05
