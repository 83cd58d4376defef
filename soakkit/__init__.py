"""soakkit: analysis and ops kit for the soak tests of a market-making bot.

Data flows one way: config → sim → kpi → gate → tuning → artifacts → rotation / catalog
→ notebooks and reports. See README.md for the quick start.
"""

__version__ = "0.1.0"
