"""The one definition of every parameter soakkit's strategies take.

Each :class:`ParamSpec` gives the flat name, type, unit, default, hard bounds, the
largest change the tuner may make in one iteration, whether the tuner may touch it at
all, the legacy nested paths it was known under, and which strategies read it. Nothing
else in soakkit names a parameter's bounds or default: it imports them from
:data:`PARAMS`.

**Strategies.** Parameters with no ``owners`` belong to the engine and every strategy
(the loop period, the requote budget, sizes, the inventory limit, the gateway); the others
belong to the built-in strategies that name them (:data:`BUILTIN_STRATEGIES`). A run's
parameters are :func:`strategy_params` of its strategy: the engine's, the strategy's own,
and, for a strategy loaded from a module or an external program, the specs it declares.
:data:`TUNABLE` are the engine's tunable parameters, which every strategy shares (the
tuner's rules move them); a strategy's own tunable parameters are for searches
(:func:`tunable_params`).

Bounds start from the legacy tables (legacy brief §4.2): they contain every shipped
profile and leave the tuner room on both sides (see ``docs/CONFIG.md`` for each choice).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from soakkit.core.inputs import parse_float, parse_int
from soakkit.core.json_strict import is_finite_number

__all__ = [
    "BUILTIN_STRATEGIES",
    "DEFAULT_STRATEGY",
    "PARAMS",
    "TUNABLE",
    "ParamSpec",
    "Value",
    "check_value",
    "parse_text",
    "spec_problems",
    "strategy_id_part",
    "strategy_params",
    "tunable_params",
]

#: The strategy a run uses unless told otherwise (``--strategy``): the legacy quoter.
DEFAULT_STRATEGY = "legacy"
#: Built-in strategies, by the name ``--strategy`` takes (``soakkit.strategy``).
BUILTIN_STRATEGIES: tuple[str, ...] = ("legacy", "avellaneda-stoikov", "glft")


def strategy_id_part(name: str) -> str:
    """Strategy ``name`` as a piece of a run id: a built-in's name, else ``custom-`` and a
    hash (``module:Class`` and ``exec:`` programs hold characters no id may)."""
    if name in BUILTIN_STRATEGIES:
        return name
    return "custom-" + hashlib.sha256(name.encode()).hexdigest()[:8]

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
    #: built-in strategies that read it; empty: the engine's, shared by every strategy
    owners: tuple[str, ...] = ()

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
       *legacy: str, owners: tuple[str, ...] = ()) -> ParamSpec:
    return ParamSpec(name, kind, unit, default, lo, hi, max_step, tunable, description, legacy,
                     owners)


_LEGACY = ("legacy",)
_MODELS = ("avellaneda-stoikov", "glft")


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
           "Tuner-owned widening added to the quoted half-spread on both sides (legacy: to "
           "base_spread_bps).",
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
           "risk.base_spread_bps", "quoting.base_spread_bps", owners=_LEGACY),
        _p("position_limit_notional", "float", "USD", 6000.0, 1000.0, 20000.0, 500.0, True,
           "Inventory limit: above it the bot unloads with a taker order.",
           "risk.position_limit_notional"),
        _p("risk_budget_notional", "float", "USD", 10000.0, 1000.0, 100000.0, 1000.0, False,
           "Account risk budget; risk_ratio is inventory as a share of it.",
           "risk.risk_budget_notional"),
        _p("concurrency_limit", "int", "requests", 10, 1, 64, 2, False,
           "Order-gateway concurrency; sets how much request load it absorbs before latency grows.",
           "engine.concurrency_limit"),
        _p("quote_lots", "int", "lots", 0, 0, 1_000_000, 1, False,
           "Quote size in lots of the instrument; 0: impact_cap_ratio x the best levels' depth. "
           "Either way capped by max_delta_ratio and skewed against the position."),
        _p("quote_from_touch", "int", "switch", 0, 0, 1, 1, False,
           "0: quotes sit base_spread_bps (+ delta) from the mid; 1: touch_offset_ticks from "
           "the best price on their side.", owners=_LEGACY),
        _p("touch_offset_ticks", "int", "ticks", 0, -5, 50, 1, False,
           "With quote_from_touch 1: 0 joins the best price, -n improves on it by n ticks, "
           "n stands n ticks back; never crossing the book or the other quote.",
           owners=_LEGACY),
        _p("as_gamma", "float", "1/bps", 0.03, 0.001, 2.0, 0.01, True,
           "Avellaneda-Stoikov risk aversion: a larger gamma skews quotes harder against the "
           "inventory and widens them.", owners=("avellaneda-stoikov",)),
        _p("as_horizon_s", "float", "s", 5.0, 0.5, 3600.0, 1.0, False,
           "Avellaneda-Stoikov horizon T-t (constant: an iteration has no closing time).",
           owners=("avellaneda-stoikov",)),
        _p("glft_gamma", "float", "1/bps", 0.03, 0.001, 2.0, 0.01, True,
           "Gueant-Lehalle-Fernandez-Tapia risk aversion (also the xi of the closed form).",
           owners=("glft",)),
        _p("fit_window_s", "float", "s", 120.0, 10.0, 1800.0, 10.0, False,
           "Trailing window of the feed the model strategies estimate volatility and order "
           "arrival intensity on (the calibrated prior fills in until it is full).",
           owners=_MODELS),
    )
}

#: The engine's tunable parameters, which every strategy shares: the names the tuner's
#: rules may change, in display order.
TUNABLE: tuple[str, ...] = tuple(name for name, spec in PARAMS.items()
                                 if spec.tunable and not spec.owners)


def strategy_params(strategy: str = DEFAULT_STRATEGY, declared: Sequence[ParamSpec] = ()
                    ) -> dict[str, ParamSpec]:
    """The parameters of a run of ``strategy``: the engine's, then the strategy's own.

    A built-in strategy's own parameters are those of :data:`PARAMS` naming it in
    ``owners``; any other strategy (a module or an external program) brings ``declared``.
    Raises :class:`ValueError` when a declared spec is invalid or reuses a name.
    """
    out = {name: spec for name, spec in PARAMS.items()
           if not spec.owners or strategy in spec.owners}
    for spec in declared:
        problems = spec_problems(spec)
        if spec.name in out:
            problems.append(f"{spec.name!r} is already a parameter of every strategy"
                            if spec.name in PARAMS and not PARAMS[spec.name].owners
                            else f"{spec.name!r} is declared twice")
        if problems:
            raise ValueError(f"parameter {spec.name!r}: " + "; ".join(problems))
        out[spec.name] = spec
    return out


def tunable_params(params: Mapping[str, ParamSpec]) -> tuple[str, ...]:
    """Every tunable parameter of a run's ``params`` (the engine's and the strategy's own)."""
    return tuple(name for name, spec in params.items() if spec.tunable)


_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def spec_problems(spec: ParamSpec) -> list[str]:
    """What is wrong with a declared parameter (name, kind, bounds, default, step)."""
    problems = []
    if not (spec.name and spec.name[0].isalpha() and set(spec.name) <= _NAME_OK
            and len(spec.name) <= 64):
        problems.append("a name is 1-64 characters of a-z, 0-9 and '_', starting with a letter")
    if spec.kind not in ("int", "float"):
        problems.append(f"kind {spec.kind!r}: expected int or float")
        return problems
    numbers = (spec.default, spec.lo, spec.hi, spec.max_step)
    if not all(is_finite_number(v) and not isinstance(v, bool) for v in numbers):
        problems.append("default, lo, hi and max_step must be finite numbers")
    elif not spec.lo <= spec.default <= spec.hi:
        problems.append(f"default {spec.default!r} is outside [{spec.lo}, {spec.hi}]")
    elif spec.kind == "int" and not all(isinstance(v, int) for v in numbers):
        problems.append("an int parameter takes integer default, lo, hi and max_step")
    elif spec.max_step <= 0:
        problems.append("max_step must be > 0")
    return problems

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
