"""Binance public data (data.binance.vision): trades and book tickers as Binance ships them.

Layouts (``docs/SIMULATOR.md``, "Importers"; the header is read after decompression, so a
``.csv``, ``.csv.gz`` or the ``.zip`` Binance serves all work):

=========================  ======  ====================================================
file                       header  columns
=========================  ======  ====================================================
spot ``aggTrades``         no      agg id, price, qty, first id, last id, time,
                                   is_buyer_maker, is_best_match (8)
spot ``trades``            no      id, price, qty, quote_qty, time, is_buyer_maker,
                                   is_best_match (7)
futures ``aggTrades``      yes     agg_trade_id, price, quantity, first_trade_id,
                                   last_trade_id, transact_time, is_buyer_maker
                                   (older dumps: the same 7 columns without a header)
futures ``trades``         yes     id, price, qty, quote_qty (USDⓈ-M) | base_qty (COIN-M),
                                   time, is_buyer_maker (older dumps: no header)
futures ``bookTicker``     either  update_id, best_bid_price, best_bid_qty,
                                   best_ask_price, best_ask_qty, transaction_time,
                                   event_time
=========================  ======  ====================================================

Times are ms; spot files from 2025 on are in µs (told apart by magnitude, file by file).
``is_buyer_maker`` true means the seller was the aggressor. The symbol comes from the file
names (``ETHUSD_PERP-aggTrades-2024-08-09.zip``) or ``--symbol``; spot layouts are venue
``binance``, futures ``binance-futures`` (USDⓈ-M, linear) or ``binance-delivery`` (COIN-M,
inverse: a ``base_qty`` column or a ``…USD_PERP`` / ``…USD_YYMMDD`` symbol), and the
contract size of a COIN-M symbol is Binance's (BTC 100 USD, others 10 USD) unless
``--contract-size`` says otherwise. Binance CSVs carry no receive time, so a tape made
from them replays with the venue model's feed latency.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from soakkit.core.errors import TapeError
from soakkit.sim.importers.common import (
    ImportReport,
    InstrumentHint,
    Quotes,
    Trades,
    finish,
    same_or_refuse,
)
from soakkit.sim.importers.csvfiles import (
    decompressed,
    first_fields,
    has_header,
    numbers,
    read_text_csv,
)
from soakkit.sim.instrument import binance_contract_size, is_coinm_symbol
from soakkit.sim.tables import epoch_ns

__all__ = ["VENUES", "binance_hint", "import_binance", "symbol_from_name"]

#: Binance markets by Tardis' exchange id, and the instrument kind each trades.
VENUES = {"binance": "spot", "binance-futures": "linear", "binance-delivery": "inverse"}

_AGG = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
        "transact_time", "is_buyer_maker"]
_SPOT_AGG = [*_AGG, "is_best_match"]
_SPOT_TRADES = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
_FUT_TRADES = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"]
_TICKER = ["update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
           "transaction_time", "event_time"]
_NAME = re.compile(r"^([A-Z0-9_]+)-(aggTrades|trades|bookTicker)-\d{4}-\d{2}(-\d{2})?\.")
_BOOL = ("true", "false")


def symbol_from_name(path: Path) -> str:
    """The symbol in a Binance file name (``BTCUSDT-aggTrades-2024-08-09.zip``), or ''."""
    match = _NAME.match(path.name)
    return match.group(1) if match else ""


def _trade_layout(path: Path, data: bytes) -> tuple[list[str] | None, str, str, str]:
    """(column names for a headerless file or None, price, qty, time column; venue family)."""
    cells = first_fields(data)
    if has_header(data):
        if "agg_trade_id" in cells:
            return None, "quantity", "transact_time", "futures"
        if "id" in cells and "time" in cells:
            return None, "qty", "time", "delivery" if "base_qty" in cells else "futures"
        raise TapeError(f"{path}: header {','.join(cells[:8])} is not a Binance aggTrades or "
                        "trades layout (docs/SIMULATOR.md, Importers)")
    if len(cells) == 8:
        return _SPOT_AGG, "quantity", "transact_time", "spot"
    if len(cells) == 7 and cells[5].lower() in _BOOL:
        return _SPOT_TRADES, "qty", "time", "spot"
    if len(cells) == 7 and cells[6].lower() in _BOOL:
        return _AGG, "quantity", "transact_time", "futures"
    if len(cells) == 6 and cells[5].lower() in _BOOL:
        return _FUT_TRADES, "qty", "time", "futures"
    raise TapeError(f"{path}: {len(cells)} columns without a header is not a Binance aggTrades "
                    "or trades layout (spot: 8 or 7 columns, futures: 7 or 6)")


def _to_ns(values: np.ndarray, path: Path, name: str, header: bool = True) -> np.ndarray:
    """Binance times: ms, or µs for spot files from 2025 on (larger than 1e14), each within
    a tape's bounds (``epoch_ns``)."""
    ints = values.astype(np.int64)
    micro = ints > 10**14
    if micro.any() and not micro.all():
        row = int(np.argmax(micro != micro[0]))
        raise TapeError(f"{path}: times mix milliseconds and microseconds (row {row + 1} "
                        "differs from the first)")
    return epoch_ns(path, ints, 1_000 if micro.all() else 1_000_000, name,
                    first_line=1 + header, hint="Binance times are ms, or µs from 2025 on")


def binance_hint(family: str, symbol: str, kind: str | None, contract_size: float | None,
                 tick: float | None, lot: float | None) -> InstrumentHint:
    """The instrument of a Binance market: what the data says, unless the flags say more."""
    if family == "futures" and is_coinm_symbol(symbol):
        family = "delivery"
    venue = {"spot": "binance", "futures": "binance-futures",
             "delivery": "binance-delivery"}[family]
    seen = VENUES[venue]
    if kind is not None and kind != seen:
        raise TapeError(f"--kind {kind}: the data is a {venue} market ({seen}); leave --kind "
                        "out or pass files of that market")
    size = contract_size or (binance_contract_size(symbol) if seen == "inverse" else 1.0)
    return InstrumentHint(symbol, venue, seen, size, tick, lot)


def import_binance(trades: Path, quotes: Path, out: Path, *, tick: float | None = None,
                   lot: float | None = None, symbol: str = "", kind: str | None = None,
                   contract_size: float | None = None, replace: bool = False) -> ImportReport:
    """Convert Binance public ``aggTrades``/``trades`` and ``bookTicker`` files into a tape
    (``replace``: a tape already at ``out``; else it is refused)."""
    symbol = same_or_refuse("symbol", {"--symbol": symbol.upper(),
                                       trades.name: symbol_from_name(trades),
                                       quotes.name: symbol_from_name(quotes)})
    if not symbol:
        raise TapeError(f"{trades.name}: no symbol in the file names (Binance names them "
                        "SYMBOL-aggTrades-DATE); pass --symbol")
    t_data = decompressed(trades)
    names, qty_col, time_col, family = _trade_layout(trades, t_data)
    t = read_text_csv(trades, t_data, names)
    tn = numbers(t, trades, ["price", qty_col, time_col], (time_col,), names is None)
    maker = t["is_buyer_maker"].str.strip_chars().str.to_lowercase().to_numpy()
    side = np.where(maker == "true", -1, np.where(maker == "false", 1, 0))
    q_data = decompressed(quotes)
    q_header = has_header(q_data)
    q = read_text_csv(quotes, q_data, None if q_header else _ticker_names(quotes, q_data))
    qn = numbers(q, quotes, _TICKER[1:6], ("transaction_time",), q_header)
    hint = binance_hint(family, symbol, kind, contract_size, tick, lot)
    report = ImportReport(out)
    report.notes.append("no receive times in Binance public data: the replay uses the venue "
                        "model's feed latency")
    return finish(
        report, out,
        Trades(_to_ns(tn[time_col], trades, time_col, names is None), side, tn["price"],
               tn[qty_col]),
        Quotes(_to_ns(qn["transaction_time"], quotes, "transaction_time", q_header),
               qn["best_bid_price"], qn["best_bid_qty"], qn["best_ask_price"],
               qn["best_ask_qty"]),
        hint, f"binance: {trades.name} + {quotes.name}", replace=replace)


def _ticker_names(path: Path, data: bytes) -> list[str]:
    width = len(first_fields(data))
    if width != len(_TICKER):
        raise TapeError(f"{path}: {width} columns without a header is not a Binance bookTicker "
                        f"layout ({', '.join(_TICKER)})")
    return _TICKER
