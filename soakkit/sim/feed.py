"""Feed latency and load from a recording: the local clock, the latency, the usual message rate.

A capture stamps every message twice: the venue's time (``T``, or ``E`` where the stream
has no transaction time) and the recording machine's receive time. Their difference is
the feed latency plus the offset between the two clocks, and the recording machine's
clock is rarely right: on hftbacktest's Binance captures it runs about 1.27 s *behind*
the venue's (every raw latency is negative) and drifts by a few ms over five minutes.

What is done about it (:func:`fit_clock`), and what it cannot know:

* when every receive time is at or after the venue's time, the clocks are trusted as
  they are (latency = local − exchange);
* otherwise the local clock is shifted onto the venue's by its *lower envelope*: the
  minimum of local − exchange in each 30-s window, a straight line through those minima
  (the drift) lowered until no window's minimum lies below it. The fastest message of the
  capture then arrives with latency 0, so what is measured is the latency *above the
  fastest path*; the floor itself (the network's one-way time) cannot be told from the
  data and is not added. Latencies still below 0 after the shift are clipped and counted.

:func:`fit_load` measures the instrument's usual message rate (the median of its messages
per second: the latency models' activity 1) and, where the tape has receive times, how the
feed latency grows with load: the median latency of each second against its activity,
``median × (1 + gain × max(0, activity − 1))``, the response the venue model applies to
order latency too (``docs/SIMULATOR.md``, "Latency from the venue's data").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClockFit", "LoadFit", "estimate_exchange_ns", "feed_latency_ms", "fit_clock",
           "fit_load", "fit_rates", "load_seconds", "second_counts", "second_latencies"]

NS = 1_000_000_000
_WINDOW_NS = 30 * NS  #: the lower envelope's window
_MIN_SECOND_MESSAGES = 5  #: seconds with fewer messages do not enter the load fit
_GAIN_BOUNDS = (0.0, 5.0)


@dataclass(frozen=True)
class ClockFit:
    """How the local clock maps onto the venue's: ``exchange = local − offset(local)``."""

    shifted: bool  #: False: the clocks were trusted as they are
    offset_ns: float  #: local − exchange at ``origin_ns`` (0 when not shifted)
    drift_ppm: float  #: how fast the offset grows, ns per ms of local time (ppm)
    origin_ns: int  #: local time the offset refers to
    clipped: int  #: timed messages still ahead of the venue after the shift (set to 0)

    def to_exchange(self, local_ns: np.ndarray) -> np.ndarray:
        """Local receive times on the venue's clock."""
        local = np.asarray(local_ns, dtype=np.int64)
        if not self.shifted:
            return local
        shift = self.offset_ns + self.drift_ppm * 1e-6 * (local - self.origin_ns)
        return np.asarray(local - np.round(shift).astype(np.int64))

    def to_json(self) -> dict[str, object]:
        return {"shifted": self.shifted, "offset_ms": round(self.offset_ns / 1e6, 3),
                "drift_ppm": round(self.drift_ppm, 3), "clipped": self.clipped,
                "method": ("lower envelope of local - exchange (30 s windows); latency "
                           "measured above the fastest message" if self.shifted else
                           "clocks trusted: no receive time before its exchange time")}


def fit_clock(local_ns: np.ndarray, exchange_ns: np.ndarray) -> ClockFit:
    """The local clock against the venue's, from messages stamped by both (module doc)."""
    local = np.asarray(local_ns, dtype=np.int64)
    diff = (local - np.asarray(exchange_ns, dtype=np.int64)).astype(np.float64)
    origin = int(local.min()) if local.size else 0
    if diff.size == 0 or diff.min() >= 0:
        return ClockFit(False, 0.0, 0.0, origin, 0)
    window = (local - origin) // _WINDOW_NS
    order = np.lexsort((diff, window))
    first = np.ones(order.size, dtype=bool)
    first[1:] = window[order][1:] != window[order][:-1]
    at = order[first]  # the fastest message of each window
    t, low = (local[at] - origin).astype(np.float64), diff[at]
    slope = float(np.polyfit(t, low, 1)[0]) if at.size >= 2 else 0.0
    intercept = float((low - slope * t).min())
    fit = ClockFit(True, intercept, slope * 1e6, origin, 0)
    clipped = int((fit.to_exchange(local) < np.asarray(exchange_ns, dtype=np.int64)).sum())
    return ClockFit(True, intercept, slope * 1e6, origin, clipped)


def estimate_exchange_ns(local_ns: np.ndarray, timed_local_ns: np.ndarray,
                         timed_latency_ns: np.ndarray) -> np.ndarray:
    """Venue times of messages that carry none (Binance spot's book ticker): their receive
    time (on the venue's clock) less the median latency of the timed messages received in
    the same second (the whole capture's median in a second without any)."""
    local = np.asarray(local_ns, dtype=np.int64)
    if timed_latency_ns.size == 0:
        return local
    second = timed_local_ns // NS
    order = np.lexsort((timed_latency_ns, second))
    s, lat = second[order], timed_latency_ns[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    counts = np.diff(np.append(starts, s.size))
    medians = lat[starts + (counts - 1) // 2]
    keys = s[starts]
    at = np.searchsorted(keys, local // NS)
    found = (at < keys.size) & (keys[np.minimum(at, keys.size - 1)] == local // NS)
    median_all = int(np.median(timed_latency_ns))
    latency = np.where(found, medians[np.minimum(at, keys.size - 1)], median_all)
    return np.asarray(local - latency, dtype=np.int64)


def feed_latency_ms(exchange_ns: np.ndarray, local_ns: np.ndarray) -> dict[str, float]:
    """Percentiles of the feed latency (local − exchange, ms) of messages stamped by both."""
    lat = (np.asarray(local_ns) - np.asarray(exchange_ns)) / 1e6
    if lat.size == 0:
        return {}
    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
    return {"messages": int(lat.size), "p50": round(float(p50), 3),
            "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "max": round(float(lat.max()), 3)}


@dataclass(frozen=True)
class LoadFit:
    """The instrument's usual message rate and the latency's response to load."""

    ref_per_s: float  #: median messages per second (activity 1)
    p95_per_s: float  #: 95th percentile of messages per second
    max_per_s: float
    gain: float | None  #: fitted load response of the latency (None: no receive times)
    base_ms: float | None  #: median feed latency of ordinary seconds (activity ≤ 1)
    seconds: int  #: seconds the rates come from

    def to_json(self) -> dict[str, object]:
        return {"ref_per_s": round(self.ref_per_s, 3), "p95_per_s": round(self.p95_per_s, 3),
                "max_per_s": round(self.max_per_s, 3),
                "gain": None if self.gain is None else round(self.gain, 4),
                "base_ms": None if self.base_ms is None else round(self.base_ms, 4),
                "seconds": self.seconds}


def second_counts(message_ns: np.ndarray, start_ns: int, seconds: int) -> np.ndarray:
    """Messages in each of ``seconds`` seconds from ``start_ns`` (int64; the others left out)."""
    sec = (np.asarray(message_ns, dtype=np.int64) - start_ns) // NS
    inside = (sec >= 0) & (sec < seconds)
    return np.bincount(sec[inside], minlength=seconds)


def second_latencies(timed_ns: np.ndarray, latency_ns: np.ndarray, start_ns: int,
                     seconds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seconds (from ``start_ns``) in which timed messages arrived, how many, and their
    median feed latency (ms; the lower middle one). Every message of a second must be in
    the arrays (a streamed tape passes whole seconds at a time)."""
    s = (np.asarray(timed_ns, dtype=np.int64) - start_ns) // NS
    keep = (s >= 0) & (s < seconds)
    s, lat = s[keep], np.asarray(latency_ns, dtype=np.float64)[keep] / 1e6
    order = np.lexsort((lat, s))
    s, lat = s[order], lat[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1]))) if s.size else s
    counts = np.diff(np.append(starts, s.size))
    return s[starts], counts, lat[starts + (counts - 1) // 2]


def fit_load(message_ns: np.ndarray, start_ns: int, end_ns: int,
             timed_ns: np.ndarray | None = None, latency_ns: np.ndarray | None = None
             ) -> LoadFit:
    """Messages per second over ``[start_ns, end_ns)`` and, given the latency of the
    messages stamped with a venue time (``timed_ns``, ``latency_ns``), its load response."""
    seconds = load_seconds(start_ns, end_ns)
    counts = second_counts(message_ns, start_ns, seconds)
    if timed_ns is None or latency_ns is None or timed_ns.size == 0:
        return fit_rates(counts, None)
    return fit_rates(counts, second_latencies(timed_ns, latency_ns, start_ns, seconds))


def load_seconds(start_ns: int, end_ns: int) -> int:
    """The whole seconds :func:`fit_load` counts messages in."""
    return max(int((end_ns - start_ns) // NS), 1)


def fit_rates(counts: np.ndarray, latencies: tuple[np.ndarray, np.ndarray, np.ndarray] | None
              ) -> LoadFit:
    """:func:`fit_load` from the messages of each second (:func:`second_counts`) and the
    median latency of each second with timed messages (:func:`second_latencies`)."""
    rate = np.asarray(counts).astype(np.float64)
    seconds = int(rate.size)
    ref = max(float(np.median(rate)), 1.0)
    p95 = float(np.percentile(rate, 95))
    if latencies is None:
        return LoadFit(ref, p95, float(rate.max()), None, None, seconds)
    keys, counts_, medians = latencies
    busy = counts_ >= _MIN_SECOND_MESSAGES
    median = medians[busy]
    activity = rate[keys][busy] / ref
    calm = activity <= 1.0
    if not calm.any() or calm.all():
        return LoadFit(ref, p95, float(rate.max()), 0.0, float(np.median(median))
                       if median.size else None, seconds)
    base = float(np.median(median[calm]))
    x = np.maximum(activity - 1.0, 0.0)[~calm]
    y = median[~calm] / max(base, 1e-9) - 1.0
    gain = float(np.clip((x * y).sum() / (x * x).sum(), *_GAIN_BOUNDS))
    return LoadFit(ref, p95, float(rate.max()), gain, base, seconds)
