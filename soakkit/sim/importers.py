"""Importers: public market-data downloads → soakkit's tape format (``soakkit tape import``).

* **Tardis.dev** ``trades`` + ``quotes`` (or ``book_ticker``) CSV, plain or ``.gz``:
  ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` and
  ``exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount``;
  times in µs since the epoch (the exchange's ``timestamp``), ``side`` the taker's side.
* **Binance public data** ``aggTrades`` + ``bookTicker`` CSV, or the ``.zip`` they come in
  (data.binance.vision):
  futures files with a header, spot aggTrades without one (8 columns); times in ms,
  spot aggTrades in µs from 2025 on (told apart by magnitude); ``is_buyer_maker`` true
  means the seller was the aggressor.

What cannot be replayed is dropped and **counted** in the returned report, never
silently: trades without an aggressor side (Tardis ``unknown``), quotes with an empty
side, crossed or locked quotes. Rows are sorted by time (stably) when the source is not;
the number moved is reported too.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError, unreadable_reason
from soakkit.sim.tape_checks import check_values, epoch_ns, in_units
from soakkit.sim.tapefile import RecordedTape, grid_step, write_tape

__all__ = ["FORMATS", "ImportReport", "import_binance", "import_tardis"]

FORMATS = ("tardis", "binance")


@dataclass
class ImportReport:
    """What an import wrote and what it had to leave out."""

    folder: Path
    trades: int = 0
    quotes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    reordered: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"wrote {self.folder}: {self.trades} trades, {self.quotes} quotes"]
        out += [f"  dropped {n} {what}" for what, n in self.dropped.items() if n]
        out += [f"  sorted {n} {what} rows that were out of time order"
                for what, n in self.reordered.items() if n]
        return out


def _source(path: Path) -> Path | bytes:
    """The CSV itself, or the one CSV inside a ``.zip`` (Binance ships them zipped)."""
    if path.suffix != ".zip":
        return path
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise TapeError(f"{path}: expected one .csv inside, found {len(names)}")
            return archive.read(names[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise TapeError(f"{path}: {unreadable_reason(exc, 'zip file')}") from None


def _has_header(path: Path, first_column: str) -> bool:
    data = _source(path)
    if isinstance(data, bytes):
        head = data[:200]
    else:
        with path.open("rb") as fh:
            head = fh.read(200)
    return head.decode("utf-8", "replace").strip().startswith(first_column)


def _csv(path: Path, columns: list[str], header: bool = True) -> pl.DataFrame:
    try:
        frame = pl.read_csv(_source(path), has_header=header, infer_schema=False,
                            new_columns=None if header else columns)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TapeError(f"{path}: {unreadable_reason(exc, 'CSV file')}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TapeError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(has: {', '.join(frame.columns)})")
    if frame.height == 0:
        raise TapeError(f"{path}: no rows")
    return frame


def _numbers(frame: pl.DataFrame, path: Path, names: list[str],
             integers: tuple[str, ...] = (), header: bool = True) -> dict[str, np.ndarray]:
    """Columns as numbers (``integers`` exactly, as int64); a bad cell names its line."""
    out = {}
    for name in names:
        col = frame[name].str.strip_chars()
        values = col.cast(pl.Int64 if name in integers else pl.Float64, strict=False)
        bad = values.is_null() & (col.is_not_null() & (col != "") | (name in integers))
        if bad.any():
            row = int(bad.arg_max() or 0)
            what = "is empty" if col[row] in (None, "") else f"{col[row]!r} is not a number"
            raise TapeError(f"{path}:{row + 1 + header}: {name} {what}")
        out[name] = values.to_numpy()
    return out


def _sorted(ns: np.ndarray, what: str, report: ImportReport) -> np.ndarray:
    order = np.argsort(ns, kind="stable")
    report.reordered[what] = int((order != np.arange(ns.size)).sum())
    return order


def _finish(report: ImportReport, out: Path, t_ns: np.ndarray, side: np.ndarray,
            price: np.ndarray, qty: np.ndarray, q_ns: np.ndarray, bid: np.ndarray,
            bid_qty: np.ndarray, ask: np.ndarray, ask_qty: np.ndarray, tick: float | None,
            lot: float | None, symbol: str, source: str, replace: bool = False) -> ImportReport:
    keep_t = np.isin(side, (1, -1)) & (price > 0) & (qty > 0)
    report.dropped["trades without an aggressor side or with a zero price or size"] = int(
        (~keep_t).sum())
    empty = ~(np.isfinite(bid) & np.isfinite(ask) & (bid_qty > 0) & (ask_qty > 0)
              & (bid > 0) & (ask > 0))
    crossed = ~empty & (bid >= ask)
    report.dropped["quotes with an empty side"] = int(empty.sum())
    report.dropped["crossed or locked quotes"] = int(crossed.sum())
    keep_q = ~(empty | crossed)
    if not keep_t.any() or not keep_q.any():
        raise TapeError(f"{out}: nothing to replay after dropping unusable rows "
                        f"({int(keep_t.sum())} trades, {int(keep_q.sum())} quotes left)")
    ot = _sorted(t_ns[keep_t], "trade", report)
    oq = _sorted(q_ns[keep_q], "quote", report)
    t_ns, side, price, qty = (a[keep_t][ot] for a in (t_ns, side, price, qty))
    q_ns, bid, bid_qty, ask, ask_qty = (a[keep_q][oq] for a in (q_ns, bid, bid_qty, ask,
                                                                ask_qty))
    where = str(out)
    check_values(where, {"price": price, "bid": bid, "ask": ask},
                 {"qty": qty, "bid_qty": bid_qty, "ask_qty": ask_qty})
    tick = tick or grid_step(np.concatenate((price, bid, ask)))
    lot = lot or grid_step(np.concatenate((qty, bid_qty, ask_qty)))
    tape = RecordedTape(
        path=out, tick=tick, lot=lot, symbol=symbol, source=source,
        trade_ns=t_ns.astype(np.int64), trade_side=side.astype(np.int8),
        trade_px=in_units(where, price, tick, "price", "tick").astype(np.int64),
        trade_qty=in_units(where, qty, lot, "qty", "lot"), quote_ns=q_ns.astype(np.int64),
        bid_px=in_units(where, bid, tick, "bid", "tick").astype(np.int64),
        bid_qty=in_units(where, bid_qty, lot, "bid_qty", "lot"),
        ask_px=in_units(where, ask, tick, "ask", "tick").astype(np.int64),
        ask_qty=in_units(where, ask_qty, lot, "ask_qty", "lot"))
    write_tape(out, tape, replace=replace)
    report.trades, report.quotes = int(t_ns.size), int(q_ns.size)
    return report


def import_tardis(trades: Path, quotes: Path, out: Path, *, tick: float | None = None,
                  lot: float | None = None, replace: bool = False) -> ImportReport:
    """Convert Tardis ``trades`` and ``quotes``/``book_ticker`` CSVs into a tape at ``out``
    (``replace``: a tape already there; else it is refused)."""
    t = _csv(trades, ["symbol", "timestamp", "side", "price", "amount"])
    q = _csv(quotes, ["timestamp", "ask_amount", "ask_price", "bid_price", "bid_amount"])
    tn = _numbers(t, trades, ["timestamp", "price", "amount"], ("timestamp",))
    qn = _numbers(q, quotes, ["timestamp", "ask_amount", "ask_price", "bid_price",
                              "bid_amount"], ("timestamp",))
    side = t["side"].str.strip_chars().replace_strict({"buy": 1, "sell": -1}, default=0,
                                                      return_dtype=pl.Int8).to_numpy()
    symbol = str(t["symbol"][0])
    return _finish(ImportReport(out), out, _tardis_ns(trades, tn["timestamp"]), side,
                   tn["price"], tn["amount"], _tardis_ns(quotes, qn["timestamp"]),
                   qn["bid_price"], qn["bid_amount"], qn["ask_price"], qn["ask_amount"], tick,
                   lot, symbol, f"tardis: {trades.name} + {quotes.name}", replace)


def _tardis_ns(path: Path, us: np.ndarray) -> np.ndarray:
    """Tardis times (µs) as ns, each checked (:func:`~soakkit.sim.tapefile.epoch_ns`)."""
    return epoch_ns(path, us, 1_000, "timestamp",
                    hint="Tardis times are µs: is this row in another unit?")


_AGG = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
        "transact_time", "is_buyer_maker"]
_TICKER = ["update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
           "transaction_time", "event_time"]


def _to_ns(path: Path, values: np.ndarray, name: str, header: bool = True) -> np.ndarray:
    """Binance times: ms, or µs for spot files from 2025 on (larger than 1e14); each
    checked (:func:`~soakkit.sim.tapefile.epoch_ns`)."""
    ints = values.astype(np.int64)
    return epoch_ns(path, ints, np.where(ints > 10**14, 1_000, 1_000_000), name,
                    first_line=1 + header, hint="Binance times are ms, or µs from 2025 on")


def import_binance(trades: Path, quotes: Path, out: Path, *, tick: float | None = None,
                   lot: float | None = None, symbol: str = "",
                   replace: bool = False) -> ImportReport:
    """Convert Binance public ``aggTrades`` and ``bookTicker`` CSVs into a tape at ``out``
    (``replace``: a tape already there; else it is refused)."""
    header = _has_header(trades, "agg_trade_id")
    t = _csv(trades, _AGG + ([] if header else ["is_best_match"]), header=header)
    q = _csv(quotes, _TICKER)
    tn = _numbers(t, trades, ["price", "quantity", "transact_time"], ("transact_time",),
                  header)
    qn = _numbers(q, quotes, ["best_bid_price", "best_bid_qty", "best_ask_price",
                              "best_ask_qty", "transaction_time"], ("transaction_time",))
    maker = t["is_buyer_maker"].str.strip_chars().str.to_lowercase()
    side = np.where(maker.to_numpy() == "true", -1, np.where(maker.to_numpy() == "false", 1, 0))
    return _finish(ImportReport(out), out,
                   _to_ns(trades, tn["transact_time"], "transact_time", header), side,
                   tn["price"], tn["quantity"],
                   _to_ns(quotes, qn["transaction_time"], "transaction_time"),
                   qn["best_bid_price"], qn["best_bid_qty"], qn["best_ask_price"],
                   qn["best_ask_qty"], tick, lot, symbol,
                   f"binance: {trades.name} + {quotes.name}", replace)
