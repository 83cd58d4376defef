"""``avellaneda-stoikov`` and ``glft``: closed-form quotes from volatility, intensity, inventory.

Both quote around the mid they saw, in bps, from the volatility ``σ`` and the intensity
``λ(δ) = A·exp(−κ·δ)`` they estimate from their feed (:class:`~.estimators.OnlineEstimator`,
the calibrated prior until the window fills) and the inventory ``q`` counted in quote sizes
(the position they know of, in lots, over the quote size):

* **Avellaneda–Stoikov** (2008), with a constant horizon ``τ = as_horizon_s`` (an
  iteration has no closing time): reservation price ``r = s − q·γσ²τ`` and half-spread
  ``γσ²τ/2 + ln(1 + γ/κ)/γ``;
* **Guéant–Lehalle–Fernandez-Tapia** (2013; Guéant 2017's closed-form approximation, as in
  hftbacktest's GLFT example, with ``ξ = γ`` and a unit order size ``Δ = 1``):
  ``c1 = ln(1 + γ/κ)/γ``, ``c2 = sqrt(γ/(2Aκ) · (1 + γ/κ)^(κ/γ + 1))``, half-spread
  ``c1 + σ·c2/2`` and skew ``σ·c2`` per unit of inventory.

``base_spread_bps_delta`` widens both quotes (the tuner's lever); prices round outward to
the tick and never cross the book seen or each other (:func:`~soakkit.sim.quotes.inside_book`).
Sizes, the requote budget, tail-age refreshes and the unload past the limit are the
legacy quoter's (:mod:`soakkit.strategy.quoting`), so the three built-ins differ only in
where they price; a side that would take the position past the limit is not quoted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from soakkit.sim.quotes import base_lots, inside_book, param
from soakkit.strategy.api import Action, Step, Strategy, StrategyContext
from soakkit.strategy.estimators import OnlineEstimator
from soakkit.strategy.quoting import SideQuoter, known_position, lot_usd, unload

__all__ = ["AvellanedaStoikov", "Glft", "ModelQuoter"]


class ModelQuoter(Strategy):
    """Shared mechanics of the closed-form quoters: subclasses give :meth:`depths`."""

    def start(self, ctx: StrategyContext) -> None:
        super().start(ctx)
        self.tick = ctx.instrument.tick
        self.estimator = OnlineEstimator(ctx.prior, param(ctx.params, "fit_window_s"))
        self.quoter = SideQuoter(ctx.params, self.tick)
        self.limit = param(ctx.params, "position_limit_notional")
        self.widen = param(ctx.params, "base_spread_bps_delta")
        self.last_depths = (0.0, 0.0)

    def depths(self, q: float) -> tuple[float, float]:
        """Distances (bps) of the bid and the ask from the mid at inventory ``q``."""
        raise NotImplementedError

    def on_step(self, step: Step) -> Sequence[Action]:
        self.estimator.update(step)
        book = step.book
        mid = book.mid * self.tick
        inst = self.ctx.instrument
        take = unload(step, self.ctx.params, inst)
        known = known_position(step) + (take.side * take.lots if take else 0)
        base = float(base_lots(mid, book.bid_qty, book.ask_qty, self.ctx.params, inst))
        bid_bps, ask_bps = self.depths(known / base)
        self.last_depths = (bid_bps + self.widen, ask_bps + self.widen)
        bid = math.floor(book.mid * (1.0 - self.last_depths[0] / 1e4))
        ask = math.ceil(book.mid * (1.0 + self.last_depths[1] / 1e4))
        bid, ask = inside_book(bid, ask, book.bid_px, book.ask_px)
        room = self.limit / lot_usd(step, inst)  # lots the limit allows either way
        lots = int(base)
        wanted = {1: (int(bid), lots if known + lots <= room else 0),
                  -1: (int(ask), lots if known - lots >= -room else 0)}
        actions: list[Action] = self.quoter.actions(step, wanted)
        if take is not None:
            actions.append(take)
        return actions

    def counters(self) -> Mapping[str, int]:
        return {**self.quoter.counts, "dropped": self.quoter.budget.dropped}


class AvellanedaStoikov(ModelQuoter):
    """Avellaneda–Stoikov quotes (``as_gamma``, ``as_horizon_s``)."""

    name = "avellaneda-stoikov"

    def depths(self, q: float) -> tuple[float, float]:
        e = self.estimator
        gamma = param(self.ctx.params, "as_gamma")
        risk = gamma * e.sigma_bps ** 2 * param(self.ctx.params, "as_horizon_s")
        half = risk / 2.0 + math.log1p(gamma / e.kappa_per_bps) / gamma
        return half + q * risk, half - q * risk


class Glft(ModelQuoter):
    """Guéant–Lehalle–Fernandez-Tapia quotes (``glft_gamma``)."""

    name = "glft"

    def depths(self, q: float) -> tuple[float, float]:
        e = self.estimator
        gamma, kappa = param(self.ctx.params, "glft_gamma"), e.kappa_per_bps
        c1 = math.log1p(gamma / kappa) / gamma
        c2 = math.sqrt(gamma / (2.0 * e.a_per_s * kappa)
                       * (1.0 + gamma / kappa) ** (kappa / gamma + 1.0))
        half = c1 + 0.5 * e.sigma_bps * c2
        skew = e.sigma_bps * c2
        return half + q * skew, half - q * skew
