"""Every public layout imports, on small real excerpts (tests/data/tapes/README.md).

The excerpts are the first seconds of hftbacktest's Binance captures (MIT) and the same
messages written in the layouts Binance (data.binance.vision) and Tardis.dev publish
(``scripts/make_tape_excerpts.py``). Each layout must give the market the capture holds:
the same prints, sides and times, the same book, the instrument and receive times.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from soakkit.core.errors import TapeError
from soakkit.sim.importers import import_binance, import_binance_capture, import_tardis
from soakkit.sim.tapefile import RecordedTape, read_tape

from .conftest import REPO, assert_one_line_error

DATA = REPO / "tests" / "data" / "tapes"
CAP, BIN, TAR = DATA / "capture", DATA / "binance", DATA / "tardis"
SPOT, USDM, COINM = (CAP / "spot-btcusdt-20240809.gz", CAP / "usdm-ethusdt-20240808.gz",
                     CAP / "cm-ethusd_perp-20240809.gz")


def _messages(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with gzip.open(path, "rt") as fh:
        return [(int(line.split(" ", 1)[0]), json.loads(line.split(" ", 1)[1])) for line in fh]


def _prints(path: Path) -> list[dict[str, Any]]:
    return [m["data"] for _, m in _messages(path) if m.get("stream", "").endswith("@trade")
            and m["data"].get("X", "MARKET") == "MARKET"]


def _capture(path: Path, tmp: Path, **kw: Any) -> RecordedTape:
    import_binance_capture([path], tmp / path.stem, **kw)
    return read_tape(tmp / path.stem)


@pytest.mark.parametrize(("path", "symbol", "venue", "kind", "size", "tick", "lot"), [
    (SPOT, "BTCUSDT", "binance", "spot", 1.0, 0.01, 1e-5),
    (USDM, "ETHUSDT", "binance-futures", "linear", 1.0, 0.01, 0.001),
    (COINM, "ETHUSD_PERP", "binance-delivery", "inverse", 10.0, 0.01, 1.0),
], ids=["spot", "usdm", "coinm"])
def test_every_capture_imports_its_market_instrument_and_receive_times(
        path: Path, symbol: str, venue: str, kind: str, size: float, tick: float, lot: float,
        tmp_path: Path) -> None:
    tape = _capture(path, tmp_path)
    inst = tape.instrument
    assert (inst.symbol, inst.venue, inst.kind, inst.contract_size) == (symbol, venue, kind, size)
    assert (inst.tick, inst.lot) == pytest.approx((tick, lot))
    assert tape.source == f"binance-capture: {path.name}"
    # every print, at its transaction time, price, size and aggressor side
    prints = [p for p in _prints(path) if p["T"] * 10**6 >= tape.start_ns]
    assert tape.trade_ns.tolist() == [p["T"] * 10**6 for p in prints]
    assert np.allclose(tape.trade_px * tick, [float(p["p"]) for p in prints])
    assert np.allclose(tape.trade_qty * lot, [float(p["q"]) for p in prints])
    assert tape.trade_side.tolist() == [-1 if p["m"] else 1 for p in prints]
    # receive times on the venue's clock: the capture's clock runs ~1.27 s behind Binance's
    clock = tape.provenance["clock"]
    assert clock["shifted"] and -1280 < clock["offset_ms"] < -1260
    assert tape.trade_local_ns is not None and tape.quote_local_ns is not None
    assert np.all(tape.trade_local_ns >= tape.trade_ns)
    feed = tape.provenance["feed_latency_ms"]
    assert 0 < feed["p50"] < feed["p99"] < 100
    # an L2 tape whose best levels are the book ticker's (another stream, same book)
    depth = tape.depth
    assert depth is not None and depth.levels == 25 and depth.rows > 50
    q = np.maximum(np.searchsorted(tape.quote_ns, depth.ns, side="right") - 1, 0)
    assert (depth.bid_px[:, 0] == tape.bid_px[q]).mean() > 0.9
    assert (depth.ask_px[:, 0] == tape.ask_px[q]).mean() > 0.9
    assert np.all(np.diff(depth.bid_px[depth.bid_qty[:, 1] > 0][:, :2], axis=1) < 0)


def test_spot_book_tickers_carry_no_venue_time_and_are_estimated(tmp_path: Path) -> None:
    tape = _capture(SPOT, tmp_path)
    assert tape.provenance["estimated_quote_times"] is True
    assert tape.quote_local_ns is not None
    lag = (tape.quote_local_ns - tape.quote_ns) / 1e6
    assert 0 <= float(np.median(lag)) < 10  # the feed latency of the trades around them
    assert any("no venue time" in n for n in tape.provenance["notes"])
    assert any("no REST depth snapshot" in n for n in tape.provenance["notes"])


def test_futures_depth_starts_at_the_rest_snapshot(tmp_path: Path) -> None:
    snapshot = next(m for _, m in _messages(USDM) if "lastUpdateId" in m)
    tape = _capture(USDM, tmp_path)
    assert tape.depth is not None
    assert int(tape.depth.ns[0]) == snapshot["T"] * 10**6
    best_bid = max(float(p) for p, q in snapshot["bids"] if float(q) > 0)
    # the diffs the snapshot does not hold yet are applied on top of it
    assert abs(tape.depth.bid_px[0, 0] * 0.01 - best_bid) < 0.5
    assert tape.provenance["estimated_quote_times"] is False


@pytest.mark.parametrize(("trades", "quotes", "rows", "venue"), [
    ("BTCUSDT-aggTrades-2024-08-09.zip", "BTCUSDT-bookTicker-2024-08-09.csv.gz", None,
     "binance"),
    ("BTCUSDT-aggTrades-2024-08-09.us.csv", "BTCUSDT-bookTicker-2024-08-09.csv.gz", None,
     "binance"),
    ("BTCUSDT-trades-2024-08-09.csv.gz", "BTCUSDT-bookTicker-2024-08-09.csv.gz", "prints",
     "binance"),
    ("ETHUSDT-aggTrades-2024-08-08.csv.gz", "ETHUSDT-bookTicker-2024-08-08.csv.gz", None,
     "binance-futures"),
    ("ETHUSDT-trades-2024-08-08.zip", "ETHUSDT-bookTicker-2024-08-08.csv.gz", "prints",
     "binance-futures"),
    ("old/ETHUSDT-aggTrades-2024-08-08.csv", "old/ETHUSDT-bookTicker-2024-08-08.csv.gz", None,
     "binance-futures"),
    ("old/ETHUSDT-trades-2024-08-08.csv", "old/ETHUSDT-bookTicker-2024-08-08.csv.gz",
     "prints", "binance-futures"),
    ("ETHUSD_PERP-aggTrades-2024-08-09.csv", "ETHUSD_PERP-bookTicker-2024-08-09.zip", None,
     "binance-delivery"),
    ("ETHUSD_PERP-trades-2024-08-09.zip", "ETHUSD_PERP-bookTicker-2024-08-09.zip", "prints",
     "binance-delivery"),
], ids=lambda v: str(v).replace("/", "-") if isinstance(v, str) else None)
def test_every_binance_layout_imports_the_captured_market(
        trades: str, quotes: str, rows: str | None, venue: str, tmp_path: Path) -> None:
    capture = {"binance": SPOT, "binance-futures": USDM, "binance-delivery": COINM}[venue]
    symbol = "BTCUSDT" if ".us." in trades else ""
    report = import_binance(BIN / trades, BIN / quotes, tmp_path / "t", symbol=symbol)
    tape = read_tape(tmp_path / "t")
    assert tape.venue == venue and report.instrument is not None
    assert tape.instrument.kind == {"binance": "spot", "binance-futures": "linear",
                                    "binance-delivery": "inverse"}[venue]
    prints = _prints(capture)
    if rows == "prints":  # one row per print: exactly the capture's
        kept = [p for p in prints if p["T"] * 10**6 >= tape.start_ns]
        assert tape.trade_ns.tolist() == [p["T"] * 10**6 for p in kept]
        assert tape.trade_side.tolist() == [-1 if p["m"] else 1 for p in kept]
    else:  # aggregate trades: every print's size, summed per taker order and price
        assert 0 < tape.trade_ns.size < len(prints)
        total = sum(float(p["q"]) for p in prints if p["T"] * 10**6 >= tape.start_ns)
        assert float(tape.trade_qty.sum()) * tape.lot == pytest.approx(total)
    tickers = [m["data"] for _, m in _messages(capture) if "@bookTicker" in m.get("stream", "")]
    assert tape.quote_ns.size == len(tickers)
    assert tape.trade_local_ns is None  # Binance public data has no receive time


def test_spot_microseconds_and_headerless_files_give_the_same_tape(tmp_path: Path) -> None:
    ticker = BIN / "BTCUSDT-bookTicker-2024-08-09.csv.gz"
    import_binance(BIN / "BTCUSDT-aggTrades-2024-08-09.zip", ticker, tmp_path / "ms")
    import_binance(BIN / "BTCUSDT-aggTrades-2024-08-09.us.csv", ticker, tmp_path / "us",
                   symbol="BTCUSDT")
    ms, us = read_tape(tmp_path / "ms"), read_tape(tmp_path / "us")
    assert np.array_equal(ms.trade_ns, us.trade_ns) and np.array_equal(ms.trade_px, us.trade_px)
    new = read_tape(import_binance(BIN / "ETHUSDT-aggTrades-2024-08-08.csv.gz",
                                   BIN / "ETHUSDT-bookTicker-2024-08-08.csv.gz",
                                   tmp_path / "new").folder)
    old = read_tape(import_binance(BIN / "old" / "ETHUSDT-aggTrades-2024-08-08.csv",
                                   BIN / "old" / "ETHUSDT-bookTicker-2024-08-08.csv.gz",
                                   tmp_path / "old").folder)
    for a in ("trade_ns", "trade_px", "trade_qty", "quote_ns", "bid_px", "ask_qty"):
        assert np.array_equal(getattr(new, a), getattr(old, a)), a


@pytest.mark.parametrize(("venue", "symbol", "date", "capture"), [
    ("binance", "BTCUSDT", "2024-08-09", SPOT),
    ("binance-futures", "ETHUSDT", "2024-08-08", USDM),
    ("binance-delivery", "ETHUSD_PERP", "2024-08-09", COINM),
])
def test_tardis_trades_quotes_and_book_snapshots_import_the_captured_market(
        venue: str, symbol: str, date: str, capture: Path, tmp_path: Path) -> None:
    name = f"{venue}_{{}}_{date}_{symbol}.csv.gz"
    import_tardis(TAR / name.format("trades"), TAR / name.format("quotes"), tmp_path / "t",
                  book=TAR / name.format("book_snapshot_25"))
    tardis, cap = read_tape(tmp_path / "t"), _capture(capture, tmp_path)
    assert (tardis.symbol, tardis.venue, tardis.instrument.kind) == (
        cap.symbol, cap.venue, cap.instrument.kind)
    assert tardis.instrument.contract_size == cap.instrument.contract_size
    # the same prints in the same order (Tardis stamps Binance's event time E, not T)
    n = min(tardis.trade_px.size, cap.trade_px.size)
    assert np.array_equal(tardis.trade_px[-n:], cap.trade_px[-n:])
    assert np.array_equal(tardis.trade_side[-n:], cap.trade_side[-n:])
    assert tardis.trade_local_ns is not None and tardis.provenance["clock"]["shifted"]
    # the same book, level by level
    assert tardis.depth is not None and cap.depth is not None
    assert tardis.depth.levels == 25
    m = min(tardis.depth.rows, cap.depth.rows)
    assert np.array_equal(tardis.depth.bid_px[-m:], cap.depth.bid_px[-m:])
    assert np.allclose(tardis.depth.ask_qty[-m:], cap.depth.ask_qty[-m:])


def test_tardis_incremental_book_builds_the_captured_book(tmp_path: Path) -> None:
    import_tardis(TAR / "binance-futures_trades_2024-08-08_ETHUSDT.csv.gz", None,
                  tmp_path / "t",
                  book=TAR / "binance-futures_incremental_book_L2_2024-08-08_ETHUSDT.csv.gz")
    tardis, cap = read_tape(tmp_path / "t"), _capture(USDM, tmp_path)
    assert tardis.depth is not None and cap.depth is not None
    m = min(tardis.depth.rows, cap.depth.rows)
    assert np.array_equal(tardis.depth.ask_px[-m:], cap.depth.ask_px[-m:])
    assert np.allclose(tardis.depth.bid_qty[-m:], cap.depth.bid_qty[-m:])
    # no quotes file: the L1 quotes are the depth's best levels
    assert np.array_equal(tardis.bid_px, tardis.depth.bid_px[:, 0])
    assert any("best quotes come from the depth" in n for n in tardis.provenance["notes"])


def _shifted_ticker(tmp: Path, *, ms: int = 0, price: float = 1.0) -> Path:
    """The USDⓈ-M excerpt's book tickers moved by ``ms`` or scaled by ``price``."""
    rows = gzip.decompress((BIN / "ETHUSDT-bookTicker-2024-08-08.csv.gz").read_bytes()
                           ).decode().splitlines()
    out = [rows[0]]
    for row in rows[1:]:
        c = row.split(",")
        out.append(",".join([c[0], f"{float(c[1]) * price:.2f}", c[2],
                             f"{float(c[3]) * price:.2f}", c[4], str(int(c[5]) + ms),
                             str(int(c[6]) + ms)]))
    path = tmp / f"{ms}-{price}" / "ETHUSDT-bookTicker-2024-08-08.csv"
    path.parent.mkdir()
    path.write_text("\n".join(out) + "\n")
    return path


def test_inputs_of_two_instruments_markets_or_days_are_refused_in_one_line(
        tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    agg = str(BIN / "ETHUSDT-aggTrades-2024-08-08.csv.gz")
    cases = [
        (["--from", "binance", "--trades", agg, "--quotes",
          str(BIN / "ETHUSD_PERP-bookTicker-2024-08-09.zip")],
         "symbol differs between the inputs"),
        (["--from", "binance", "--trades", agg, "--quotes",
          str(_shifted_ticker(tmp_path, ms=86_400_000))], "do not cover the same time"),
        (["--from", "binance", "--trades", agg, "--quotes",
          str(_shifted_ticker(tmp_path, price=1.01))], "not one market"),
        (["--from", "binance-capture", "--capture", str(SPOT), str(USDM)], "several symbols"),
        (["--from", "binance-capture", "--capture", str(USDM), str(USDM)], "overlap in time"),
        (["--from", "binance-capture", "--capture", str(COINM), "--kind", "linear"],
         "binance-delivery market (inverse)"),
    ]
    spot_quotes = tmp_path / "binance_quotes_2024-08-08_ETHUSDT.csv"
    rows = gzip.decompress((TAR / "binance-futures_quotes_2024-08-08_ETHUSDT.csv.gz"
                            ).read_bytes()).decode()
    spot_quotes.write_text(rows.replace("binance-futures,", "binance,"))
    cases.append((["--from", "tardis", "--trades",
                   str(TAR / "binance-futures_trades_2024-08-08_ETHUSDT.csv.gz"), "--quotes",
                   str(spot_quotes)], "venue differs between the inputs"))
    for argv, message in cases:
        out = tmp_path / "out"
        result = cli("tape", "import", *argv, "--out", str(out))
        assert result.code == 2, (argv, result.err)
        assert_one_line_error(result, message)
        assert not out.exists()


def test_a_damaged_capture_names_its_line(tmp_path: Path) -> None:
    lines = gzip.decompress(USDM.read_bytes()).decode().splitlines()
    lines[4] = lines[4][:60]
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(TapeError, match=r"bad.gz:5: not a capture line"):
        import_binance_capture([bad], tmp_path / "t")
    other = tmp_path / "spot.gz"
    shutil.copy(SPOT, other)
    with pytest.raises(TapeError, match="several symbols"):
        import_binance_capture([other, COINM], tmp_path / "t2")


def test_consecutive_captures_import_as_one_in_any_order(tmp_path: Path) -> None:
    lines = gzip.decompress(COINM.read_bytes()).decode().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = tmp_path / "a.gz", tmp_path / "b"  # the second one not gzipped
    first.write_bytes(gzip.compress("".join(lines[:half]).encode()))
    second.write_text("".join(lines[half:]))
    import_binance_capture([second, first], tmp_path / "split")
    split, whole = read_tape(tmp_path / "split"), _capture(COINM, tmp_path)
    for name in ("trade_ns", "trade_px", "quote_ns", "bid_qty", "quote_local_ns"):
        assert np.array_equal(getattr(split, name), getattr(whole, name)), name
    assert split.depth is not None and whole.depth is not None
    assert np.array_equal(split.depth.ask_px, whole.depth.ask_px)
    assert split.source == "binance-capture: a.gz + b"


def test_the_cli_imports_a_capture_and_checks_what_it_wrote(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "t"
    done = cli("tape", "import", "--from", "binance-capture", "--capture", str(COINM),
               "--levels", "20", "--out", str(out))
    assert done.code == 0, done.err
    assert "ETHUSD_PERP on binance-delivery (inverse, tick 0.01, lot 1, contract 10 USD)" in \
        done.out
    assert "feed latency (receive - venue time): p50" in done.out
    checked = cli("tape", "check", str(out))
    assert checked.code == 0, checked.err
    assert "inverse, tick 0.01, lot 1, contract 10 USD" in checked.out
    assert "(20 levels: an L2 tape)" in checked.out
    assert "messages per second: median" in checked.out and "trades per minute" in checked.out


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "binance-capture"], "--capture is required"),
    (["--from", "binance", "--trades", "t.csv"], "--quotes is required"),
    (["--from", "tardis", "--trades", "t.csv"], "--quotes, --book or both are required"),
    (["--from", "binance", "--trades", "t.csv", "--quotes", "q.csv", "--levels", "5"],
     "--levels does not apply"),
    (["--from", "binance-capture", "--capture", "c.gz", "--levels", "101"], "--levels"),
    (["--from", "tardis", "--trades", "t.csv", "--book", "b.csv", "--kind", "future"],
     "--kind"),
])
def test_import_flags_that_do_not_fit_are_one_line(argv: list[str], message: str,
                                                   tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("tape", "import", *argv, "--out", str(tmp_path / "out"))
    assert result.code == 2
    assert_one_line_error(result, message)
