"""Random draws keyed by what they are for, not by where they sit in an array.

A draw taken from a :class:`numpy.random.Generator` depends on how many draws came before
it: give a run one more event at the end of its window and nothing changes, but give it
one more event in the middle and every later draw shifts. The simulator's latency draws
and the synthetic market's per-event draws are therefore taken from a counter-based hash
instead (splitmix64's finaliser over the key and the parts), so that a draw is a pure
function of

* the **stream** (a 64-bit key derived from the run's seed: :func:`stream_key`),
* a **purpose** (a small integer or a name: which component, which constant), and
* the event's **identity** (its time in ns and whatever else tells it apart: a side, a
  level, an order's decision time).

Consequences: the past never depends on the future (adding events after a time changes no
draw before it); two runs on the same stream that contain the same event (a tuned and an
untuned run of one seed, paired runs of a study) give it the same draw; and the vectorised
engine and a one-at-a-time engine can call the same function.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["keyed_normal", "keyed_uniform", "purpose", "stream_key"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TOP53 = np.uint64(11)
_HALF_ULP = 2.0**-54
_UNIT = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (a bijection of uint64 with full avalanche), element-wise."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return np.asarray(x ^ (x >> _S31))


def purpose(name: str) -> int:
    """A stable 32-bit code for a purpose name (the same in every process and version)."""
    return zlib.crc32(name.encode())


def stream_key(rng: np.random.Generator) -> int:
    """A 64-bit stream key taken from ``rng`` (one draw: the stream of a run's seed)."""
    return int(rng.integers(0, 2**63, dtype=np.int64))


def _hash(key: int, parts: tuple[np.ndarray | int, ...]) -> np.ndarray:
    arrays = [np.asarray(p) for p in parts]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    with np.errstate(over="ignore"):
        h = np.full(shape, np.uint64(key & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for a in arrays:
            h = _mix(h ^ (a.astype(np.int64).view(np.uint64) + _GOLDEN))
        return _mix(h + _GOLDEN)


def keyed_uniform(key: int, *parts: np.ndarray | int) -> np.ndarray:
    """Uniforms in (0, 1), one per element of the broadcast ``parts`` (int64 arrays)."""
    h = _hash(key, parts)
    return np.asarray((h >> _TOP53).astype(np.float64) * _UNIT + _HALF_ULP)


def keyed_normal(key: int, *parts: np.ndarray | int) -> np.ndarray:
    """Standard normals, one per element of the broadcast ``parts`` (Box–Muller over two
    keyed uniforms)."""
    u1 = keyed_uniform(key, *parts, 1)
    u2 = keyed_uniform(key, *parts, 2)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))
