"""Small order statistics of the simulator's samples: a median, a merge of sorted arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["median", "merge_sorted"]


def median(values: np.ndarray | list[float]) -> float:
    """``float(np.median(values))`` of a non-empty 1-D float sample, bit for bit (the mean
    of the two middle values of an even count is ``(a + b) / 2``, as numpy's), without the
    import of ``numpy.ma`` that ``np.median`` makes on its first call (~10 ms of a one-
    iteration soak's start-up)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=None)
    mid = ordered.size // 2
    if ordered.size == 0 or np.isnan(ordered[-1]):  # numpy sorts NaN last
        return float("nan")
    if ordered.size % 2:
        return float(ordered[mid])
    return (float(ordered[mid - 1]) + float(ordered[mid])) / 2


def merge_sorted(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted arrays merged (``a`` first on ties; linear, not a sort), and where
    ``a``'s elements went."""
    at_a = np.arange(a.size) + np.searchsorted(b, a, side="left")
    out = np.empty(a.size + b.size, dtype=a.dtype)
    from_b = np.ones(out.size, dtype=bool)
    from_b[at_a] = False
    out[at_a] = a
    out[from_b] = b
    return out, at_a
