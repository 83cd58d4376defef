"""Cut the small real excerpts the importer tests read, and write them in the vendors' layouts.

Source: the Binance captures of hftbacktest's examples (nkaz001/hftbacktest, MIT licence),
one line per message, ``<local receive ns> <combined-stream JSON>``. From the first
``--seconds`` of each development capture this writes, under ``tests/data/tapes/``:

* ``capture/``: the excerpt itself (``--from binance-capture``);
* ``binance/``: the same trades and book tickers in the layouts of data.binance.vision
  (spot aggTrades and trades without a header, ms; the spot aggTrades again in µs as
  Binance writes them from 2025; USDⓈ-M and COIN-M aggTrades, trades and bookTicker with a
  header; ``old/``: futures files without a header, as older dumps have them), as
  ``.csv``, ``.csv.gz`` and ``.zip``;
* ``tardis/``: Tardis.dev ``trades``, ``quotes``, ``book_snapshot_25`` and (USDⓈ-M, which
  has a REST snapshot) ``incremental_book_L2``.

How each field is derived is in ``tests/data/tapes/README.md``. Run from the repository:

    python scripts/make_tape_excerpts.py /work/data/hbt
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.sim.book import BookBuilder
from soakkit.sim.feed import fit_clock

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tapes"
#: (capture, seconds, name, symbol, Tardis exchange id)
CAPTURES = (("spot/btcusdt_20240809.gz", 10, "spot-btcusdt-20240809", "BTCUSDT", "binance"),
            ("usdm/ethusdt_20240808.gz", 10, "usdm-ethusdt-20240808", "ETHUSDT",
             "binance-futures"),
            ("cm/ethusd_perp_20240809.gz", 30, "cm-ethusd_perp-20240809", "ETHUSD_PERP",
             "binance-delivery"))
CONTRACT = {"ETHUSD_PERP": Decimal(10)}


def _excerpt(path: Path, seconds: int) -> list[str]:
    lines: list[str] = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if lines and int(line.split(" ", 1)[0]) - int(lines[0].split(" ", 1)[0]) > \
                    seconds * 10**9:
                break
            lines.append(line.rstrip("\n"))
    return lines


def _gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def _write(folder: Path, name: str, rows: Iterable[str], as_: str = ".csv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(rows) + "\n").encode()
    if as_ == ".csv":
        (folder / name).write_bytes(data)
    elif as_ == ".csv.gz":
        (folder / f"{name}.gz").write_bytes(_gz(data))
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(name, date_time=(2024, 8, 10, 0, 0, 0))
            archive.writestr(info, data)
        (folder / name.replace(".csv", ".zip")).write_bytes(buf.getvalue())


def _d8(text: str) -> str:
    return f"{Decimal(text):.8f}"


def _plain(text: str | Decimal) -> str:
    d = Decimal(text).normalize()
    return f"{d:f}"


def _messages(lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    return [(int(line.split(" ", 1)[0]), json.loads(line.split(" ", 1)[1])) for line in lines]


def _venue_ms(msgs: list[tuple[int, dict[str, Any]]]) -> tuple[float, float, int]:
    """The capture's clock against the venue's (the same fit the importer makes)."""
    local, venue = [], []
    for t, m in msgs:
        d = m.get("data", {})
        if "T" in d or "E" in d:
            local.append(t)
            venue.append(int(d.get("T", d.get("E"))) * 10**6)
    fit = fit_clock(np.array(local), np.array(venue))
    return fit.offset_ns, fit.drift_ppm, fit.origin_ns


def _binance(msgs: list[tuple[int, dict[str, Any]]], symbol: str, family: str, date: str,
             folder: Path) -> None:
    trades = [m["data"] for _, m in msgs if m.get("stream", "").endswith("@trade")
              and m["data"].get("X", "MARKET") == "MARKET"]
    aggs: list[list[Any]] = []
    for tr in trades:  # one taker order at one price and time is one aggregate trade
        key = (tr["T"], tr["p"], tr["m"])
        if aggs and aggs[-1][0] == key:
            aggs[-1][3] = tr["t"]
            aggs[-1][4] += Decimal(tr["q"])
        else:
            aggs.append([key, tr["t"], tr["p"], tr["t"], Decimal(tr["q"])])
    spot = family == "binance"
    agg_rows = []
    for i, (key, first, price, last, qty) in enumerate(aggs):
        ms, _, maker = key
        if spot:
            agg_rows.append(f"{i + 1},{_d8(price)},{qty:.8f},{first},{last},{ms},"
                            f"{'True' if maker else 'False'},True")
        else:
            agg_rows.append(f"{i + 1},{price},{_plain(qty)},{first},{last},{ms},"
                            f"{'true' if maker else 'false'}")
    offset, drift, origin = _venue_ms(msgs)
    tickers = []
    for local, m in msgs:
        if not m.get("stream", "").endswith("@bookTicker"):
            continue
        d = m["data"]
        if "T" in d:
            t_ms, e_ms = int(d["T"]), int(d["E"])
        else:  # spot: no venue time; the receive time on the venue's clock
            t_ms = e_ms = round((local - offset - drift * 1e-6 * (local - origin)) / 1e6)
        tickers.append(f"{d['u']},{_d8(d['b'])},{_d8(d['B'])},{_d8(d['a'])},{_d8(d['A'])},"
                       f"{t_ms},{e_ms}")
    ticker_head = ("update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,"
                   "transaction_time,event_time")
    if spot:
        _write(folder, f"{symbol}-aggTrades-{date}.csv", agg_rows, ".zip")
        us = [r.split(",") for r in agg_rows]
        _write(folder, f"{symbol}-aggTrades-{date}.us.csv",
               (",".join([*r[:5], r[5] + "000", *r[6:]]) for r in us))
        _write(folder, f"{symbol}-trades-{date}.csv", (
            f"{t['t']},{_d8(t['p'])},{_d8(t['q'])},"
            f"{Decimal(t['p']) * Decimal(t['q']):.8f},{t['T']},"
            f"{'True' if t['m'] else 'False'},True" for t in trades), ".csv.gz")
        _write(folder, f"{symbol}-bookTicker-{date}.csv", [ticker_head, *tickers], ".csv.gz")
        return
    coinm = family == "binance-delivery"
    _write(folder, f"{symbol}-aggTrades-{date}.csv", [
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
        "is_buyer_maker", *agg_rows], ".csv" if coinm else ".csv.gz")
    extra = ("base_qty" if coinm else "quote_qty")
    trade_rows = [
        f"{t['t']},{t['p']},{t['q']},"
        + (f"{Decimal(t['q']) * CONTRACT[symbol] / Decimal(t['p']):.8f}" if coinm
           else _plain(Decimal(t['p']) * Decimal(t['q'])))
        + f",{t['T']},{'true' if t['m'] else 'false'}" for t in trades]
    _write(folder, f"{symbol}-trades-{date}.csv", [
        f"id,price,qty,{extra},time,is_buyer_maker", *trade_rows], ".zip")
    _write(folder, f"{symbol}-bookTicker-{date}.csv", [ticker_head, *tickers],
           ".zip" if coinm else ".csv.gz")
    if not coinm:  # older dumps: the same columns without a header
        _write(folder / "old", f"{symbol}-aggTrades-{date}.csv", agg_rows)
        _write(folder / "old", f"{symbol}-trades-{date}.csv", trade_rows)
        _write(folder / "old", f"{symbol}-bookTicker-{date}.csv", tickers, ".csv.gz")


def _tardis(msgs: list[tuple[int, dict[str, Any]]], symbol: str, exchange: str, date: str,
            folder: Path) -> None:
    head = f"{exchange},{symbol}"
    trades, quotes = [], []
    for local, m in msgs:
        d, stream = m.get("data", {}), m.get("stream", "")
        us = local // 1000
        if stream.endswith("@trade") and d.get("X", "MARKET") == "MARKET":
            trades.append(f"{head},{d['E'] * 1000},{us},{d['t']},"
                          f"{'sell' if d['m'] else 'buy'},{_plain(d['p'])},{_plain(d['q'])}")
        elif stream.endswith("@bookTicker"):
            ts = d["E"] * 1000 if "E" in d else us  # Tardis: local time when the venue has none
            quotes.append(f"{head},{ts},{us},{_plain(d['A'])},{_plain(d['a'])},"
                          f"{_plain(d['b'])},{_plain(d['B'])}")
    base = "exchange,symbol,timestamp,local_timestamp"
    _write(folder, f"{exchange}_trades_{date}_{symbol}.csv",
           [f"{base},id,side,price,amount", *trades], ".csv.gz")
    _write(folder, f"{exchange}_quotes_{date}_{symbol}.csv",
           [f"{base},ask_amount,ask_price,bid_price,bid_amount", *quotes], ".csv.gz")
    book = BookBuilder(25)
    snapshot_rows, incremental = [], []
    levels = ",".join(f"asks[{i}].price,asks[{i}].amount,bids[{i}].price,bids[{i}].amount"
                      for i in range(25))
    has_snapshot = any("lastUpdateId" in m for _, m in msgs)
    started = not has_snapshot
    pending: list[dict[str, Any]] = []  # diffs received before the snapshot
    for local, m in msgs:
        us = local // 1000
        if "lastUpdateId" in m:
            ts = m.get("E", local // 10**6) * 1000
            book.clear(1)
            book.clear(-1)
            entries = [(1, p, q) for p, q in m["bids"]] + [(-1, p, q) for p, q in m["asks"]]
            incremental += [f"{head},{ts},{us},true,{'bid' if s > 0 else 'ask'},"
                            f"{_plain(p)},{_plain(q)}" for s, p, q in entries]
            later = [(1, p, q) for d in pending if d["u"] > m["lastUpdateId"] for p, q in d["b"]]
            later += [(-1, p, q) for d in pending if d["u"] > m["lastUpdateId"]
                      for p, q in d["a"]]
            incremental += [f"{head},{ts},{us},false,{'bid' if s > 0 else 'ask'},"
                            f"{_plain(p)},{_plain(q)}" for s, p, q in later]
            entries += later
            started = True
        elif "@depth" in m.get("stream", ""):
            d = m["data"]
            ts = d["E"] * 1000
            entries = [(1, p, q) for p, q in d["b"]] + [(-1, p, q) for p, q in d["a"]]
            if not started:
                pending.append(d)
                continue
            incremental += [f"{head},{ts},{us},false,{'bid' if s > 0 else 'ask'},"
                            f"{_plain(p)},{_plain(q)}" for s, p, q in entries]
        else:
            continue
        for s, p, q in entries:  # prices in cents of a cent: exact integer keys
            book.update(s, int(Decimal(p) * 10**8), float(q))
        if not started:
            continue
        bid_px, bid_qty, ask_px, ask_qty = book.top()
        bids = [(p / 1e8, q) for p, q in zip(bid_px, bid_qty, strict=True)]
        asks = [(p / 1e8, q) for p, q in zip(ask_px, ask_qty, strict=True)]
        cells = []
        for i in range(25):
            a = asks[i] if i < len(asks) else None
            b = bids[i] if i < len(bids) else None
            cells += [_plain(repr(a[0])) if a else "", _plain(repr(a[1])) if a else "",
                      _plain(repr(b[0])) if b else "", _plain(repr(b[1])) if b else ""]
        snapshot_rows.append(f"{head},{ts},{us}," + ",".join(cells))
    _write(folder, f"{exchange}_book_snapshot_25_{date}_{symbol}.csv",
           [f"{base},{levels}", *snapshot_rows], ".csv.gz")
    if has_snapshot:
        _write(folder, f"{exchange}_incremental_book_L2_{date}_{symbol}.csv",
               [f"{base},is_snapshot,side,price,amount", *incremental], ".csv.gz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the folder holding spot/, usdm/ and cm/")
    args = parser.parse_args()
    for capture, seconds, name, symbol, exchange in CAPTURES:
        lines = _excerpt(args.data / capture, seconds)
        (OUT / "capture").mkdir(parents=True, exist_ok=True)
        (OUT / "capture" / f"{name}.gz").write_bytes(_gz(("\n".join(lines) + "\n").encode()))
        raw = name.rsplit("-", 1)[1]
        date = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
        msgs = _messages(lines)
        _binance(msgs, symbol, exchange, date, OUT / "binance")
        _tardis(msgs, symbol, exchange, date, OUT / "tardis")
        print(f"{name}: {len(lines)} messages, {seconds} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
