"""``depth.parquet``: the L2 table of a tape (the top N levels after every depth update).

Columns: ``ts_ns`` (venue time), optionally ``local_ns`` (receive time on the venue's
clock), then for each level ``i`` from 0 (the best) to ``N - 1``: ``bid_px_i``,
``bid_qty_i``, ``ask_px_i``, ``ask_qty_i``. A side with fewer than ``N`` levels leaves the
rest empty (null). Rows are sorted by ``ts_ns``; in each row bids fall and asks rise
strictly from level to level, no level follows an empty one, and the best bid is below
the best ask. What a row says about prices it does not list is in
:mod:`soakkit.sim.depth`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError
from soakkit.sim.depth import MAX_LEVELS, DepthBook
from soakkit.sim.instrument import Instrument
from soakkit.sim.tables import check_frame, first_bad, on_grid, says, to_lots
from soakkit.sim.tape_bounds import MAX_UNITS

__all__ = ["DEPTH_TABLE", "MAX_LEVELS", "depth_frame", "level_columns", "read_depth"]

DEPTH_TABLE = "depth.parquet"


def level_columns(levels: int) -> list[str]:
    """The level columns of a ``levels``-deep table, best level first."""
    return [f"{side}_{what}_{i}" for i in range(levels) for side in ("bid", "ask")
            for what in ("px", "qty")]


def depth_frame(depth: DepthBook, instrument: Instrument) -> pl.DataFrame:
    """``depth`` as the table written to ``depth.parquet``."""
    digits = max(0, -math.floor(math.log10(instrument.tick)) + 2)
    lot_digits = max(0, -math.floor(math.log10(instrument.lot)) + 2)
    cols: dict[str, object] = {"ts_ns": depth.ns}
    if depth.local_ns is not None:
        cols["local_ns"] = depth.local_ns
    for i in range(depth.levels):
        for side, px, qty in (("bid", depth.bid_px, depth.bid_qty),
                              ("ask", depth.ask_px, depth.ask_qty)):
            present = qty[:, i] > 0
            cols[f"{side}_px_{i}"] = pl.Series(np.round(px[:, i] * instrument.tick, digits)
                                               ).set(pl.Series(~present), None)
            cols[f"{side}_qty_{i}"] = pl.Series(np.round(qty[:, i] * instrument.lot,
                                                         lot_digits)).set(pl.Series(~present),
                                                                          None)
    return pl.DataFrame(cols)


def _levels_in(path: Path) -> int:
    try:
        names = list(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TapeError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    levels = 0
    while f"bid_px_{levels}" in names:
        levels += 1
    if not 1 <= levels <= MAX_LEVELS:
        raise TapeError(f"{path}: expected level columns bid_px_0 .. bid_px_<N-1> with N in "
                        f"1..{MAX_LEVELS} (has: {', '.join(names[:8])}...)")
    return levels


def read_depth(path: Path, instrument: Instrument, declared: int | None = None,
               rows: tuple[int, int] | None = None, before: int | None = None,
               center: float | None = None, check: bool = True) -> DepthBook:
    """Read and check ``depth.parquet`` against the tape's ``instrument`` grid (``rows``,
    ``before``, ``center``: a block of it, as :func:`~soakkit.sim.tables.load_table`;
    ``check=False``: a block read again after it was checked, its cells only converted)."""
    levels = _levels_in(path)
    if declared is not None and declared != levels:
        raise TapeError(f"{path}: {levels} levels per side, tape.json says {declared}")
    names = level_columns(levels)
    wanted = ["ts_ns", *(["local_ns"] if "local_ns" in pl.read_parquet_schema(path) else []),
              *names]
    try:
        frame = (pl.read_parquet(path, columns=wanted) if rows is None else
                 pl.scan_parquet(path).select(wanted).slice(*rows).collect())
        frame = frame.with_columns(
            [pl.col(c).cast(pl.Int64) for c in wanted if c.endswith("_ns")]
            + [pl.col(c).cast(pl.Float64).fill_null(0.0) for c in names])  # empty level: 0
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise TapeError(f"{path}: cannot read the columns {', '.join(wanted[:3])}...: "
                        f"{str(exc).splitlines()[0]}") from None
    if not check:
        return _converted(frame, levels, instrument)
    cols = check_frame(path, frame.select(wanted[:len(wanted) - len(names)]), before, center)
    grid = frame.select(names).to_numpy()  # the level columns, as ``names`` orders them
    bad = ~np.isfinite(grid)
    if bad.any():
        column = int(np.argmax(bad.any(axis=0)))
        first_bad(path, bad[:, column], says(f"{names[column]} is empty or not finite"))
    px = {"bid": grid[:, 0::4], "ask": grid[:, 2::4]}
    qty = {"bid": grid[:, 1::4], "ask": grid[:, 3::4]}
    out: dict[str, np.ndarray] = {}
    for side, sign in (("bid", 1), ("ask", -1)):
        present = qty[side] > 0
        falls = "fall" if side == "bid" else "rise"
        first_bad(path, np.asarray(((px[side] > 0) != present).any(axis=1)),
                  says(f"{side} level with a price but no quantity (or the reverse)"))
        first_bad(path, np.asarray((present[:, 1:] & ~present[:, :-1]).any(axis=1)),
                  says(f"a {side} level follows an empty one"))
        step = np.diff(px[side], axis=1) * sign
        first_bad(path, np.asarray((present[:, 1:] & (step >= 0)).any(axis=1)),
                  says(f"{side} levels must {falls} strictly from the best"))
        units = px[side] / instrument.tick
        whole = np.rint(units)
        if ((np.abs(units - whole) > 1e-6) & present).any() or \
                (np.abs(whole) > MAX_UNITS).any():  # off the grid: on_grid names the row
            on_grid(path, np.where(present, px[side], 0.0).ravel(), instrument.tick,
                    f"{side}_px", "tick")
        out[f"{side}_px"] = np.where(present, whole, 0).astype(np.int64)
        out[f"{side}_qty"] = to_lots(qty[side], instrument.lot)
    both = (out["bid_qty"][:, 0] > 0) & (out["ask_qty"][:, 0] > 0)
    first_bad(path, both & (out["bid_px"][:, 0] >= out["ask_px"][:, 0]),
              says("crossed or locked depth: best bid at or above best ask"))
    local = cols.get("local_ns")
    return DepthBook(cols["ts_ns"].astype(np.int64), out["bid_px"], out["bid_qty"],
                     out["ask_px"], out["ask_qty"],
                     None if local is None else local.astype(np.int64))


def _converted(frame: pl.DataFrame, levels: int, instrument: Instrument) -> DepthBook:
    """A checked block's cells in ticks and lots (what :func:`read_depth` returns)."""
    out: dict[str, np.ndarray] = {}
    for side in ("bid", "ask"):
        px = frame.select([f"{side}_px_{i}" for i in range(levels)]).to_numpy()
        qty = frame.select([f"{side}_qty_{i}" for i in range(levels)]).to_numpy()
        out[f"{side}_px"] = np.where(qty > 0, np.rint(px / instrument.tick), 0).astype(np.int64)
        out[f"{side}_qty"] = to_lots(qty, instrument.lot)
    local = frame["local_ns"].to_numpy() if "local_ns" in frame.columns else None
    return DepthBook(frame["ts_ns"].to_numpy(), out["bid_px"], out["bid_qty"], out["ask_px"],
                     out["ask_qty"], local)
