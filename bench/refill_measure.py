"""The book's response to a move: the new best level after a level goes, real against synthetic.

Read-only. For every best-price change of one side *in the direction of a move* (the bid
drops: its level went and the next one shows; the ask rises), on the quote rows:

* the depth (lots) of the new best level at 0, 20, 100 and 300 ms after the change, while
  the side is still at that price, and the share of changes where it still is (else it
  moved on the same way, or came back);
* the time to that side's next change the same way (the next step of the move);
* split by whether a trade printed at the old best at that instant (a sweep) or not
  (the level was pulled), and by whether the side's next same-way change came within
  20 ms (the run went through the new level) or not (the run stopped there).

Real: the tape (``soakkit tape import``); synthetic: the calibrated market
(``soakkit calibrate --name``), mixed mode, ``--seeds`` × ``--minutes`` minutes.

    python bench/refill_measure.py /tmp/refill/tapes/usdm --market usdm \\
        --artifacts /tmp/refill/art --seeds 8 --minutes 5 --out /tmp/refill/usdm_refill.json
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import tape_market_parser

from soakkit.sim.market import simulate_market
from soakkit.sim.replay import load_tape
from soakkit.soak.options import load_market

LAGS_MS = (0, 20, 100, 300)
NEXT_MS = (20, 100, 300, 1000)
RUN_MS = 20  #: a next same-way step within this is the same run (the level was gone through)


def changes(ns: np.ndarray, bid_px: np.ndarray, bid_qty: np.ndarray, ask_px: np.ndarray,
            ask_qty: np.ndarray, trade_ns: np.ndarray, trade_px: np.ndarray
            ) -> dict[str, np.ndarray]:
    """Per move-way best change (bid down, ask up): depth at the lags (nan when the side
    is no longer at the price), state at the lags (0 at it, 1 moved on, -1 came back), the
    time to the side's next same-way change, and whether a trade printed at the old best."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in
                                        ("side", "t", *(f"d{lag}" for lag in LAGS_MS),
                                         *(f"s{lag}" for lag in LAGS_MS), "next_ms", "traded")}
    trades = {(int(t), int(p)) for t, p in zip(trade_ns.tolist(), trade_px.tolist(),
                                               strict=True)}
    for s, px, qty in ((1, bid_px, bid_qty), (-1, ask_px, ask_qty)):
        way = -s  # bid moves down, ask moves up
        step = np.flatnonzero(np.sign(np.diff(px)) == way) + 1
        if not step.size:
            continue
        new = px[step]
        old = px[step - 1]
        t0 = ns[step]
        out["side"].append(np.full(step.size, s))
        out["t"].append(t0)
        for lag in LAGS_MS:
            j = np.searchsorted(ns, t0 + lag * 1_000_000, side="right") - 1
            j = np.maximum(j, step)
            at = px[j]
            state = np.where(at == new, 0, np.where(np.sign(at - new) == way, 1, -1))
            out[f"s{lag}"].append(state)
            out[f"d{lag}"].append(np.where(state == 0, qty[j], np.nan))
        nxt = np.append(step[1:], -1)
        out["next_ms"].append(np.where(nxt >= 0, (ns[np.maximum(nxt, 0)] - t0) / 1e6, np.inf))
        # a print at the old best within 5 ms before to 1 ms after the change (the sweep)
        tr = np.zeros(step.size, dtype=bool)
        tns = np.sort(trade_ns)
        lo = np.searchsorted(tns, t0 - 5_000_000, side="left")
        hi = np.searchsorted(tns, t0 + 1_000_000, side="right")
        cand = np.flatnonzero(hi > lo)
        for i in cand.tolist():
            o = int(old[i])
            tr[i] = any((int(x), o) in trades for x in tns[lo[i]:hi[i]].tolist())
        out["traded"].append(tr)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def summary(rows: dict[str, np.ndarray], minutes: float, ref_depth: float) -> dict[str, Any]:
    """Medians and shares of the changes (all, after a trade, without)."""
    res: dict[str, Any] = {"changes_per_min_side": rows["side"].size / minutes / 2,
                           "best_depth_median_lots": ref_depth}
    traded = rows["traded"].astype(bool)
    run_on = rows["next_ms"] <= RUN_MS  # the move's next step came within RUN_MS: a run
    for name, mask in (("all", np.ones_like(traded)), ("traded", traded), ("pulled", ~traded),
                       ("through", run_on), ("stop", ~run_on)):
        part: dict[str, Any] = {"n": int(mask.sum()), "share": float(mask.mean())
                                if mask.size else math.nan}
        if not mask.any():
            res[name] = part
            continue
        d0 = rows["d0"][mask]
        for lag in LAGS_MS:
            d = rows[f"d{lag}"][mask]
            st = rows[f"s{lag}"][mask]
            ok = np.isfinite(d)
            part[f"at_{lag}"] = float(np.mean(st == 0))
            part[f"on_{lag}"] = float(np.mean(st == 1))
            part[f"back_{lag}"] = float(np.mean(st == -1))
            part[f"depth_{lag}_p50"] = float(np.median(d[ok])) if ok.any() else math.nan
            part[f"depth_{lag}_rel"] = part[f"depth_{lag}_p50"] / ref_depth
            both = ok & np.isfinite(d0) & (d0 > 0) & (d > 0)
            part[f"loggrow_{lag}"] = float(np.mean(np.log(d[both] / d0[both]))) \
                if both.any() else math.nan
        nx = rows["next_ms"][mask]
        part["next_ms_p50"] = float(np.median(nx))
        for lim in NEXT_MS:
            part[f"next_le_{lim}"] = float(np.mean(nx <= lim))
        res[name] = part
    return res


def _best_depth(bid_qty: np.ndarray, ask_qty: np.ndarray) -> float:
    return float(np.median(np.concatenate((bid_qty, ask_qty))))


def real(path: Path) -> dict[str, Any]:
    tape = load_tape(path)
    rows = changes(tape.quote_ns, tape.bid_px, tape.bid_qty, tape.ask_px, tape.ask_qty,
                   tape.trade_ns, tape.trade_px)
    return summary(rows, tape.duration_s / 60, _best_depth(tape.bid_qty, tape.ask_qty))


def synthetic(market_name: str, artifacts: Path, seeds: Sequence[int], minutes: int
              ) -> dict[str, Any]:
    market = load_market(market_name, artifacts)
    parts: list[dict[str, np.ndarray]] = []
    depths: list[np.ndarray] = []
    for seed in seeds:
        m = simulate_market("mixed", minutes, np.random.default_rng(seed), market)
        parts.append(changes(m.quote_ns, m.bid_px, m.bid_qty, m.ask_px, m.ask_qty,
                             m.trade_ns, m.trade_px))
        depths.append(np.concatenate((m.bid_qty, m.ask_qty)))
    rows = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return summary(rows, minutes * len(seeds), float(np.median(np.concatenate(depths))))


def main(argv: Sequence[str] | None = None) -> int:
    a = tape_market_parser(__doc__).parse_args(argv)
    res = {"real": real(a.tape),
           "synthetic": synthetic(a.market, a.artifacts, range(a.seeds), a.minutes)}
    text = json.dumps(res, indent=1, allow_nan=True)
    if a.out:
        a.out.write_text(text)
    for name in ("all", "traded", "pulled", "through", "stop"):
        print(f"== {name}")
        for k in res["real"][name]:
            r, s = res["real"][name][k], res["synthetic"][name].get(k, math.nan)
            print(f"  {k:16s} {r:10.3f} {s:10.3f}")
    for k in ("changes_per_min_side", "best_depth_median_lots"):
        print(f"{k:22s} {res['real'][k]:10.2f} {res['synthetic'][k]:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
