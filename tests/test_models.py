"""Avellaneda–Stoikov and GLFT: their formulas, their quotes on a market, their estimates,
and the three built-ins in soak, sweep and replay."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from soakkit.config.layers import resolve
from soakkit.config.params import strategy_params
from soakkit.sim.calibrate import calibrate, write_market_profile
from soakkit.sim.intensity import fit_prior
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import QUOTING_PRIOR
from soakkit.sim.replay import record
from soakkit.soak import SoakOptions, run_soak
from soakkit.soak.iteration import Session
from soakkit.strategy.api import QuotingPrior, Step, StrategyContext
from soakkit.strategy.engine import run_engine
from soakkit.strategy.models import AvellanedaStoikov, Glft

from .conftest import REPO, run_subprocess

PRIOR = QuotingPrior(sigma_bps=3.0, a_per_s=20.0, kappa_per_bps=0.7)


def _started(cls, **values: float):  # type: ignore[no-untyped-def]
    name = cls.name
    params = {**dict(resolve("steady_safe", env={}, params=strategy_params(name)).values),
              **values}
    from soakkit.strategy.api import Instrument

    strategy = cls()
    strategy.start(StrategyContext(Instrument(5.0, 0.0001), params, 60 * 10**9, 65_000_000,
                                   PRIOR))
    return strategy


def test_avellaneda_stoikov_depths_are_the_closed_form() -> None:
    s = _started(AvellanedaStoikov, as_gamma=0.1, as_horizon_s=4.0)
    risk = 0.1 * 3.0**2 * 4.0  # gamma sigma^2 tau
    half = risk / 2 + math.log(1 + 0.1 / 0.7) / 0.1
    assert s.depths(0.0) == pytest.approx((half, half))
    bid, ask = s.depths(2.0)  # long two quote sizes: reservation price 2 risk lower
    assert (bid, ask) == pytest.approx((half + 2 * risk, half - 2 * risk))


def test_glft_depths_are_the_closed_form() -> None:
    s = _started(Glft, glft_gamma=0.2)
    g, k, a, sigma = 0.2, 0.7, 20.0, 3.0
    c1 = math.log(1 + g / k) / g
    c2 = math.sqrt(g / (2 * a * k) * (1 + g / k) ** (k / g + 1))
    assert s.depths(0.0) == pytest.approx((c1 + sigma * c2 / 2,) * 2)
    bid, ask = s.depths(-3.0)  # short: the bid comes closer, the ask moves away
    assert bid == pytest.approx(c1 + sigma * c2 / 2 - 3 * sigma * c2)
    assert ask == pytest.approx(c1 + sigma * c2 / 2 + 3 * sigma * c2)


@pytest.mark.parametrize("cls", [AvellanedaStoikov, Glft])
@pytest.mark.parametrize("mode", ["calm", "spike"])
def test_the_models_never_cross_the_book_or_their_own_quotes(cls, mode: str) -> None:  # type: ignore[no-untyped-def]
    checked = []

    class Checked(cls):  # type: ignore[misc, valid-type]
        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            actions = super().on_step(step)
            quotes = {a.side: a.price for a in actions if hasattr(a, "price")}
            for side, price in quotes.items():
                assert price < step.book.ask_px if side > 0 else price > step.book.bid_px
            live = {o.side: o.price for o in step.orders.values() if not o.taker
                    and o.status != "cancelling"}
            bid, ask = quotes.get(1, live.get(1)), quotes.get(-1, live.get(-1))
            if bid is not None and ask is not None and (1 in quotes or -1 in quotes):
                assert bid < ask
                checked.append(ask - bid)
            return actions

    values = dict(resolve("aggressive", env={}, params=strategy_params(cls.name)).values)
    tape = simulate_market(mode, 3, np.random.default_rng(4))
    result = run_engine(tape, Checked(), values, np.random.default_rng(1))
    assert len(checked) > 100 and result.fills.ns.size > 50
    limit_lots = values["position_limit_notional"] / (tape.mid_px.max() * tape.lot)
    assert np.abs(result.fills.position_lots).max() < 2 * limit_lots


def test_the_default_prior_is_the_fit_of_the_default_market() -> None:
    fits = []
    for seed in range(1, 9):
        t = simulate_market("mixed", 60, np.random.default_rng(seed))
        fit = fit_prior(t.trade_ns, t.trade_side, t.trade_px, t.quote_ns, t.bid_px, t.ask_px, 0,
                        round(t.duration_s * 1e9))
        assert fit is not None
        fits.append(fit)
    for key, constant in (("sigma_bps", QUOTING_PRIOR.sigma_bps),
                          ("a_per_s", QUOTING_PRIOR.a_per_s),
                          ("kappa_per_bps", QUOTING_PRIOR.kappa_per_bps)):
        assert statistics.median(f[key] for f in fits) == pytest.approx(constant, rel=0.02), key


def test_the_online_estimates_move_from_the_prior_to_the_market() -> None:
    """A model on a calm market starts from a wild prior and ends near the calm fit."""
    tape = simulate_market("calm", 6, np.random.default_rng(2))
    truth = fit_prior(tape.trade_ns, tape.trade_side, tape.trade_px, tape.quote_ns, tape.bid_px,
                      tape.ask_px, 0, round(tape.duration_s * 1e9))
    assert truth is not None
    seen = []

    class Watched(Glft):
        def on_step(self, step: Step):  # type: ignore[no-untyped-def]
            actions = super().on_step(step)
            seen.append(self.estimator.sigma_bps)
            return actions

    values = {**dict(resolve("steady_safe", env={}, params=strategy_params("glft")).values),
              "fit_window_s": 120.0}
    run_engine(tape, Watched(), values, np.random.default_rng(1),
               prior=QuotingPrior(sigma_bps=20.0, a_per_s=1.0, kappa_per_bps=0.1))
    assert seen[0] == 20.0
    assert seen[-1] == pytest.approx(truth["sigma_bps"], rel=0.35)


def test_calibrate_fits_the_prior_and_a_soak_on_that_market_uses_it(tmp_path: Path) -> None:
    market = simulate_market("volatile", 3, np.random.default_rng(9))
    recorded = record(market, 1_700_000_000 * 10**9, "TEST", "test")
    profile = calibrate(recorded, "fitted")
    quoting = profile.fit["quoting"]
    assert {"sigma_bps", "a_per_s", "kappa_per_bps", "half_spread_bps"} <= set(quoting)
    write_market_profile(tmp_path / "markets" / "fitted.json", profile)
    options = SoakOptions(strategy="glft", market="fitted", artifacts=tmp_path, iterations=1,
                          sim_minutes=1)
    session = Session(options, "r", None, {}, "")  # type: ignore[arg-type]
    prior = session.prior()
    assert prior.source == "market fitted"
    assert prior.sigma_bps == pytest.approx(quoting["sigma_bps"])


@pytest.mark.parametrize("strategy", ["avellaneda-stoikov", "glft"])
def test_the_models_soak_and_replay(tmp_path: Path, strategy: str) -> None:
    synthetic = run_soak(SoakOptions(strategy=strategy, iterations=2, sim_minutes=2,
                                     mode="volatile", artifacts=tmp_path / "a",
                                     now="2026-01-01T00:00:00Z"), env={})
    replayed = run_soak(SoakOptions(strategy=strategy, iterations=2, sim_minutes=2,
                                    market_data=REPO / "examples" / "tapes" / "sample",
                                    artifacts=tmp_path / "b", now="2026-01-01T00:00:00Z"),
                        env={})
    for result in (synthetic, replayed):
        assert result.status == "finished"
        meta = json.loads((result.run_dir / "RUN.json").read_text())
        assert meta["options"]["strategy"] == strategy
        doc = json.loads((result.run_dir / "ITER_SUMMARY_2.json").read_text())
        own = "as_gamma" if strategy == "avellaneda-stoikov" else "glft_gamma"
        assert own in doc["params"] and "base_spread_bps" not in doc["params"]
        assert doc["summary"]["fill_count"] > 0
    again = run_soak(SoakOptions(strategy=strategy, iterations=2, sim_minutes=2,
                                 mode="volatile", artifacts=tmp_path / "c",
                                 now="2026-01-01T00:00:00Z"), env={})
    first = json.loads((synthetic.run_dir / "ITER_SUMMARY_2.json").read_text())["summary"]
    assert json.loads((again.run_dir / "ITER_SUMMARY_2.json").read_text())["summary"] == first


@pytest.mark.slow
def test_the_three_built_ins_sweep_side_by_side(tmp_path: Path) -> None:
    result = run_subprocess("sweep", "--strategies", "legacy,avellaneda-stoikov,glft",
                            "--modes", "calm", "--seeds", "1-2", "--tune", "both",
                            "--iterations", "2", "--sim-minutes", "1", "--workers", "1",
                            "--name", "three", "--artifacts", str(tmp_path), "--quiet",
                            "--set", "impact_cap_ratio=0.08,0.12")
    assert result.code == 0, result.err
    import polars as pl

    rows = pl.concat([pl.read_parquet(p) for p in (tmp_path / "sweeps" / "three").rglob(
        "*.parquet")])
    assert rows.height == 3 * 2 * 2 * 2 * 2  # strategies x tune x set values x seeds x iters
    assert rows["error"].is_null().all()
    assert set(rows["strategy"].to_list()) == {"legacy", "avellaneda-stoikov", "glft"}
    foreign = run_subprocess("sweep", "--strategies", "legacy,glft", "--set",
                             "glft_gamma=0.1,0.2", "--artifacts", str(tmp_path))
    assert foreign.code == 2
    assert "'glft_gamma' is not a parameter of strategy legacy" in foreign.err
