"""Latency from the venue's data: the local clock, the feed latency, load against the own rate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from soakkit.sim.feed import estimate_exchange_ns, fit_clock, fit_load
from soakkit.sim.importers import import_binance_capture
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import LATENCY
from soakkit.sim.replay import replay_span
from soakkit.sim.tapefile import read_tape

from .conftest import REPO

NS = 10**9
USDM = REPO / "tests" / "data" / "tapes" / "capture" / "usdm-ethusdt-20240808.gz"


def _stamped(n: int = 50_000, seconds: float = 300.0, seed: int = 1
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Venue times, true latencies (lognormal above a 0.3 ms floor) and receive times on a
    clock 1.27 s behind that drifts by -5 ppm."""
    rng = np.random.default_rng(seed)
    venue = np.sort(rng.integers(0, round(seconds * NS), n)) + 1_723_161_600 * NS
    latency = (0.3e6 + rng.lognormal(np.log(2e6), 0.8, n)).astype(np.int64)
    true_local = venue + latency
    local = true_local - 1_270_000_000 - ((true_local - true_local[0]) * 5e-6).astype(np.int64)
    return venue, latency, local


def test_a_clock_behind_the_venue_is_aligned_on_its_fastest_messages() -> None:
    venue, latency, local = _stamped()
    fit = fit_clock(local, venue)
    assert fit.shifted
    assert fit.offset_ns / 1e6 == pytest.approx(-1270 + 0.3, abs=0.3)  # the floor is lost
    assert fit.drift_ppm == pytest.approx(-5.0, abs=0.5)
    measured = fit.to_exchange(local) - venue
    excess = measured - (latency - latency.min())
    assert np.abs(excess).max() < 0.5e6  # every latency above the fastest, within 0.5 ms
    assert fit.clipped < 0.001 * venue.size


def test_a_clock_never_behind_the_venue_is_trusted() -> None:
    venue, latency, _ = _stamped()
    fit = fit_clock(venue + latency, venue)
    assert not fit.shifted and np.array_equal(fit.to_exchange(venue + latency), venue + latency)


def test_messages_without_a_venue_time_take_the_latency_of_their_second() -> None:
    timed_local = np.array([1, 2, 3, 11, 12], dtype=np.int64) * NS // 10
    latency = np.array([1, 5, 3, 7, 7], dtype=np.int64) * 10**6
    got = estimate_exchange_ns(np.array([2 * NS // 10, 15 * NS // 10, 35 * NS // 10]),
                               timed_local, latency)
    # second 0: median 3 ms; second 1: median 7 ms; second 3 has none: the overall 5 ms
    assert (np.array([2 * NS // 10, 15 * NS // 10, 35 * NS // 10]) - got).tolist() == [
        3 * 10**6, 7 * 10**6, 5 * 10**6]


def test_the_load_response_is_fitted_against_the_own_message_rate() -> None:
    rng = np.random.default_rng(4)
    rate = rng.choice([50, 100, 100, 100, 200, 400], size=600)  # messages in each second
    ns = np.concatenate([s * NS + np.sort(rng.integers(0, NS, r)) for s, r in enumerate(rate)])
    activity = np.repeat(rate / 100.0, rate)
    latency = 2e6 * (1 + 0.4 * np.maximum(activity - 1, 0)) * rng.lognormal(0, 0.2, ns.size)
    fit = fit_load(ns, 0, 600 * NS, ns, latency.astype(np.int64))
    assert fit.ref_per_s == 100.0 and fit.max_per_s == 400.0
    assert fit.gain == pytest.approx(0.4, abs=0.05)
    assert fit.base_ms == pytest.approx(2.0, rel=0.05)
    assert fit_load(ns, 0, 600 * NS).gain is None  # no receive times: nothing to fit


def test_a_recorded_tape_measures_activity_against_its_own_rate(tmp_path: Path) -> None:
    import_binance_capture([USDM], tmp_path / "t")
    tape = read_tape(tmp_path / "t")
    counts = np.bincount((tape.message_ns - tape.start_ns) // NS)[:int(tape.duration_s)]
    assert tape.latency.activity_ref_per_s == float(np.median(counts))
    assert tape.latency.activity_ref_per_s != LATENCY.activity_ref_per_s
    assert tape.load.gain is not None and 0 <= tape.latency.activity_gain <= 5
    window = replay_span(tape, tape.start_ns, tape.start_ns + 8 * NS)
    assert window.latency == tape.latency
    assert window.activity(np.array([4 * NS]))[0] == pytest.approx(
        window.message_rate(np.array([4 * NS]))[0] / tape.latency.activity_ref_per_s)


def test_the_bot_sees_a_recorded_row_when_it_arrived() -> None:
    market = simulate_market("calm", 1, np.random.default_rng(2))
    local = market.quote_ns + 7_000_000  # every row arrives 7 ms late
    local[5] += 30_000_000  # one much later: the rows after it are seen first
    tape = replace(market, quote_local_ns=local)
    looks = np.array([market.quote_ns[5] + 6_000_000, market.quote_ns[6] + 7_000_000])
    seen = tape.seen_index(looks, np.zeros(2, np.int64))
    assert seen[0] == 4  # row 5 has not arrived yet
    assert looks[1] < local[5] and seen[1] == 6  # row 6 overtook it: the newest book wins
    blind = market.seen_index(looks, np.full(2, 7_000_000))  # no receive times: drawn delay
    assert blind.tolist() == [int(market.quote_index(looks[:1] - 7_000_000)[0]),
                              int(market.quote_index(looks[1:] - 7_000_000)[0])]
