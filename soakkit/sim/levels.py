"""One side's best level between price changes: adds, proportional cancels, takes.

Other makers add lots to the level; a cancel takes away a *share* of what the level holds
(each resting order is as likely to be cancelled as any other, so the quantity cancelled
grows with the quantity resting: the level's depth reverts to a level set by the flow,
as on a real book, instead of drifting); taker orders take lots. So, event after event,

    D_k = a_k · D_(k−1) + x_k      (a_k = 1 − cancelled share, x_k = lots added or taken)

and a level that appears at event ``r`` with ``D_r`` lots holds
``D_k = P_k/P_r · D_r + Σ_(r<i≤k) x_i · P_k/P_i`` with ``P = Π a``. It runs out at the first
``k`` where ``D_k ≤ 0`` — only a take can do that — which is a first passage of the
cumulative sum of ``x_i / P_i`` below ``−D_r / P_r``: the same question for every ``r``,
answered at once by :func:`first_passage`. ``1/P`` grows without bound, so the events are
cut into blocks within which it grows by at most ``e^SPAN``, each with its own origin; a
level that outlives its block is carried into the next one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SideLevels", "first_passage"]

SPAN = 40.0  #: largest log-growth of 1/P within a block


def first_passage(flow_cum: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """For every index ``i``: the first ``j > i`` with ``flow_cum[j] <= flow_cum[i] − depth[i]``
    (``flow_cum.size`` where there is none)."""
    n = flow_cum.size
    mins = [flow_cum]
    span = 1
    while span * 2 <= n:  # mins[k][j] = min(flow_cum[j : j + 2**k])
        prev = mins[-1]
        mins.append(np.minimum(prev[:-span], prev[span:]))
        span *= 2
    threshold = flow_cum - depth
    pos = np.arange(1, n + 1, dtype=np.int64)
    for k in range(len(mins) - 1, -1, -1):
        block = mins[k]
        fits = pos < block.size  # the block [pos, pos + 2**k) lies inside the array
        at = np.minimum(pos, block.size - 1)
        pos = np.where(fits & (block[at] > threshold), pos + (1 << k), pos)
    return np.minimum(pos, n)


class SideLevels:
    """The depth process of one side (module doc): ``log_keep[k] = log a_k`` (≤ 0),
    ``change[k] = x_k`` (lots), ``fade[k]``: the level is pulled whole at ``k``."""

    def __init__(self, log_keep: np.ndarray, change: np.ndarray, fade: np.ndarray) -> None:
        self.n = int(change.size)
        self.log_p = np.cumsum(log_keep)
        self.change = change.astype(np.float64)
        drop = -self.log_p
        bounds = np.searchsorted(drop, np.arange(SPAN, float(drop[-1]) + SPAN, SPAN),
                                 side="left") if self.n else np.zeros(0, np.int64)
        self.starts = np.unique(np.concatenate(([0], bounds[bounds < self.n])))
        self.ends = np.append(self.starts[1:], self.n)
        self.block = np.repeat(np.arange(self.starts.size), self.ends - self.starts)
        base = np.concatenate(([0.0], self.log_p))[self.starts]  # log P before each block
        self.base = base
        self.weight = np.exp(base[self.block] - self.log_p)  # P_base / P_i, >= 1
        local = self.change * self.weight
        self.cum = np.empty(self.n)  # sum of x_i P_base / P_i since the block began
        for a, b in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
            self.cum[a:b] = np.cumsum(local[a:b])
        fades = np.flatnonzero(fade)
        self.next_fade = np.append(fades, self.n)[np.searchsorted(fades, np.arange(self.n),
                                                                  side="right")]

    def runs_out(self, start: np.ndarray) -> np.ndarray:
        """For every index ``r``: the first ``k > r`` where a level of ``start[r]`` lots
        set at ``r`` has run out (taken, or faded), ``n`` where it never does."""
        out = np.full(self.n, self.n, dtype=np.int64)
        carry_idx = np.zeros(0, dtype=np.int64)
        carry_depth = np.zeros(0)
        for b, (s, e) in enumerate(zip(self.starts.tolist(), self.ends.tolist(), strict=True)):
            cum = np.concatenate(([0.0], self.cum[s:e]))  # position 0: before the block
            depth = np.concatenate(([0.0], start[s:e] * self.weight[s:e]))
            local = first_passage(cum, depth)[1:]
            found = local <= e - s
            out[s:e][found] = s + local[found] - 1
            if carry_idx.size:  # levels set in earlier blocks, still standing
                low = np.minimum.accumulate(cum[1:])
                at = np.searchsorted(-low, carry_depth, side="left")  # first cum <= -depth
                hit = at < e - s
                out[carry_idx[hit]] = s + at[hit]
                carry_idx, carry_depth = carry_idx[~hit], carry_depth[~hit] + cum[-1]
            held = np.flatnonzero(~found)
            carry_idx = np.concatenate((carry_idx, s + held))
            carry_depth = np.concatenate((carry_depth, depth[1:][held] + cum[-1]
                                          - cum[1:][held]))
            # to the next block's origin: depth at the block's last event, unweighted
            carry_depth = carry_depth * np.exp(self.log_p[e - 1] - self.base[b])
        return np.asarray(np.minimum(out, self.next_fade))

    def depth(self, r: int, start: float, k: int) -> float:
        """The depth at ``k`` (after event ``k``) of a level of ``start`` lots set at ``r``."""
        if k <= r:
            return float(start)
        return float(np.exp(self.log_p[k] - self.log_p[r]) * start
                     + (self.change[r + 1:k + 1] * np.exp(self.log_p[k]
                                                          - self.log_p[r + 1:k + 1])).sum())

    def depths(self, resets: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The depth after every event, the level set at each of ``resets`` (sorted, from 0)
        with ``start`` lots (``start`` per index)."""
        idx = np.arange(self.n)
        last = resets[np.searchsorted(resets, idx, side="right") - 1]
        out = np.empty(self.n)
        for s, e in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
            r = last[s:e]
            inside = r >= s
            w = np.exp(self.base[self.block[s]] - self.log_p[s:e])  # P_base / P_k
            # in-block resets: (start_r w_r + cum_k - cum_r) / w_k
            in_val = (start[r] * self.weight[np.maximum(r, 0)]
                      + self.cum[s:e] - self.cum[np.maximum(r, s)]) / w
            out[s:e] = in_val
            if not inside.all():  # the level set before the block: carried in
                carried = self.depth(int(r[0]), float(start[r[0]]), s - 1)
                cv = (carried + self.cum[s:e]) / w
                out[s:e] = np.where(inside, in_val, cv)
        return out
