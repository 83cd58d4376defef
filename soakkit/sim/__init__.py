"""Seeded market simulator, venue models and market-making strategy for mini-soaks.

``tape`` (the L1 tape every part runs on), ``market`` (synthetic tapes), ``queue``,
``latency`` and ``venue`` (the simulated venue), ``matching`` (where orders could fill),
``inventory`` (sizes, fills and unloads in time order), ``strategy`` (the bot),
``regimes`` (the one table of constants), ``version`` (the engine version results carry).
"""
