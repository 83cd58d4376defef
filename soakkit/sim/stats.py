"""Small order statistics of the simulator's samples."""

from __future__ import annotations

import numpy as np

__all__ = ["median"]


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
