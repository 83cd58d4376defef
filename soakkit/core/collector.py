"""Pausing Python's cyclic garbage collector where a burst of allocations makes no cycles.

The collector runs after every 700 net allocations of tracked objects and, every tenth time,
walks the survivors again. Loading modules (classes, functions, constants: all kept for the
life of the process) and scanning a tree (a stat result and a name per file, freed folder by
folder through reference counts) allocate hundreds of thousands of such objects and no
garbage cycles, so those walks find nothing: about 5 % of a one-iteration soak's CPU and of
a dry run's scan (docs/PERFORMANCE.md). :func:`paused` switches the collector off for such a
stretch and back on after it; reference counting still frees everything that is not a cycle.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused"]


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (a no-op if it is already off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
