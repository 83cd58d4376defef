"""A day-long tape from a calibrated market, generated an hour at a time, with its depth.

``soakkit tape sample --minutes 1440`` simulates the day in one piece; on a market as busy
as Binance's ETHUSDT perpetual (about 12,000 messages a minute) that held more than 17 GB
before it was stopped. This generates the same market the way a soak does, one piece at a
time, each opening at the mid the one before closed (``start_mid``), with the market's
depth rows (``--levels N``, the N best levels of each side after every quote row, or at
most one row per ``--conflate-ms``: :mod:`soakkit.sim.bookdepth`; ``--levels 0``: an L1
tape). Each piece is checked
(``check_tape``) and written as parquet parts as it comes, then the parts are streamed into
one tape (``trades.parquet``, ``quotes.parquet``, ``depth.parquet`` in ``write_tape``'s
columns and compression, ``tape.json`` with the market's latency constants), so memory is
a piece's, not the day's. With ``--jobs 2`` the pieces are simulated in parallel, each from
the market's ``mid0``, then moved by whole ticks to open at the mid the one before closed.
``--distinct K`` simulates only K pieces and plays them in turn to fill the minutes (each
time moved to open where the tape stands): for when the machine cannot spare the CPU for a
whole day. Check the result with ``soakkit tape check``.

    python bench/make_day_tape.py DAY --market ethusdm --artifacts A --minutes 1440 --seed 11
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from soakkit.core.io import atomic_write_json
from soakkit.sim.depth import MAX_CONFLATE_MS, MAX_LEVELS
from soakkit.sim.instrument import Instrument
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import record
from soakkit.sim.tape import NS, MarketTape
from soakkit.sim.tape_checks import check_tape
from soakkit.sim.tapefile import RecordedTape, existing_tape_files, tape_frames
from soakkit.sim.tapemeta import TAPE_META, meta_document
from soakkit.soak.options import default_mode, load_market

ORIGIN_NS = 1_700_000_000 * NS  #: the origin `tape sample` uses


def _piece(market_name: str, artifacts: Path | None, mode: str, minutes: int, levels: int,
           conflate_ms: int, seq: np.random.SeedSequence) -> MarketTape:
    market = load_market(market_name, artifacts)  # type: ignore[arg-type]
    return simulate_market(mode, minutes, np.random.default_rng(seq), market, levels=levels,
                           conflate_ms=conflate_ms)


def _moved(piece: MarketTape, mid: float) -> MarketTape:
    """``piece`` moved by whole ticks to open at ``mid``."""
    shift = round((mid - piece.mid_start) / piece.tick)
    depth = piece.depth
    if depth is not None:  # empty levels (quantity 0) keep price 0
        depth = replace(depth, bid_px=np.where(depth.bid_qty > 0, depth.bid_px + shift, 0),
                        ask_px=np.where(depth.ask_qty > 0, depth.ask_px + shift, 0))
    return replace(piece, trade_px=piece.trade_px + shift, bid_px=piece.bid_px + shift,
                   ask_px=piece.ask_px + shift, depth=depth)


def _write_part(parts: Path, k: int, piece: MarketTape, origin_ns: int) -> RecordedTape:
    """Check piece ``k`` as a tape from ``origin_ns`` and write its tables as parts."""
    tape = record(piece, origin_ns, "SYNTH-PERP", venue="synthetic")
    check_tape(tape, parts)
    for name, frame in tape_frames(tape).items():
        frame.write_parquet(parts / f"{name}.{k:05d}", statistics=False)
    return tape


def _join_parts(parts: Path, out: Path, count: int) -> None:
    """Stream the parts of each table into one file (``write_tape``'s compression)."""
    for name in ("trades.parquet", "quotes.parquet", "depth.parquet"):
        files = [parts / f"{name}.{k:05d}" for k in range(count)]
        if not files[0].is_file():
            continue
        tmp = out / f".{name}.tmp"
        pl.scan_parquet(files).sink_parquet(tmp, compression="zstd", compression_level=9,
                                            statistics=False)
        os.utime(tmp, (ORIGIN_NS / NS, ORIGIN_NS / NS))
        tmp.rename(out / name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--market", required=True, help="a calibrated market (soak --market)")
    p.add_argument("--artifacts", type=Path, help="where --market NAME is looked up")
    p.add_argument("--minutes", type=int, default=1440, help="1..1440 (default 1440)")
    p.add_argument("--piece-minutes", type=int, default=60, help="1..1440 (default 60)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--jobs", type=int, default=1, help="processes (1..8; default 1)")
    p.add_argument("--levels", type=int, default=10,
                   help=f"depth levels per side (0..{MAX_LEVELS}; default 10; 0: an L1 tape)")
    p.add_argument("--conflate-ms", type=int, default=0,
                   help=f"at most one depth row per this many ms (0..{MAX_CONFLATE_MS}; "
                   "default 0: one with every quote row; soakkit tape sample --conflate-ms)")
    p.add_argument("--distinct", type=int, help="simulate only this many pieces, played in "
                   "turn (default: every piece its own)")
    args = p.parse_args(argv)
    if not (1 <= args.minutes <= 1440 and 1 <= args.piece_minutes <= 1440
            and 1 <= args.jobs <= 8):
        p.error("--minutes and --piece-minutes must be 1..1440, --jobs 1..8")
    if not (0 <= args.levels <= MAX_LEVELS and 0 <= args.conflate_ms <= MAX_CONFLATE_MS):
        p.error(f"--levels must be 0..{MAX_LEVELS}, --conflate-ms 0..{MAX_CONFLATE_MS}")
    if existing_tape_files(args.out):
        p.error(f"{args.out} already holds a tape")
    market = load_market(args.market, args.artifacts)
    mode = default_mode(args.market)
    count = -(-args.minutes // args.piece_minutes)
    distinct = min(args.distinct or count, count)
    seeds = np.random.SeedSequence(args.seed).spawn(distinct)
    lengths = [min(args.piece_minutes, args.minutes - k * args.piece_minutes)
               for k in range(count)]
    if distinct < count and len(set(lengths)) > 1:
        p.error("--distinct needs --minutes to be a multiple of --piece-minutes")
    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.out / ".parts"
    parts.mkdir(exist_ok=True)
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 or distinct < count else None
    futures: list[Future[MarketTape] | None] = [
        pool.submit(_piece, args.market, args.artifacts, mode, lengths[k], args.levels,
                    args.conflate_ms, seq)
        for k, seq in enumerate(seeds)] if pool else []
    mid: float | None = None
    done = trades = quotes = depth_rows = 0
    at = ORIGIN_NS
    meta: tuple[Instrument, dict[str, Any], int] | None = None  # of the first piece
    for k in range(count):
        if pool is None:
            piece = simulate_market(mode, lengths[k], np.random.default_rng(seeds[k]), market,
                                    start_mid=mid, levels=args.levels,
                                    conflate_ms=args.conflate_ms)
        else:
            future = futures[k % distinct]
            assert future is not None
            piece = future.result()
            if distinct == count:
                futures[k] = None  # each piece once: let it go when written
            piece = piece if mid is None else _moved(piece, mid)
        written = _write_part(parts, k, piece, at)
        meta = meta or (written.instrument, dict(written.provenance),
                        written.depth.levels if written.depth is not None else 0)
        del written
        trades, quotes = trades + piece.trade_ns.size, quotes + piece.quote_ns.size
        depth_rows += piece.depth.rows if piece.depth is not None else 0
        at += round(piece.duration_s * NS)
        mid, done = piece.mid_end, done + lengths[k]
        del piece
        if sys.stderr.isatty():
            print(f"\r{done}/{args.minutes} minutes", end="", file=sys.stderr, flush=True)
    if pool is not None:
        pool.shutdown()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    _join_parts(parts, args.out, count)
    shutil.rmtree(parts)
    source = (f"bench/make_day_tape.py --market {args.market} --minutes {args.minutes} "
              f"--piece-minutes {args.piece_minutes} --seed {args.seed} --jobs {args.jobs} "
              f"--levels {args.levels} --conflate-ms {args.conflate_ms}"
              + (f" --distinct {distinct}" if distinct < count else ""))
    assert meta is not None
    instrument, provenance, levels = meta
    if levels:
        provenance["levels"] = levels
    atomic_write_json(args.out / TAPE_META, meta_document(instrument, source, provenance),
                      mtime=ORIGIN_NS / NS)
    print(f"wrote {args.out}: {args.minutes} minutes of {mode} market {market.name!r}, "
          f"{trades} trades, {quotes} quotes, "
          + (f"{depth_rows} depth rows of {levels} levels (L2)" if levels else "no depth (L1)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
