"""A day-long tape from a calibrated market, generated an hour at a time.

``soakkit tape sample --minutes 1440`` simulates the day in one piece; on a market as busy
as Binance's ETHUSDT perpetual (about 12,000 messages a minute) that held more than 17 GB
before it was stopped. This generates the same market the way a soak does, one piece at a
time, each opening at the mid the one before closed (``start_mid``), and writes the day as
one tape (``write_tape``: checked, ``tape.json`` with the market's latency constants).
With ``--jobs 2`` the pieces are simulated in parallel, each from the market's ``mid0``,
then moved by whole ticks to open at the mid the one before closed. ``--distinct K``
simulates only K pieces and plays them in turn to fill the minutes (each time moved to
open where the tape stands): for when the machine cannot spare the CPU for a whole day.

    python bench/make_day_tape.py DAY --market ethusdm --artifacts A --minutes 1440 --seed 11
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from soakkit.sim.market import simulate_market
from soakkit.sim.replay import record
from soakkit.sim.tape import NS, MarketTape
from soakkit.sim.tapefile import write_tape
from soakkit.soak.options import default_mode, load_market

ORIGIN_NS = 1_700_000_000 * NS  #: the origin `tape sample` uses


def _join(pieces: list[MarketTape]) -> MarketTape:
    """Consecutive pieces as one tape (each piece's times shifted by those before it)."""
    first = pieces[0]
    shift = np.cumsum([0] + [round(p.duration_s * NS) for p in pieces[:-1]])

    def cat(name: str, add_time: bool = False) -> np.ndarray:
        return np.concatenate([getattr(p, name) + (s if add_time else 0)
                               for p, s in zip(pieces, shift, strict=True)])

    return MarketTape(
        duration_s=sum(p.duration_s for p in pieces), tick=first.tick, lot=first.lot,
        regime_by_minute=cat("regime_by_minute"), trade_ns=cat("trade_ns", True),
        trade_side=cat("trade_side"), trade_px=cat("trade_px"), trade_qty=cat("trade_qty"),
        quote_ns=cat("quote_ns", True), bid_px=cat("bid_px"), bid_qty=cat("bid_qty"),
        ask_px=cat("ask_px"), ask_qty=cat("ask_qty"), bursts=sum(p.bursts for p in pieces),
        jumps=sum(p.jumps for p in pieces), kind=first.kind,
        contract_size=first.contract_size, latency=first.latency)


def _piece(market_name: str, artifacts: Path | None, mode: str, minutes: int,
           seq: np.random.SeedSequence) -> MarketTape:
    market = load_market(market_name, artifacts)  # type: ignore[arg-type]
    return simulate_market(mode, minutes, np.random.default_rng(seq), market)


def _moved(piece: MarketTape, mid: float) -> MarketTape:
    """``piece`` moved by whole ticks to open at ``mid``."""
    shift = round((mid - piece.mid_start) / piece.tick)
    return replace(piece, trade_px=piece.trade_px + shift, bid_px=piece.bid_px + shift,
                   ask_px=piece.ask_px + shift)


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
    p.add_argument("--distinct", type=int, help="simulate only this many pieces, played in "
                   "turn (default: every piece its own)")
    args = p.parse_args(argv)
    if not (1 <= args.minutes <= 1440 and 1 <= args.piece_minutes <= 1440
            and 1 <= args.jobs <= 8):
        p.error("--minutes and --piece-minutes must be 1..1440, --jobs 1..8")
    market = load_market(args.market, args.artifacts)
    mode = default_mode(args.market)
    count = -(-args.minutes // args.piece_minutes)
    distinct = min(args.distinct or count, count)
    seeds = np.random.SeedSequence(args.seed).spawn(distinct)
    pieces: list[MarketTape] = []
    mid: float | None = None
    done = 0
    lengths = [min(args.piece_minutes, args.minutes - k * args.piece_minutes)
               for k in range(count)]
    if distinct < count and len(set(lengths)) > 1:
        p.error("--distinct needs --minutes to be a multiple of --piece-minutes")
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 or distinct < count else None
    futures = [pool.submit(_piece, args.market, args.artifacts, mode, lengths[k], seq)
               for k, seq in enumerate(seeds)] if pool else []
    for k in range(count):
        if pool is None:
            piece = simulate_market(mode, lengths[k], np.random.default_rng(seeds[k]), market,
                                    start_mid=mid)
        else:
            piece = futures[k % distinct].result()
            piece = piece if mid is None else _moved(piece, mid)
        pieces.append(piece)
        mid, done = piece.mid_end, done + lengths[k]
        if sys.stderr.isatty():
            print(f"\r{done}/{args.minutes} minutes", end="", file=sys.stderr, flush=True)
    if pool is not None:
        pool.shutdown()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    day = _join(pieces)
    del pieces
    source = (f"bench/make_day_tape.py --market {args.market} --minutes {args.minutes} "
              f"--piece-minutes {args.piece_minutes} --seed {args.seed} --jobs {args.jobs}"
              + (f" --distinct {distinct}" if distinct < count else ""))
    write_tape(args.out, record(day, ORIGIN_NS, "SYNTH-PERP", source, venue="synthetic"),
               mtime=ORIGIN_NS / NS)
    print(f"wrote {args.out}: {args.minutes} minutes of {mode} market {market.name!r}, "
          f"{day.trade_ns.size} trades, {day.quote_ns.size} quotes (L1: the synthetic "
          "market has no depth rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
