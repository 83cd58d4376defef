"""Importers: public market-data downloads → soakkit's tape format (``soakkit tape import``).

One module per source, all finished the same way (:mod:`~soakkit.sim.importers.common`):

* :mod:`~soakkit.sim.importers.binance` – Binance public data (``aggTrades``, ``trades``,
  ``bookTicker``; spot and futures layouts, with or without header, plain, gzipped or
  zipped);
* :mod:`~soakkit.sim.importers.tardis` – Tardis.dev ``trades``, ``quotes``/``book_ticker``,
  ``book_snapshot_25`` and ``incremental_book_L2``;
* :mod:`~soakkit.sim.importers.capture` – raw Binance websocket captures in hftbacktest's
  collector layout (trades, book tickers, depth diffs and REST snapshots, with receive
  times).
"""

from __future__ import annotations

from soakkit.sim.importers.binance import import_binance
from soakkit.sim.importers.capture import import_binance_capture
from soakkit.sim.importers.common import ImportReport
from soakkit.sim.importers.tardis import import_tardis

__all__ = ["FORMATS", "ImportReport", "import_binance", "import_binance_capture",
           "import_tardis"]

#: ``soakkit tape import --from`` choices.
FORMATS = ("tardis", "binance", "binance-capture")
