"""Strategies: the interface a bot implements, the engine that runs it, and the built-ins.

``api`` (what a strategy sees and may do: :class:`Strategy`, :class:`Step`, the actions),
``engine`` (the event loop on the simulated venue, :func:`simulate`), ``registry``
(``--strategy NAME | module:Class | exec:PROGRAM``, entry points), ``legacy`` (the legacy
quoter, also in vectorised form), ``models`` (Avellaneda–Stoikov, GLFT), ``estimators``
(volatility and intensity from the feed), ``quoting`` (requote budget, refreshes,
unloads), ``external`` (the JSON-lines protocol), ``records`` (the result). The guide is
``docs/STRATEGIES.md``.
"""

from soakkit.strategy.api import (
    Action,
    Book,
    BookUpdates,
    Cancel,
    CarriedOrder,
    EngineState,
    Instrument,
    OrderView,
    Place,
    Quote,
    QuotingPrior,
    Report,
    Step,
    Strategy,
    StrategyContext,
    Take,
    Trades,
)
from soakkit.strategy.engine import run_engine, simulate
from soakkit.strategy.registry import BUILTIN, ENTRY_POINT_GROUP, StrategyRef, load_strategy

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Action", "Book", "BookUpdates", "Cancel",
           "CarriedOrder", "EngineState", "Instrument", "OrderView", "Place", "Quote",
           "QuotingPrior", "Report", "Step", "Strategy", "StrategyContext", "StrategyRef",
           "Take", "Trades", "load_strategy", "run_engine", "simulate"]
