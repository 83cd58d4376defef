"""The reports' colours, shared by the interactive charts and the matplotlib figures.

Kept apart from :mod:`soakkit.report.figures` so that a notebook drawing only charts
(:mod:`soakkit.report.charts`) never imports matplotlib.
"""

from __future__ import annotations

__all__ = ["BAD", "GUARD_COLOURS", "NEAR", "REGIME_COLOURS", "VERDICT_COLOURS", "WARMUP"]

REGIME_COLOURS = {"calm": "#a6dba0", "volatile": "#fdb863", "spike": "#9e9ac8"}
VERDICT_COLOURS = {"PASS": "#1b7837", "WARN": "#e08214", "FAIL": "#c51b7d"}
BAD, NEAR, WARMUP = "#f4a6a6", "#fde0b2", "#e0e0e0"
#: The tuner's guards: iteration-summary column → (label, colour).
GUARD_COLOURS = {"guard_freeze": ("freeze", "#4393c3"),
                 "guard_panic_revert": ("panic revert", "#b2182b"),
                 "guard_oscillation": ("oscillation", "#762a83"),
                 "guard_cooldown": ("cooldown", "#5aae61"),
                 "guard_velocity": ("velocity", "#e08214")}
