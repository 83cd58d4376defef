"""The market-making strategies a soak can run, by name: the one definition.

Every run records the strategy it traded (``RUN.json`` ``options.strategy``), and every run
table shows it. Until a strategy interface lets a run choose another one, every run trades
the vectorised strategy of :mod:`soakkit.sim.strategy`, named :data:`DEFAULT_STRATEGY`; a
run recorded before strategies were named traded it too.
"""

from __future__ import annotations

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES"]

#: The strategy of a run that names none (every run so far).
DEFAULT_STRATEGY = "legacy"
#: Every strategy a run may name.
STRATEGIES: tuple[str, ...] = (DEFAULT_STRATEGY,)
