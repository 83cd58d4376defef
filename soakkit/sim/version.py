"""The engine version: what a sweep cell's result depends on besides its inputs.

A sweep keys every cell by a hash of its inputs *and* :data:`ENGINE_VERSION`
(:mod:`soakkit.sweep.keys`), so a rerun reuses a cell's stored result only while the
engine that produced it is the same. **Bump it** in any change that can alter an
iteration's numbers or verdicts for the same inputs: the simulator (:mod:`soakkit.sim`),
the strategy, a KPI's definition or the set of KPIs (:mod:`soakkit.kpi`), a gate threshold
or rule (:mod:`soakkit.gate`), the tuner (:mod:`soakkit.tuning`), the parameter table's
defaults (:mod:`soakkit.config.params`) or :func:`soakkit.soak.iteration.run_iteration`.
Forgetting to bump it makes a rerun of an existing sweep keep cells the old engine
computed as if the new one had.
"""

from __future__ import annotations

__all__ = ["ENGINE_VERSION"]

#: Version of the mini-soak engine (sim, strategy, KPIs, gate, tuner, iteration loop).
#: 8: calibrated order-book markets: walked levels deepen with distance (walk_growth),
#: bursts fitted, the levels' fit damped (issue 24); the built-in market is unchanged.
#: 7: the tuner's edge_thin needs a positive edge, few-fill iterations propose nothing, a
#: trial needs 4 regime-matched pairs to decide (issue 25's real-market evidence).
#: 6: a carried order's replace weighs 2 against the rate limit, carried orders' latency
#: draws keyed apart, synthetic windows convert bps and USD at their opening mid (issue 25's
#: review). 5: carried inventory and orders, the gate anchored outside the run, A/B trials, re-tuned
#: profiles (issue 25). 4: replays measure load against the instrument's own message rate,
#: use recorded feed latency and L2 depth; inverse contracts (issue 23). 3: money KPIs, gate
#: floors (issue 10).
ENGINE_VERSION = 8
