"""The strategy interface: what a strategy sees at each decision, and what it may do.

The engine (:mod:`soakkit.strategy.engine`) runs the bot's loop: at every tick of
``min_interval_ms`` it calls :meth:`Strategy.on_step` with a :class:`Step`, which holds only
what a live bot would have at that instant:

* the market as the feed delivered it, one feed latency late: the book (:class:`Book`) and
  every trade and book update that arrived since the previous step (:attr:`Step.trades`,
  :attr:`Step.updates`; batched, in time order);
* the venue's answers that arrived since the previous step (:class:`Report`: accepted,
  expired, rejected, fill, cancelled), each one ack latency after it happened;
* its open orders as it knows them (:class:`OrderView`) and its known position (the sum
  of the fills it has been told about);
* the time.

It answers with actions (:class:`Place`, :class:`Quote`, :class:`Cancel`, :class:`Take`).
Each becomes a request that waits in the bot's gateway, counts against the venue's rate
limit (which rejects what goes over it), and reaches the matching engine one entry (or
cancel) latency later; a resting order queues behind the displayed depth
(:mod:`soakkit.sim.matching`). Nothing later than the step's feed time is ever passed in,
so a strategy cannot see the future (``tests/test_strategy_causality.py`` changes the
market after a time and checks that every earlier decision stays the same).

Prices are integer ticks and sizes integer lots of the instrument
(:class:`soakkit.sim.instrument.Instrument`: tick, lot, kind, contract size); times are
integer nanoseconds since the window opened. ``docs/STRATEGIES.md`` is the guide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from soakkit.config.params import ParamSpec, Value
from soakkit.sim.carry import FLAT, BookState, RestingOrder
from soakkit.sim.instrument import Instrument

if TYPE_CHECKING:
    from soakkit.sim.strategy import StrategyResult
    from soakkit.sim.tape import MarketTape
    from soakkit.sim.venue import Venue

__all__ = [
    "Action",
    "Book",
    "BookUpdates",
    "Cancel",
    "CarriedOrder",
    "EngineState",
    "Instrument",
    "MarketRows",
    "OrderView",
    "Place",
    "Quote",
    "QuotingPrior",
    "Report",
    "Step",
    "Strategy",
    "StrategyContext",
    "Take",
    "Trades",
]


@dataclass(frozen=True)
class QuotingPrior:
    """What the model strategies assume before their own estimates fill in.

    Volatility of the mid, and the order-arrival intensity ``λ(δ) = A·exp(−κ·δ)``: how often
    a quote ``δ`` bps from the mid is reached. ``soakkit calibrate`` fits them to a tape.
    """

    sigma_bps: float  #: mid volatility, bps per sqrt(second)
    a_per_s: float  #: A, reaches per second at the mid
    kappa_per_bps: float  #: κ, decay per bp of distance
    source: str = "built-in"


#: An order resting when a window closed (side, price ticks, lots left; queue ahead and age
#: where known): re-placed when the next window opens. The one definition is
#: :class:`soakkit.sim.carry.RestingOrder`.
CarriedOrder = RestingOrder

#: What carries from one window to the next: the position and the resting orders
#: (:class:`soakkit.sim.carry.BookState`; a window's result has it as ``result.end``).
EngineState = BookState


@dataclass(frozen=True)
class StrategyContext:
    """Given once, before the first step."""

    instrument: Instrument
    params: Mapping[str, Value]  #: the run's resolved parameters (engine's and own)
    duration_ns: int  #: length of the window
    loop_ns: int  #: the step period (``min_interval_ms``)
    prior: QuotingPrior
    start: BookState = FLAT  #: the position and orders carried in


@dataclass(frozen=True)
class Book:
    """The best bid and ask as the feed showed them (prices in ticks, depths in lots)."""

    bid_px: int
    bid_qty: float
    ask_px: int
    ask_qty: float

    @property
    def mid(self) -> float:
        """Mid price in ticks."""
        return (self.bid_px + self.ask_px) / 2.0


@dataclass(frozen=True)
class Trades:
    """Trades delivered by the feed since the previous step (numpy arrays, time order)."""

    ns: np.ndarray  #: int64 exchange time
    side: np.ndarray  #: +1 the buyer was the aggressor (lifted an ask), -1 the seller
    px: np.ndarray  #: int64 ticks
    qty: np.ndarray  #: float64 lots


@dataclass(frozen=True)
class BookUpdates:
    """Best-quote updates delivered since the previous step (numpy arrays, time order)."""

    ns: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray


@dataclass(frozen=True)
class Report:
    """An answer of the venue, delivered one ack latency after it happened.

    ``kind``: ``accepted`` (the order rests), ``expired`` (a post-only order that would have
    crossed), ``rejected`` (the rate limit refused the request), ``fill`` (``lots`` at
    ``price``; ``left`` lots stay open), ``cancelled`` (the cancel reached the venue;
    ``left`` lots were still open).
    """

    kind: str
    order_id: int
    ns: int  #: when it happened at the venue
    lots: int = 0
    price: int = 0
    left: int = 0


@dataclass
class OrderView:
    """One of the strategy's orders, as it knows it.

    ``status``: ``sent`` (no answer yet), ``open`` (accepted), ``cancelling`` (a cancel is
    on its way). An order leaves :attr:`Step.orders` with its last report.
    """

    id: int
    side: int
    price: int
    lots: int
    filled: int = 0
    status: str = "sent"
    taker: bool = False

    @property
    def left(self) -> int:
        return self.lots - self.filled


@dataclass(frozen=True)
class Place:
    """A post-only limit order (expires if it would cross on arrival). Weight 1."""

    side: int  #: +1 buy, -1 sell
    price: int  #: ticks
    lots: int


@dataclass(frozen=True)
class Quote:
    """Replace this side's latest order with a new one: cancel and place as one batch.

    Weight 2 (1 when the strategy never had an order on that side), accepted or rejected
    as a whole: a rejected quote leaves the old order in the book. ``lots`` 0 cancels only.
    """

    side: int
    price: int
    lots: int


@dataclass(frozen=True)
class Cancel:
    """Cancel an order by id. Weight 1."""

    order_id: int


@dataclass(frozen=True)
class Take:
    """A taker order of ``lots`` that walks the book on arrival. Weight 1."""

    side: int
    lots: int


Action = Place | Quote | Cancel | Take


class MarketRows:
    """The window's trades and book updates as lists of rows, built once when first asked
    (what an external program is sent: ``[ns, side, px, qty]`` and ``[ns, bid_px, bid_qty,
    ask_px, ask_qty]``)."""

    def __init__(self, market: MarketTape) -> None:
        self._market = market
        self._trades: list[tuple[int, int, int, float]] | None = None
        self._updates: list[tuple[int, int, float, int, float]] | None = None
        self._trades_json: list[str] | None = None
        self._updates_json: list[str] | None = None

    def trades(self, a: int, b: int | None) -> list[tuple[int, int, int, float]]:
        if self._trades is None:
            m = self._market
            self._trades = list(zip(m.trade_ns.tolist(), m.trade_side.tolist(),
                                    m.trade_px.tolist(), m.trade_qty.tolist(), strict=True))
        return self._trades[a:b]

    def updates(self, a: int, b: int | None) -> list[tuple[int, int, float, int, float]]:
        if self._updates is None:
            m = self._market
            self._updates = list(zip(m.quote_ns.tolist(), m.bid_px.tolist(),
                                     m.bid_qty.tolist(), m.ask_px.tolist(),
                                     m.ask_qty.tolist(), strict=True))
        return self._updates[a:b]

    def trades_json(self, a: int, b: int) -> str:
        """:meth:`trades` as a JSON array (each row encoded once per window)."""
        if self._trades_json is None:
            self._trades_json = [f"[{n},{s},{p},{q!r}]" for n, s, p, q in self.trades(0, None)]
        return "[" + ",".join(self._trades_json[a:b]) + "]"

    def updates_json(self, a: int, b: int) -> str:
        """:meth:`updates` as a JSON array (each row encoded once per window)."""
        if self._updates_json is None:
            self._updates_json = [f"[{n},{bp},{bq!r},{ap},{aq!r}]"
                                  for n, bp, bq, ap, aq in self.updates(0, None)]
        return "[" + ",".join(self._updates_json[a:b]) + "]"


class Step:
    """What the strategy has at one decision (see the module doc).

    ``trades`` and ``updates`` are built when read (numpy views of the window's arrays,
    never past the feed's time); ``trade_rows`` and ``update_rows`` are the same as lists.
    """

    __slots__ = ("_market", "_q", "_rows", "_t", "book", "now_ns", "orders", "position_lots",
                 "reports", "seen_ns")

    def __init__(self, now_ns: int, seen_ns: int, book: Book, reports: tuple[Report, ...],
                 orders: Mapping[int, OrderView], position_lots: int, market: MarketTape,
                 trades: tuple[int, int], updates: tuple[int, int], rows: MarketRows) -> None:
        self.now_ns = now_ns  #: decision time (a loop tick)
        self.seen_ns = seen_ns  #: the feed's time: market data up to here
        self.book = book  #: the best quotes as of ``seen_ns``
        self.reports = reports  #: venue answers received since the previous step
        self.orders = orders  #: open orders by id, as known (read only)
        self.position_lots = position_lots  #: known position (reported fills)
        self._market = market
        self._t = trades
        self._q = updates
        self._rows = rows

    @property
    def trades(self) -> Trades:
        """Trades the feed delivered since the previous step."""
        m, (a, b) = self._market, self._t
        return Trades(m.trade_ns[a:b], m.trade_side[a:b], m.trade_px[a:b], m.trade_qty[a:b])

    @property
    def updates(self) -> BookUpdates:
        """Book updates the feed delivered since the previous step."""
        m, (a, b) = self._market, self._q
        return BookUpdates(m.quote_ns[a:b], m.bid_px[a:b], m.bid_qty[a:b], m.ask_px[a:b],
                           m.ask_qty[a:b])

    def trade_rows(self) -> list[tuple[int, int, int, float]]:
        """:attr:`trades` as rows ``(ns, side, px, qty)``."""
        return self._rows.trades(*self._t)

    def update_rows(self) -> list[tuple[int, int, float, int, float]]:
        """:attr:`updates` as rows ``(ns, bid_px, bid_qty, ask_px, ask_qty)``."""
        return self._rows.updates(*self._q)

    def rows_json(self, since: tuple[int, int] | None = None, trades: bool = True,
                  updates: bool = True) -> tuple[str | None, str | None, tuple[int, int]]:
        """:meth:`trade_rows` and :meth:`update_rows` as JSON arrays, and where they end.

        ``since``: where an earlier step's rows ended, to send several steps' rows at once
        (an external program that slept through them); ``trades`` or ``updates`` false:
        that array is not built (``None``), for a program that did not subscribe to it.
        """
        t0, q0 = since if since is not None else (self._t[0], self._q[0])
        t1, q1 = self._t[1], self._q[1]
        return (self._rows.trades_json(t0, t1) if trades else None,
                self._rows.updates_json(q0, q1) if updates else None, (t1, q1))


class Strategy:
    """Base class of a strategy: override :meth:`on_step` (and what else you need).

    A new instance runs each simulated window (an iteration, or one window of a tuner's
    trial), starting from the state the previous window left (``ctx.start``): keep state
    on ``self`` and start it in :meth:`start`.

    Class attributes: ``name`` (what ``--strategy`` and the records call it) and
    ``declared``: the strategy's own tunable parameters, with bounds
    (:class:`~soakkit.config.params.ParamSpec`); they go through config layering,
    provenance, the tuner's guards and sweeps like the built-in ones. The built-ins'
    parameters are declared in :data:`soakkit.config.params.PARAMS`.
    """

    name: ClassVar[str] = ""
    declared: ClassVar[tuple[ParamSpec, ...]] = ()

    def start(self, ctx: StrategyContext) -> None:
        """Called once before the first step."""
        self.ctx = ctx

    def on_step(self, step: Step) -> Sequence[Action]:
        """Decide at one loop tick; return the actions to send (possibly none)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last step (release what :meth:`start` took)."""

    def counters(self) -> Mapping[str, int]:
        """Optional counts for the records: ``initial``, ``move``, ``refresh`` (quote
        decisions by cause) and ``dropped`` (requotes a budget dropped)."""
        return {}

    def fair_price(self, side: int, book: Book) -> float | None:
        """The price (ticks, unrounded) the strategy would quote on ``side`` at ``book``:
        the ``intended`` price of the slippage KPI. It is asked after the window, with the
        book just before each maker fill, so it may use the book and the parameters only.
        ``None`` (the default): the order's own price (no slippage)."""
        return None

    def vectorised(self, market: MarketTape, params: Mapping[str, Value],
                   rng: np.random.Generator, venue: Venue, start: BookState = FLAT
                   ) -> StrategyResult | None:
        """A whole window at once from ``start``, for a strategy whose decisions follow
        from the market alone (the legacy quoter); ``None`` (the default) runs the event
        loop."""
        return None
