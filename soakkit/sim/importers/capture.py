"""Raw Binance websocket captures in hftbacktest's collector layout (``--from binance-capture``).

One line per message: ``<local receive time, ns> <JSON>``, the JSON a combined-stream
message ``{"stream": "<symbol>@<stream>", "data": {...}}`` or a REST depth snapshot
``{"lastUpdateId": ..., "bids": [...], "asks": [...]}`` (with ``E``/``T`` on futures).
Streams read: ``@trade`` (and ``@aggTrade``), ``@bookTicker``, ``@depth…`` diffs; the
file may be gzipped; several files of one instrument are read in time order.

* **Market.** COIN-M messages carry the pair (``ps``): ``binance-delivery``, inverse;
  futures ones a transaction time ``T``: ``binance-futures``, linear; else spot
  ``binance``. Every message must name one symbol; files of another symbol or market, or
  files that overlap in time, are refused.
* **Times.** The tape's time is the venue's: ``T`` where the message has it, else ``E``
  (spot depth); the receive time is put on the venue's clock by
  :func:`soakkit.sim.feed.fit_clock` and kept as ``local_ns``. Spot book-ticker messages
  carry no venue time: theirs is estimated from the receive time and the latency of the
  timed messages received in the same second (``tape.json`` says so).
* **Depth.** Diffs are applied in the order received to the book the REST snapshot
  starts (diffs older than the snapshot are skipped); the depth starts at the first
  snapshot when the capture has one. Without one the book holds only the levels that
  changed since the recording began (the report says so). Messages out of the update-id
  sequence are counted. Futures prints other than ``X: MARKET`` (liquidations, insurance
  fund, ADL) are not book trades: dropped and counted.
"""

from __future__ import annotations

import gzip
import itertools
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.core.errors import TapeError
from soakkit.sim.book import BookBuilder
from soakkit.sim.depth import DepthBook
from soakkit.sim.feed import estimate_exchange_ns, feed_latency_ms, fit_clock
from soakkit.sim.importers.binance import binance_hint
from soakkit.sim.importers.common import (
    DepthInput,
    ImportReport,
    Quotes,
    Trades,
    finish,
    quotes_from_depth,
)

__all__ = ["import_binance_capture", "read_capture"]

_MS = 1_000_000


@dataclass
class Capture:
    """What a capture holds, message by message (times in ns, local as received)."""

    symbols: dict[str, str] = field(default_factory=dict)  #: symbol → where first seen
    family: str = ""  #: spot | futures | delivery
    trades: list[tuple[int, int, float, float, int]] = field(default_factory=list)
    tickers: list[tuple[int, int, float, float, float, float]] = field(default_factory=list)
    #: (local, venue time or -1, is_snapshot, first id, last id, prev id, bids, asks)
    depth: list[tuple[int, int, bool, int, int, int, list[Any], list[Any]]] = field(
        default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[int, int, str]] = field(default_factory=list)


def _family(data: dict[str, Any]) -> str:
    if "ps" in data:
        return "delivery"
    return "futures" if ("T" in data and data.get("e") != "trade") or "X" in data else "spot"


def _message(cap: Capture, where: str, local: int, msg: dict[str, Any]) -> None:
    if "stream" not in msg:
        if "lastUpdateId" in msg:
            venue_ns = int(msg.get("T", msg.get("E", -1)))
            cap.depth.append((local, venue_ns * _MS if venue_ns >= 0 else -1, True, 0,
                              int(msg["lastUpdateId"]), 0, msg["bids"], msg["asks"]))
        else:
            cap.skipped["other messages (errors, subscriptions)"] = cap.skipped.get(
                "other messages (errors, subscriptions)", 0) + 1
        return
    stream, data = str(msg["stream"]), msg["data"]
    kind = stream.split("@", 1)[1] if "@" in stream else ""
    cap.symbols.setdefault(str(data.get("s", stream.split("@", maxsplit=1)[0])).upper(), where)
    family = _family(data)
    if kind.startswith("depth") or kind == "bookTicker":
        cap.family = max(cap.family, family, key=("", "spot", "futures", "delivery").index)
    if kind in ("trade", "aggTrade"):
        if data.get("X", "MARKET") != "MARKET":
            label = "prints that are not book trades (liquidation, insurance fund, ADL)"
            cap.skipped[label] = cap.skipped.get(label, 0) + 1
            return
        cap.trades.append((local, int(data["T"]) * _MS, float(data["p"]), float(data["q"]),
                           -1 if data["m"] else 1))
    elif kind == "bookTicker":
        venue_ns = int(data["T"]) * _MS if "T" in data else -1
        cap.tickers.append((local, venue_ns, float(data["b"]), float(data["B"]),
                            float(data["a"]), float(data["A"])))
    elif kind.startswith("depth") and "lastUpdateId" in data:  # a partial-depth snapshot
        venue_ns = int(data.get("T", data.get("E", -1)))
        cap.depth.append((local, venue_ns * _MS if venue_ns >= 0 else -1, True, 0,
                          int(data["lastUpdateId"]), 0, data["bids"], data["asks"]))
    elif kind.startswith("depth"):
        venue_ns = int(data.get("T", data["E"])) * _MS
        cap.depth.append((local, venue_ns, False, int(data["U"]), int(data["u"]),
                          int(data.get("pu", -1)), data["b"], data["a"]))
    else:
        cap.skipped[f"@{kind} messages"] = cap.skipped.get(f"@{kind} messages", 0) + 1


def _lines(path: Path) -> Iterator[str]:
    """The lines of a capture file, gzipped or not, read as they are needed."""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            yield from fh
    except (OSError, EOFError, zlib.error) as exc:
        raise TapeError(f"{path}: cannot read: {exc}") from None


def _first_local(path: Path) -> int:
    for line in _lines(path):
        head = line.partition(" ")[0]
        if head.strip():
            return int(head) if head.isdigit() else 0
    return 0


def read_capture(paths: Sequence[Path]) -> Capture:
    """Parse capture files (one instrument, consecutive in time; given in any order) into a
    :class:`Capture`."""
    cap = Capture()
    for path in sorted(paths, key=_first_local):
        first = last = None
        for n, line in enumerate(_lines(path), 1):
            if not line.strip():
                continue
            head, _, body = line.partition(" ")
            try:
                local = int(head)
                msg = json.loads(body)
                if not isinstance(msg, dict):
                    raise ValueError("not an object")
                family_before = cap.family
                _message(cap, f"{path.name}:{n}", local, msg)
            except (ValueError, KeyError, TypeError) as exc:
                raise TapeError(f"{path}:{n}: not a capture line '<local ns> <Binance JSON>' "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from None
            if len(cap.symbols) > 1:
                named = ", ".join(f"{sym} ({at})" for sym, at in cap.symbols.items())
                raise TapeError(f"{path}:{n}: the capture holds several symbols: {named}; "
                                "import one instrument at a time")
            if family_before and cap.family != family_before:
                raise TapeError(f"{path}:{n}: a {cap.family} message in a {family_before} "
                                "capture; import one market at a time")
            first = local if first is None else first
            last = local
        if first is None:
            raise TapeError(f"{path}: no messages")
        cap.spans.append((first, int(last or first), path.name))
    spans = sorted(cap.spans)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        if start < end:
            raise TapeError(f"{a} and {b} overlap in time; pass consecutive captures")
    return cap


def _depth(cap: Capture, report: ImportReport, levels: int, exchange: np.ndarray,
           local: np.ndarray) -> DepthInput | None:
    """The depth messages as an L2 source (rows after each one, from the first snapshot)."""
    if not cap.depth:
        return None
    snap = [i for i, d in enumerate(cap.depth) if d[2]]
    start = snap[0] if snap else 0
    if not snap:
        report.notes.append("no REST depth snapshot in the capture: the L2 book holds only "
                            "the levels that changed since the recording began")
    prices = [float(p) for d in cap.depth[start:] for side in (d[6], d[7]) for p, q in side
              if float(q) > 0]
    sizes = [float(q) for d in cap.depth[start:] for side in (d[6], d[7]) for _, q in side
             if float(q) > 0]

    def build(tick: float, lot: float) -> DepthBook:
        book = BookBuilder(levels)
        last_u, gaps, stale = -1, 0, 0
        waiting: list[int] = []  # diffs received before the first snapshot

        def apply(i: int) -> None:
            for side, entries in ((1, cap.depth[i][6]), (-1, cap.depth[i][7])):
                for p, q in entries:
                    book.update(side, round(float(p) / tick), float(q) / lot)

        for i in range(len(cap.depth)):
            _, _, is_snap, first_id, u, prev_id, _, _ = cap.depth[i]
            if i < start:
                waiting.append(i)
                continue
            if is_snap:  # the book the snapshot shows, then the diffs it does not hold yet
                book.clear(1)
                book.clear(-1)
                apply(i)
                last_u = u
                for j in waiting:
                    if cap.depth[j][4] > last_u:
                        apply(j)
                        last_u = cap.depth[j][4]
                    else:
                        stale += 1
                waiting = []
            elif u <= last_u:
                stale += 1
                continue
            else:
                if last_u >= 0 and not (prev_id == last_u or first_id == last_u + 1
                                        or first_id <= last_u + 1 <= u):
                    gaps += 1
                apply(i)
                last_u = u
            book.record(int(exchange[i]), int(local[i]))
        if gaps:
            report.notes.append(f"{gaps} depth messages out of the update-id sequence (lost "
                                "diffs): levels may be off until the next snapshot")
        if stale:
            report.dropped["depth diffs older than the snapshot"] = stale
        if book.uncrossed:
            report.notes.append(f"{book.uncrossed} stale depth levels crossing the other "
                                "side dropped")
        return book.book(with_local=True)

    return DepthInput(np.array(prices), np.array(sizes), build, int(exchange[start]),
                      int(exchange[-1]))


def import_binance_capture(captures: Sequence[Path], out: Path, *, tick: float | None = None,
                           lot: float | None = None, kind: str | None = None,
                           contract_size: float | None = None, levels: int = 25,
                           replace: bool = False) -> ImportReport:
    """Convert Binance websocket captures (hftbacktest's collector layout) into a tape
    (``replace``: a tape already at ``out``; else it is refused)."""
    cap = read_capture(captures)
    symbol = next(iter(cap.symbols), "")
    hint = binance_hint(cap.family or "spot", symbol, kind, contract_size, tick, lot)
    report = ImportReport(out)
    t = np.array([r[2:] for r in cap.trades], dtype=np.float64).reshape(-1, 3)
    k = np.array([r[2:] for r in cap.tickers], dtype=np.float64).reshape(-1, 4)
    locals_ = [_column(rows, 0) for rows in (cap.trades, cap.tickers, cap.depth)]
    venues = [_column(rows, 1) for rows in (cap.trades, cap.tickers, cap.depth)]
    timed = [v >= 0 for v in venues]
    clock = fit_clock(np.concatenate([a[m] for a, m in zip(locals_, timed, strict=True)]),
                      np.concatenate([v[m] for v, m in zip(venues, timed, strict=True)]))
    fixed = [clock.to_exchange(a) for a in locals_]
    t_local = np.concatenate([f[m] for f, m in zip(fixed, timed, strict=True)])
    t_lat = np.maximum(t_local - np.concatenate([v[m] for v, m in zip(venues, timed,
                                                                       strict=True)]), 0)
    for i in range(3):
        missing = ~timed[i]
        venues[i][missing] = estimate_exchange_ns(fixed[i][missing], t_local, t_lat)
        fixed[i] = np.maximum(fixed[i], venues[i])
    estimated = bool((~timed[1]).any())
    if estimated:
        report.notes.append(f"{int((~timed[1]).sum())} book-ticker messages carry no venue "
                            "time (Binance spot): estimated as receive time less the median "
                            "feed latency of that second")
    report.clock = clock.to_json()
    report.feed = feed_latency_ms(np.concatenate([v[m] for v, m in zip(venues, timed,
                                                                       strict=True)]),
                                  np.concatenate([f[m] for f, m in zip(fixed, timed,
                                                                       strict=True)]))
    depth = _depth(cap, report, levels, venues[2], fixed[2])
    if k.size:
        quotes = Quotes(venues[1], k[:, 0], k[:, 1], k[:, 2], k[:, 3], fixed[1])
    elif depth is not None:
        report.notes.append("no @bookTicker stream: the best quotes come from the depth")
        quotes = quotes_from_depth(depth, hint.tick, hint.lot)
    else:
        raise TapeError(f"{captures[0]}: no @bookTicker or @depth messages: no quotes to replay")
    report.dropped.update(cap.skipped)
    names = " + ".join(name for _, _, name in sorted(cap.spans))
    return finish(report, out, Trades(venues[0], t[:, 2].astype(np.int64), t[:, 0], t[:, 1],
                                      fixed[0]), quotes, hint, f"binance-capture: {names}",
                  depth, {"clock": report.clock, "feed_latency_ms": report.feed,
                          "estimated_quote_times": estimated}, replace)


def _column(rows: Sequence[tuple[Any, ...]], i: int) -> np.ndarray:
    """Column ``i`` (an int64 time) of message tuples, exactly."""
    return np.array([r[i] for r in rows], dtype=np.int64)
