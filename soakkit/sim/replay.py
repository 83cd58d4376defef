"""Replay: a recorded tape cut into iteration windows, with regimes labelled from the data.

Iteration ``n`` of a ``--sim-minutes M`` soak replays ``[start + (n−1)·M, start + n·M)``
minutes of the tape, ``start`` being its first quote; the book in force when the window
opens is its first row. Each minute is labelled from what the market did (no generator
to ask): a minute with a price jump is ``spike``, else one whose realised volatility
(jumps removed, corrected for bid-ask bounce) reaches ``LABELS.volatile_vol_bps`` is
``volatile``, else ``calm``. Silences longer than ``MARKET.gap_report_s`` are reported
as gaps; nothing is interpolated across them.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from soakkit.core.errors import UsageError
from soakkit.sim.regimes import LABELS, MARKET, REGIME_NAMES
from soakkit.sim.stats import merge_sorted
from soakkit.sim.tape import NS, MarketTape

if TYPE_CHECKING:  # the tape files' modules (and polars) load with the first tape read:
    # a synthetic soak labels its minutes here and reads none
    from soakkit.sim.tapefile import RecordedTape
    from soakkit.sim.tapestream import TapeStream

__all__ = ["MinuteStats", "label_minutes", "load_tape", "record", "replay_span",
           "replay_window", "stream_tape", "windows_available"]

_CALM, _VOLATILE, _SPIKE = (REGIME_NAMES.index(r) for r in ("calm", "volatile", "spike"))


class MinuteStats:
    """Per-minute realised volatility, jumps and regime label of a stretch of tape."""

    def __init__(self, vol: np.ndarray, jumps: np.ndarray, jump_bps: np.ndarray,
                 returns: np.ndarray, is_jump: np.ndarray, threshold: np.ndarray) -> None:
        self.vol = vol  #: bps per sqrt(s), jumps removed, bounce-corrected
        self.jumps = jumps  #: jumps per minute
        self.jump_bps = jump_bps  #: absolute size of every jump, bps
        self.returns = returns  #: 1-s mid returns without the jumps, bps, (minutes, 60)
        self.is_jump = is_jump  #: which fine-grid returns were jumps, (minutes, 60 / sample)
        self.threshold = threshold  #: each minute's jump detection threshold, bps
        self.labels = np.where(jumps > 0, _SPIKE,
                               np.where(vol >= LABELS.volatile_vol_bps, _VOLATILE, _CALM))


def label_minutes(quote_ns: np.ndarray, mid: np.ndarray, start_ns: int, minutes: int
                  ) -> MinuteStats:
    """Label ``minutes`` minutes from ``start_ns`` from the quote mids (see module doc).

    Jumps: mid returns over ``LABELS.jump_sample_s`` beyond ``jump_sigmas`` robust
    sigmas of the minute (and at least ``jump_min_bps``); adjacent ones are one jump.
    Volatility: 1-s returns with the jumps taken out, bounce-corrected (Zhou's estimator:
    sum of squares plus twice the first-order autocovariance).
    """
    fine = round(1.0 / LABELS.jump_sample_s)
    per = 60 * fine
    step = round(LABELS.jump_sample_s * NS)
    grid = start_ns + np.arange(minutes * per + 1, dtype=np.int64) * step
    at = np.maximum(np.searchsorted(quote_ns, grid, side="right") - 1, 0)
    r = (np.diff(np.log(mid[at])) * 1e4).reshape(minutes, per)
    sigma = 1.4826 * np.median(np.abs(r - np.median(r, axis=1, keepdims=True)), axis=1,
                               keepdims=True)
    threshold = np.maximum(LABELS.jump_min_bps, LABELS.jump_sigmas * sigma)
    flagged = np.abs(r) > threshold
    begins = flagged.copy()
    begins[:, 1:] &= ~flagged[:, :-1]  # adjacent flagged samples are one jump
    run = np.cumsum(begins.ravel())
    sizes = np.abs(np.bincount(run[flagged.ravel()], weights=r.ravel()[flagged.ravel()])[1:])
    seconds = np.where(flagged, 0.0, r).reshape(minutes, 60, fine).sum(axis=2)
    rv = (seconds**2).sum(axis=1) + 2.0 * (seconds[:, 1:] * seconds[:, :-1]).sum(axis=1)
    vol = np.sqrt(np.maximum(rv, 0.0) / 60.0)
    return MinuteStats(vol, begins.sum(axis=1), sizes, seconds, flagged, threshold[:, 0])


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    from soakkit.sim.depthfile import DEPTH_TABLE
    from soakkit.sim.tapefile import TAPE_META, find_table

    files = [find_table(folder, "trades"), find_table(folder, "quotes")]
    files += [p for p in (folder / TAPE_META, folder / DEPTH_TABLE) if p.is_file()]
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@functools.lru_cache(maxsize=4)
def _cached(folder: Path, signature: tuple[tuple[str, int, int], ...]) -> RecordedTape:
    from soakkit.sim.tapefile import read_tape

    return read_tape(folder)


def load_tape(path: Path) -> RecordedTape:
    """Read (once per process while the files do not change) and check a tape folder."""
    folder = Path(path).resolve()
    return _cached(folder, _signature(folder))


@functools.lru_cache(maxsize=4)
def _opened(folder: Path, signature: tuple[tuple[str, int, int], ...], block_rows: int
            ) -> RecordedTape | TapeStream:
    from soakkit.sim.tapestream import open_tape

    return open_tape(folder, block_rows)


def stream_tape(path: Path) -> RecordedTape | TapeStream:
    """Open and check a tape folder for replay (once per process while the files do not
    change): read whole when it is short, else streamed, a block of
    :data:`~soakkit.sim.tapestream.BLOCK_ROWS` rows at a time
    (:mod:`soakkit.sim.tapestream`), so a day-long tape costs a block's memory."""
    from soakkit.sim import tapestream

    folder = Path(path).resolve()
    return _opened(folder, _signature(folder), tapestream.BLOCK_ROWS)


def windows_available(tape: RecordedTape | TapeStream, minutes: int) -> int:
    """How many whole ``minutes``-minute windows the tape holds (a last window may end in
    a silence shorter than a reportable gap)."""
    span = tape.end_ns - tape.start_ns + round(MARKET.gap_report_s * NS)
    return int(span // (minutes * 60 * NS))


def replay_window(tape: RecordedTape | TapeStream, n: int, minutes: int) -> MarketTape:
    """The market of iteration ``n`` (from 1): window ``n`` of ``minutes`` minutes."""
    if n < 1 or n > windows_available(tape, minutes):
        raise UsageError(
            f"--market-data {tape.path}: the tape covers {tape.duration_s / 60:.1f} minutes, "
            f"{windows_available(tape, minutes)} window(s) of --sim-minutes {minutes}; "
            f"iteration {n} has no data")
    start = tape.start_ns + (n - 1) * minutes * 60 * NS
    return replay_span(tape, start, start + minutes * 60 * NS)


def replay_span(tape: RecordedTape | TapeStream, start: int, end: int) -> MarketTape:
    """The market of ``[start, end)`` (absolute ns, ``start`` at or after the first quote);
    its regimes are labelled by whole minutes (a last partial minute as far as it goes)."""
    if start < tape.start_ns or end <= start:
        raise ValueError(f"span {start}..{end} is not inside the tape (from {tape.start_ns})")
    from soakkit.sim.tapefile import RecordedTape  # loaded with the tape

    if not isinstance(tape, RecordedTape):
        tape = tape.piece(start, end)  # a streamed tape: the rows of the span
    minutes = -(-(end - start) // (60 * NS))
    q0 = int(np.searchsorted(tape.quote_ns, start, side="right")) - 1
    q1 = int(np.searchsorted(tape.quote_ns, end, side="left"))
    t0, t1 = np.searchsorted(tape.trade_ns, [start, end], side="left")
    quote_ns = tape.quote_ns[q0:q1] - start
    quote_ns[0] = 0
    rows = slice(q0, q1)
    mid = (tape.bid_px[rows] + tape.ask_px[rows]) * (0.5 * tape.tick)
    stats = label_minutes(quote_ns, mid, 0, minutes)
    messages = merge_sorted(tape.trade_ns[t0:t1] - start, quote_ns[1:])[0]
    edges = np.concatenate(([0], messages, [end - start]))
    silent = np.diff(edges)
    long = np.flatnonzero(silent > MARKET.gap_report_s * NS)
    gaps = tuple((float(edges[i] / NS), float(silent[i] / NS)) for i in long)
    local = None if tape.quote_local_ns is None else np.maximum(
        tape.quote_local_ns[rows] - start, quote_ns)
    inst = tape.instrument
    return MarketTape(
        duration_s=(end - start) / NS, tick=tape.tick, lot=tape.lot,
        regime_by_minute=stats.labels.astype(np.int64),
        trade_ns=tape.trade_ns[t0:t1] - start, trade_side=tape.trade_side[t0:t1],
        trade_px=tape.trade_px[t0:t1], trade_qty=tape.trade_qty[t0:t1],
        quote_ns=quote_ns, bid_px=tape.bid_px[rows], bid_qty=tape.bid_qty[rows],
        ask_px=tape.ask_px[rows], ask_qty=tape.ask_qty[rows], bursts=0,
        jumps=int(stats.jumps.sum()), source=str(tape.path), origin_ns=start, gaps=gaps,
        kind=inst.kind, contract_size=inst.contract_size, latency=tape.latency,
        quote_local_ns=local,
        depth=None if tape.depth is None else tape.depth.window(start, end))


def record(tape: MarketTape, origin_ns: int, symbol: str = "", source: str = "",
           venue: str = "") -> RecordedTape:
    """A (synthetic) window as a recorded tape starting at ``origin_ns`` (to write or replay)."""
    from soakkit.sim.tapefile import RecordedTape

    inst = replace(tape.instrument, symbol=symbol, venue=venue)
    local = None if tape.quote_local_ns is None else tape.quote_local_ns + origin_ns
    depth = None
    if tape.depth is not None:
        d = tape.depth
        depth = replace(d, ns=d.ns + origin_ns,
                        local_ns=None if d.local_ns is None else d.local_ns + origin_ns)
    return RecordedTape(
        path=Path(tape.source), instrument=inst, source=source,
        trade_ns=tape.trade_ns + origin_ns, trade_side=tape.trade_side,
        trade_px=tape.trade_px, trade_qty=tape.trade_qty, quote_ns=tape.quote_ns + origin_ns,
        bid_px=tape.bid_px, bid_qty=tape.bid_qty, ask_px=tape.ask_px, ask_qty=tape.ask_qty,
        quote_local_ns=local, depth=depth,
        provenance={"latency": {"activity_ref_per_s": tape.latency.activity_ref_per_s,
                                "activity_gain": tape.latency.activity_gain}})
