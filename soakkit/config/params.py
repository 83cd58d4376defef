"""The one definition of every parameter soakkit's bot takes.

Each :class:`ParamSpec` gives the flat name, type, unit, default, hard bounds, the
largest change the tuner may make in one iteration, whether the tuner may touch it at
all, and the legacy nested paths it was known under. Nothing else in soakkit names a
parameter's bounds or default: it imports them from :data:`PARAMS`.

Bounds start from the legacy tables (legacy brief §4.2): they contain every shipped
profile and leave the tuner room on both sides (see ``docs/CONFIG.md`` for each choice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from soakkit.core.inputs import parse_float, parse_int
from soakkit.core.json_strict import is_finite_number

__all__ = [
    "PARAMS",
    "TUNABLE",
    "ParamSpec",
    "Value",
    "check_value",
    "parse_text",
]

Value = int | float


@dataclass(frozen=True)
class ParamSpec:
    """Type, unit, default, hard bounds and per-iteration step limit of one parameter."""

    name: str
    kind: Literal["int", "float"]
    unit: str
    default: Value
    lo: Value
    hi: Value
    max_step: Value
    tunable: bool
    description: str
    legacy_paths: tuple[str, ...] = ()

    @property
    def span(self) -> float:
        """Width of the hard bounds (``hi - lo``)."""
        return float(self.hi - self.lo)

    def clamp(self, value: float) -> Value:
        """``value`` clamped to the bounds and cast to the parameter's type."""
        clamped = min(max(value, float(self.lo)), float(self.hi))
        return self.cast(clamped)

    def cast(self, value: float) -> Value:
        """Round to the parameter's type (ints round half away from zero; floats to 1e-9)."""
        if self.kind == "int":
            return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)
        return round(float(value), 9)


def _p(name: str, kind: Literal["int", "float"], unit: str, default: Value, lo: Value,
       hi: Value, max_step: Value, tunable: bool, description: str,
       *legacy: str) -> ParamSpec:
    return ParamSpec(name, kind, unit, default, lo, hi, max_step, tunable, description, legacy)


#: Every parameter, in display order. Profiles, env, CLI and the tuner all validate here.
PARAMS: Mapping[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        _p("min_interval_ms", "int", "ms", 65, 40, 300, 20, True,
           "Strategy loop period: the bot re-evaluates its quotes at most once per interval.",
           "engine.min_interval_ms", "quoting.min_interval_ms"),
        _p("replace_rate_per_min", "int", "1/min", 280, 120, 360, 30, True,
           "Budget of price-driven requotes per minute (enforced per 10-second window).",
           "engine.replace_rate_per_min", "quoting.replace_rate_per_min"),
        _p("base_spread_bps_delta", "float", "bps", 0.14, 0.0, 3.0, 0.25, True,
           "Tuner-owned widening added to base_spread_bps on both sides.",
           "risk.base_spread_bps_delta"),
        _p("impact_cap_ratio", "float", "ratio", 0.09, 0.02, 0.2, 0.01, True,
           "Quote size as a fraction of the visible top-of-book depth.",
           "risk.impact_cap_ratio", "impact.impact_cap_ratio"),
        _p("max_delta_ratio", "float", "ratio", 0.14, 0.05, 0.3, 0.02, True,
           "Largest base fill, as a fraction of position_limit_notional (caps toxic sweeps).",
           "risk.max_delta_ratio", "impact.max_delta_ratio"),
        _p("tail_age_ms", "int", "ms", 620, 300, 1500, 50, True,
           "Orders older than this are cancelled and re-placed at the next loop tick.",
           "engine.tail_age_ms"),
        _p("base_spread_bps", "float", "bps", 2.5, 0.5, 10.0, 0.25, False,
           "Quoted half-spread from mid, before the tuner's delta.",
           "risk.base_spread_bps", "quoting.base_spread_bps"),
        _p("position_limit_notional", "float", "USD", 6000.0, 1000.0, 20000.0, 500.0, True,
           "Inventory limit: above it the bot unloads with a taker order.",
           "risk.position_limit_notional"),
        _p("risk_budget_notional", "float", "USD", 10000.0, 1000.0, 100000.0, 1000.0, False,
           "Account risk budget; risk_ratio is inventory as a share of it.",
           "risk.risk_budget_notional"),
        _p("concurrency_limit", "int", "requests", 10, 1, 64, 2, False,
           "Order-gateway concurrency; sets how much request load it absorbs before latency grows.",
           "engine.concurrency_limit"),
    )
}

#: The names the tuner may change, in display order.
TUNABLE: tuple[str, ...] = tuple(name for name, spec in PARAMS.items() if spec.tunable)

#: Legacy nested path (``engine.min_interval_ms``) → flat name.
LEGACY_PATHS: Mapping[str, str] = {
    path: spec.name for spec in PARAMS.values() for path in spec.legacy_paths
}


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Why ``value`` (already a JSON value) is not valid for ``spec``, or ``None`` if it is.

    Strict: no coercion of strings or booleans into numbers, no NaN/Infinity, an int
    parameter takes only a JSON integer.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected {_kind_name(spec)}, got {_describe(value)}"
    if not is_finite_number(value):
        return f"expected a finite number, got {value!r}"
    if spec.kind == "int" and not isinstance(value, int):
        return f"expected an integer, got {value!r}"
    if not spec.lo <= value <= spec.hi:
        return f"{value!r} is out of bounds [{spec.lo}, {spec.hi}] {spec.unit}"
    return None


def parse_text(spec: ParamSpec, text: str) -> Value:
    """Parse a value given as text (env var or ``--set``) by the parameter's type.

    The one strict number parser (:mod:`soakkit.core.inputs`) reads it: ``0700``, ``+700``,
    ``" 7 "``, ``true``, ``nan`` and ``1.5`` for an int are refused rather than coerced.
    Raises :class:`ValueError` with a one-line reason.
    """
    value: Value = parse_int(text) if spec.kind == "int" else parse_float(text)
    problem = check_value(spec, value)
    if problem:
        raise ValueError(problem)
    return value


def _kind_name(spec: ParamSpec) -> str:
    return "an integer" if spec.kind == "int" else "a number"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return repr(value)
