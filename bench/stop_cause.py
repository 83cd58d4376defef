"""What takes out a stopping level: real tape vs calibrated synthetic market (read-only).

Stop (bench/refill_measure.py): a best-price change of one side the way of a move (bid
down, ask up) whose next same-way change of that side is more than 20 ms later.  For each
stop whose next same-way change comes within 1 s, the row of that change is classified.

Tape-observable (real and synthetic alike, on the MarketTape):
  * back: the side's price before that change is not the stopping price (it came back
    in between, so a different level went);
  * trade: a print of the aggressor side (-s) at the old best price within [-5, +1] ms of
    the change (refill_measure's sweep window); traded lots there vs the depth shown on
    the row just before the change ("full" when traded >= 0.999*depth, else "partial");
    the aggressor "order": all prints of that side at the same ns as the first such print;
  * no trade (pulled).
Synthetic ground truth: the event that produced the change row (simulate_market run with
its own code; taker_flow/maker_flow/run_book/_jumps wrapped in this process only to
record what they return; the trade-fade draw re-drawn from the recorded RNG state; the
event stream rebuilt and checked equal to run_book's input). It reproduces the generator's
internals, so a change to ``sim/market.py`` or ``sim/lob.py`` can break it (its asserts say
so); issue 24, docs/SIMULATOR.md "What takes out a stopping level".

    python bench/stop_cause.py TAPE --market NAME --artifacts DIR --seeds 8 --minutes 5 \
        --out usdm_stops.json
"""
from __future__ import annotations

import copy
import json
import sys
import time
from collections import Counter

import numpy as np
from _common import tape_market_parser

import soakkit.sim.market as M
from soakkit.sim import flow, lob
from soakkit.sim.replay import load_tape
from soakkit.soak.options import load_market

RUN_NS = 20_000_000
NEXT_NS = 1_000_000_000


def tape_stops(ns, side_px, side_qty, tr_ns, tr_side, tr_px, tr_qty, s):
    """Records of every move-way change (bid down, ask up) of side s after the first:
    gap since the previous same-way change, whether the side came back in between, and how
    the level that went at this change went (prints of the aggressor side at its price)."""
    way = -s
    step = np.flatnonzero(np.sign(np.diff(side_px)) == way) + 1
    out = []
    if step.size < 2:
        return out, 0
    n_stop = int((np.diff(ns[step]) > RUN_NS).sum()) + 1
    agg = -s  # sells (-1) take the bid
    sel = tr_side == agg
    a_ns, a_px, a_qty = tr_ns[sel], tr_px[sel], tr_qty[sel]
    for i, k in zip(step[:-1].tolist(), step[1:].tolist(), strict=True):
        t1 = int(ns[k])
        rec = {"side": s, "row0": i, "next": k, "dt": t1 - int(ns[i]), "p": int(side_px[i]),
               "d0": float(side_qty[i])}
        q = int(side_px[k - 1])
        rec["back"] = q != rec["p"]
        rec["dbefore"] = float(side_qty[k - 1])
        lo = np.searchsorted(a_ns, t1 - 5_000_000, "left")
        hi = np.searchsorted(a_ns, t1 + 1_000_000, "right")
        at = np.flatnonzero(a_px[lo:hi] == q) + lo
        rec["traded"] = float(a_qty[at].sum()) if at.size else 0.0
        if at.size:
            rec["order_lots"] = float(a_qty[a_ns == a_ns[at[0]]].sum())
        if rec["dt"] <= NEXT_NS:
            lo = np.searchsorted(a_ns, ns[i], "right")
            life = np.flatnonzero(a_px[lo:hi] == rec["p"]) + lo
            rec["life_traded"] = float(a_qty[life].sum())
            rec["life_orders"] = int(np.unique(a_ns[life]).size)
        out.append(rec)
    return out, n_stop


def all_stops(tp):
    recs, n = [], 0
    for s, px, qty in ((1, tp.bid_px, tp.bid_qty), (-1, tp.ask_px, tp.ask_qty)):
        r, k = tape_stops(tp.quote_ns, px, qty, tp.trade_ns, tp.trade_side, tp.trade_px,
                          tp.trade_qty, s)
        recs += r
        n += k
    return recs, n


# ---------------------------------------------------------------- synthetic internals
CAP: dict = {}


def _wrap():
    tf, mf, rb, jp = M.taker_flow, M.maker_flow, M.run_book, M._jumps

    def taker_flow(regimes, col, laws, rng, jump_t, jump_dir):
        r = tf(regimes, col, laws, rng, jump_t, jump_dir)
        CAP["takers"], CAP["regimes"] = r, regimes
        return r

    def maker_flow(regimes, col, rng):
        r = mf(regimes, col, rng)
        CAP["makers"] = r
        CAP["rng_state"] = copy.deepcopy(rng.bit_generator.state)
        return r

    def run_book(x):
        b = rb(x)
        CAP["x"], CAP["book"] = x, b
        return b

    def _jumps(market, regimes, rng):
        r = jp(market, regimes, rng)
        CAP["jumps"] = r
        return r

    M.taker_flow, M.maker_flow, M.run_book, M._jumps = taker_flow, maker_flow, run_book, _jumps


def synth_events(market, minutes):
    """Per event index (0 = opening): source kind, meta id (-1 none), usd, ns; tape rows."""
    tk, mk, x, book = CAP["takers"], CAP["makers"], CAP["x"], CAP["book"]
    jump_t, _jump_dir, _ = CAP["jumps"]
    regimes = CAP["regimes"]
    col = market.column
    rng = np.random.default_rng()
    rng.bit_generator.state = CAP["rng_state"]
    t_min = np.minimum((tk.t // 60).astype(np.int64), minutes - 1)
    pulled = rng.random(tk.t.size) < col("trade_fade_share")[regimes[t_min]]
    pidx = np.flatnonzero(pulled)
    starts = np.arange(minutes, dtype=np.float64) * 60.0
    t = np.concatenate((tk.t, tk.t[pidx], mk.t, jump_t, starts[1:]))
    mkind = np.select([mk.kind == flow.ADD, mk.kind == flow.CANCEL, mk.kind == flow.IMPROVE,
                       mk.kind == flow.FADE], ["add", "cancel", "improve", "mfade"],
                      default="?").astype("U8")
    src = np.concatenate((np.full(tk.t.size, "taker", "U8"), np.full(pidx.size, "tfade", "U8"),
                          mkind, np.full(jump_t.size, "jump", "U8"),
                          np.full(minutes - 1, "start", "U8")))
    meta = np.concatenate((tk.meta, tk.meta[pidx], np.full(mk.t.size + jump_t.size + minutes - 1,
                                                           -1, np.int64)))
    usd = np.concatenate((tk.usd, tk.usd[pidx], np.zeros(mk.t.size + jump_t.size + minutes - 1)))
    order = np.argsort(t, kind="stable")
    t, src, meta, usd = t[order], src[order], meta[order], usd[order]
    # check the rebuilt stream against run_book's input
    kmap = {"taker": lob.TAKER, "tfade": lob.FADE, "add": lob.ADD_MSG, "cancel": lob.CANCEL_MSG,
            "improve": lob.IMPROVE, "mfade": lob.FADE, "jump": lob.JUMP, "start": lob.JUMP}
    kind = np.array([kmap[s] for s in src.tolist()], np.int8)
    assert np.array_equal(kind, x.kind[1:]), "event stream rebuild mismatch"
    ist = src == "taker"
    assert np.array_equal(x.side[1:][ist], tk.side), "taker order mismatch"
    assert np.array_equal(meta[ist], tk.meta)
    n = t.size + 1
    ns = np.concatenate(([0], np.round(t * 1e9).astype(np.int64)))
    src = np.concatenate((["open"], src))
    meta = np.concatenate(([-1], meta))
    usd = np.concatenate(([0.0], usd))
    changed = np.ones(n, dtype=bool)
    changed[1:] = ((book.bid_px[1:] != book.bid_px[:-1]) | (book.ask_px[1:] != book.ask_px[:-1])
                   | (book.bid_qty[1:] != book.bid_qty[:-1])
                   | (book.ask_qty[1:] != book.ask_qty[:-1]))
    rows = np.flatnonzero(changed)
    # meta of each taker: next child time per meta (for "does the causing meta go on")
    return {"src": src, "meta": meta, "usd": usd, "ns": ns, "rows": rows, "x": x,
            "book": book, "tk": tk}


def annotate(recs, ev):
    rows, src, meta, usd, x, book = (ev[k] for k in ("rows", "src", "meta", "usd", "x", "book"))
    tk = ev["tk"]
    # children times per meta (takers are in time order)
    by_meta: dict[int, np.ndarray] = {}
    order = np.argsort(tk.meta, kind="stable")
    sm = tk.meta[order]
    cut = np.flatnonzero(np.diff(sm)) + 1
    for grp in np.split(order, cut):
        if grp.size:
            by_meta[int(tk.meta[grp[0]])] = np.sort(tk.t[grp])
    for r in recs:
        e0 = int(rows[r["row0"]])
        r["cause"] = str(src[e0])
        m0 = int(meta[e0])
        r["cause_meta"] = m0
        if m0 >= 0:  # does the causing metaorder send another child within 1 s?
            ct = by_meta[m0]
            t0 = ev["ns"][e0] / 1e9
            j = np.searchsorted(ct, t0 + 1e-12, "right")
            r["meta_next_s"] = float(ct[j] - t0) if j < ct.size else None
        if r["dt"] > NEXT_NS:
            continue
        e1 = int(rows[r["next"]])
        s = r["side"]
        r["what"] = str(src[e1])
        m1 = int(meta[e1])
        r["same_meta"] = (m1 >= 0 and m1 == m0)
        qty = book.bid_qty if s == 1 else book.ask_qty
        if src[e1] in ("taker", "tfade"):
            ek = e1 if src[e1] == "taker" else e1 - 1  # a trade-fade follows its taker
            assert src[ek] == "taker" and meta[ek] == meta[e1]
            r["ev_lots"] = int(x.lots[ek])
            r["ev_usd"] = float(usd[ek])
            r["ev_dbefore"] = int(qty[ek - 1])
        # taker lots against the stopping level over its life, same vs other meta
        seg = np.arange(e0 + 1, e1 + 1)
        takes = seg[(x.kind[seg] == lob.TAKER) & (x.side[seg] == -s)]
        r["life_same_lots"] = int(x.lots[takes][meta[takes] == m0].sum()) if m0 >= 0 else 0
        r["life_other_lots"] = int(x.lots[takes].sum()) - r["life_same_lots"]
        r["life_adds"] = int(x.lots[seg][(x.kind[seg] == lob.ADD_MSG) & (x.side[seg] == s)].sum())


def med(a):
    a = [v for v in a if v is not None and np.isfinite(v)]
    return float(np.median(a)) if a else float("nan")


BUCKETS = (("0-20ms(in run)", -1, 20e6), ("20-300ms", 20e6, 300e6),
           ("300-1000ms", 300e6, 1000e6))


def part(b, usd_per_lot, synth):
    d: dict = {"n": len(b)}
    if not b:
        return d
    tr = [r for r in b if r["traded"] > 0]
    full = [r["traded"] >= 0.999 * r["dbefore"] for r in b]
    d["obs_full"] = float(np.mean(full))
    d["obs_partial"] = len(tr) / len(b) - d["obs_full"]
    d["obs_none"] = 1 - len(tr) / len(b)
    d["traded/depth_med"] = med([r["traded"] / r["dbefore"] for r in tr])
    d["order/depth_med"] = med([r["order_lots"] / r["dbefore"] for r in tr])
    d["order_usd_med"] = med([r["order_lots"] * usd_per_lot for r in tr])
    d["depth_before_usd_med"] = med([r["dbefore"] * usd_per_lot for r in b])
    d["life_orders_med"] = med([r.get("life_orders") for r in b])
    d["life_orders_mean"] = float(np.mean([r.get("life_orders", 0) for r in b]))
    if synth:
        c = Counter()
        for r in b:
            w = r["what"]
            if w in ("taker", "tfade"):
                w += ":nometa" if r["cause_meta"] < 0 else (":same" if r["same_meta"] else ":other")
            c[w] += 1
        d["truth"] = {k: round(v / len(b), 4) for k, v in sorted(c.items())}
        tkr = [r for r in b if r["what"] in ("taker", "tfade")]
        d["taker_lots/depth_med"] = med([r["ev_lots"] / r["ev_dbefore"] for r in tkr])
        d["taker_usd_med"] = med([r["ev_usd"] for r in tkr])
        sm = [r for r in b if r["cause_meta"] >= 0]
        d["life_same_meta_lot_share"] = (sum(r["life_same_lots"] for r in sm) /
                                         max(1, sum(r["life_same_lots"] + r["life_other_lots"]
                                                    for r in sm)))
    return d


def summarize(recs, n_stop, usd_per_lot, synth):
    res = {"changes": len(recs), "stops": n_stop}
    stops_next = [r for r in recs if RUN_NS < r["dt"] <= NEXT_NS]
    res["stop_next_le_1s"] = len(stops_next) / max(n_stop, 1)
    if synth:
        cs = [r["cause"] for r in recs if r["dt"] > RUN_NS]
        res["cause_of_stop"] = {k: round(v / len(cs), 4) for k, v in Counter(cs).items()}
        tk = [r for r in recs if r["dt"] > RUN_NS and r["cause_meta"] >= 0]
        res["stop_cause_meta_child_within_0.3_1s"] = float(np.mean(
            [r["meta_next_s"] is not None and 0.3 < r["meta_next_s"] <= 1 for r in tk]))
        res["stop_cause_meta_child_within_1s"] = float(np.mean(
            [r["meta_next_s"] is not None and r["meta_next_s"] <= 1 for r in tk]))
    for name, lo, hi in BUCKETS:
        b = [r for r in recs if lo < r["dt"] <= hi]
        res[name] = {"share_of_stops": len(b) / max(n_stop, 1),
                     "back": float(np.mean([r["back"] for r in b])) if b else None,
                     "all": part(b, usd_per_lot, synth),
                     "same_level": part([r for r in b if not r["back"]], usd_per_lot, synth),
                     "came_back": part([r for r in b if r["back"]], usd_per_lot, synth)}
    return res


def usd_lot(tp, px_ticks):
    """USD of one lot at ``px_ticks`` (the instrument's own conversion)."""
    return float(tp.instrument.usd_per_lot(px_ticks * tp.tick))


def main(argv=None):
    a = tape_market_parser(__doc__).parse_args(argv)
    c0, w0 = time.process_time(), time.time()
    tape = load_tape(a.tape)
    recs, n = all_stops(tape)
    real = summarize(recs, n, usd_lot(tape, float(np.median(tape.bid_px))), False)
    real["minutes"] = tape.duration_s / 60
    market = load_market(a.market, a.artifacts)
    _wrap()
    allr, alln, ulots = [], 0, []
    for seed in range(a.seeds):
        CAP.clear()
        m = M.simulate_market("mixed", a.minutes, np.random.default_rng(seed), market)
        ev = synth_events(market, a.minutes)
        assert np.array_equal(ev["ns"][ev["rows"]], m.quote_ns)
        assert np.array_equal(ev["book"].bid_px[ev["rows"]], m.bid_px)
        r, k = all_stops(m)
        annotate(r, ev)
        allr += r
        alln += k
        ulots.append(usd_lot(m, float(np.median(m.bid_px))))
    syn = summarize(allr, alln, float(np.median(ulots)), True)
    syn["minutes"] = a.minutes * a.seeds
    res = {"real": real, "synthetic": syn, "cpu_s": time.process_time() - c0,
           "wall_s": time.time() - w0}
    text = json.dumps(res, indent=1, default=float)
    if a.out:
        a.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
