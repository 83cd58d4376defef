"""The search space: the parameters a study searches, each within its bounds in the one
parameter table (:data:`soakkit.config.params.PARAMS`), as Optuna distributions.

A trial's values go to a mini-soak as ``--set NAME=VALUE`` over the starting profile, as a
sweep's ``--set`` axes do; the parameters not searched keep the profile's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from soakkit.config.params import PARAMS, TUNABLE, ParamSpec, Value
from soakkit.core.errors import UsageError, did_you_mean
from soakkit.sim.strategies import STRATEGIES

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["check_params", "distributions", "search_params", "set_texts", "values_of"]


def search_params(strategy: str) -> dict[str, ParamSpec]:
    """Every parameter a study of ``strategy`` may search (``--params``): its parameter set.

    Raises
    ------
    UsageError
        An unknown strategy (``--strategy``).
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}"
                         + did_you_mean(strategy, STRATEGIES))
    return dict(PARAMS)


def check_params(strategy: str, names: Iterable[str]) -> tuple[str, ...]:
    """``names`` checked against ``strategy``'s parameters (default: its tunable ones)."""
    known = search_params(strategy)
    chosen = tuple(names)
    if not chosen:
        raise UsageError("--params: give at least one parameter to search")
    for name in chosen:
        if name not in known:
            raise UsageError(f"--params {name!r}: not a parameter of strategy {strategy!r}"
                             + did_you_mean(name, list(known)))
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"--params: a parameter is listed twice ({', '.join(chosen)})")
    return chosen


def default_params(strategy: str) -> tuple[str, ...]:
    """What a study searches when ``--params`` is not given: the tunable parameters."""
    known = search_params(strategy)
    return tuple(n for n in TUNABLE if n in known)


def distributions(names: Iterable[str]) -> dict[str, BaseDistribution]:
    """Optuna's distribution of each parameter: its hard bounds, integers for an int."""
    from optuna.distributions import FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for name in names:
        spec = PARAMS[name]
        out[name] = (IntDistribution(int(spec.lo), int(spec.hi)) if spec.kind == "int"
                     else FloatDistribution(float(spec.lo), float(spec.hi)))
    return out


def values_of(params: Mapping[str, Any]) -> dict[str, Value]:
    """A trial's values, typed and rounded as the parameter table does (:meth:`ParamSpec.cast`)."""
    return {name: PARAMS[name].cast(float(value)) for name, value in params.items()}


def set_texts(values: Mapping[str, Value]) -> tuple[str, ...]:
    """``("name=value", ...)``: the values as a soak's ``--set`` list, in table order."""
    return tuple(f"{name}={values[name]!r}" for name in PARAMS if name in values)
