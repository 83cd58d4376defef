"""The search space: the parameters a study searches, each within its bounds in the
parameter table of the study's strategy (the engine's :data:`soakkit.config.params.PARAMS`
and the strategy's own, as :func:`soakkit.strategy.registry.load_strategy` gives them), as
Optuna distributions.

A trial's values go to a mini-soak as ``--set NAME=VALUE`` over the starting profile, as a
sweep's ``--set`` axes do; the parameters not searched keep the profile's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from soakkit.config.params import ParamSpec, Value, tunable_params
from soakkit.core.errors import UsageError, did_you_mean
from soakkit.strategy.registry import load_strategy

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["check_params", "default_params", "distributions", "search_params", "values_of"]


def search_params(strategy: str) -> dict[str, ParamSpec]:
    """Every parameter a study of ``strategy`` may search (``--params``): the engine's and
    the strategy's own (:func:`soakkit.strategy.registry.load_strategy`), with their bounds.

    Raises
    ------
    UsageError
        An unknown strategy (``--strategy``).
    """
    return load_strategy(strategy).params


def check_params(specs: Mapping[str, ParamSpec], strategy: str, names: Iterable[str]
                 ) -> tuple[str, ...]:
    """``names`` checked against ``strategy``'s parameters ``specs``."""
    chosen = tuple(names)
    if not chosen:
        raise UsageError("--params: give at least one parameter to search")
    for name in chosen:
        if name not in specs:
            raise UsageError(f"--params {name!r}: not a parameter of strategy {strategy!r}"
                             + did_you_mean(name, list(specs)))
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"--params: a parameter is listed twice ({', '.join(chosen)})")
    return chosen


def default_params(specs: Mapping[str, ParamSpec]) -> tuple[str, ...]:
    """What a study searches when ``--params`` is not given: the tunable parameters (the
    engine's and the strategy's own)."""
    return tunable_params(specs)


def distributions(specs: Mapping[str, ParamSpec], names: Iterable[str]
                  ) -> dict[str, BaseDistribution]:
    """Optuna's distribution of each parameter: its hard bounds, integers for an int."""
    from optuna.distributions import FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for name in names:
        spec = specs[name]
        out[name] = (IntDistribution(int(spec.lo), int(spec.hi)) if spec.kind == "int"
                     else FloatDistribution(float(spec.lo), float(spec.hi)))
    return out


def values_of(specs: Mapping[str, ParamSpec], params: Mapping[str, Any]) -> dict[str, Value]:
    """A trial's values, typed and rounded as the parameter table does (:meth:`ParamSpec.cast`)."""
    return {name: specs[name].cast(float(value)) for name, value in params.items()}

