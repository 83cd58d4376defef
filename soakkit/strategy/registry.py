"""Selecting a strategy: ``--strategy NAME | module:Class | exec:PROGRAM``.

* a built-in name: ``legacy`` (the default), ``avellaneda-stoikov``, ``glft``;
* ``module:Class`` – a :class:`~soakkit.strategy.api.Strategy` subclass importable from
  ``sys.path`` (installed, or on ``PYTHONPATH``);
* a name another package registers under the ``soakkit.strategies`` entry-point group
  (``[project.entry-points."soakkit.strategies"] my-bot = "my_pkg.bot:MyBot"``);
* ``exec:PROGRAM [ARGS]`` – a separate program speaking the JSON-lines protocol
  (:mod:`soakkit.strategy.external`).

:func:`load_strategy` returns a :class:`StrategyRef`: the name the records carry, a
factory giving a fresh strategy per simulated window, and the run's parameter specs
(:func:`~soakkit.config.params.strategy_params`: the engine's and the strategy's own, with
their bounds), which config layering, the tuner and sweeps use unchanged.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from soakkit.config.params import (
    BUILTIN_STRATEGIES,
    DEFAULT_STRATEGY,
    ParamSpec,
    strategy_params,
)
from soakkit.core.errors import StrategyError, UsageError, did_you_mean
from soakkit.strategy.api import Strategy
from soakkit.strategy.external import ExternalStrategy, describe, exec_timeout, split_program
from soakkit.strategy.legacy import LegacyQuoter
from soakkit.strategy.models import AvellanedaStoikov, Glft

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "StrategyRef", "load_strategy"]

#: The built-in strategies by name (their parameters: :data:`soakkit.config.params.PARAMS`).
BUILTIN: Mapping[str, type[Strategy]] = {"legacy": LegacyQuoter,
                                         "avellaneda-stoikov": AvellanedaStoikov,
                                         "glft": Glft}
assert tuple(BUILTIN) == BUILTIN_STRATEGIES
#: Entry-point group other packages register strategies under.
ENTRY_POINT_GROUP = "soakkit.strategies"
_MAX_NAME = 500


@dataclass(frozen=True)
class StrategyRef:
    """A selected strategy: its name, a factory (one instance per window), its parameters."""

    name: str
    factory: Callable[[], Strategy] = field(compare=False)
    declared: tuple[ParamSpec, ...] = ()

    @property
    def params(self) -> dict[str, ParamSpec]:
        """The run's parameters: the engine's, then the strategy's own."""
        return strategy_params(self.name, self.declared)

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN


def _declared(cls: type, name: str) -> tuple[ParamSpec, ...]:
    declared = getattr(cls, "declared", ())
    if not isinstance(declared, tuple | list) or not all(isinstance(s, ParamSpec)
                                                         for s in declared):
        raise UsageError(f"--strategy {name}: {cls.__name__}.declared must be a tuple of "
                         "soakkit.config.params.ParamSpec")
    try:
        strategy_params(name, tuple(declared))
    except ValueError as exc:
        raise UsageError(f"--strategy {name}: {exc}") from None
    return tuple(declared)


def _class(name: str, target: str, how: str) -> StrategyRef:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"--strategy {name}: cannot import {module_name!r}{how}: "
                         f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        found = ("not there: expected" if cls is None else "a class that does not subclass"
                 if isinstance(cls, type) else f"a {type(cls).__name__}, not")
        raise UsageError(f"--strategy {name}: {module_name}.{attr} is {found} "
                         "soakkit.strategy.Strategy")
    return StrategyRef(name, cls, _declared(cls, name))


@lru_cache(maxsize=64)
def _entry_points() -> Mapping[str, str]:
    return {ep.name: ep.value
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


@lru_cache(maxsize=32)
def _exec(name: str, timeout: float) -> StrategyRef:
    argv = split_program(name.removeprefix("exec:"))
    try:
        declared = describe(argv, name, timeout)
    except StrategyError as exc:  # when selected, a program that cannot say what it is
        raise UsageError(str(exc)) from None
    try:
        strategy_params(name, declared)
    except ValueError as exc:
        raise UsageError(f"--strategy {name}: {exc}") from None
    return StrategyRef(name, lambda: ExternalStrategy(argv, name, timeout), declared)


def load_strategy(name: str = DEFAULT_STRATEGY, env: Mapping[str, str] | None = None
                  ) -> StrategyRef:
    """The strategy ``name`` selects (see the module doc); one line on any problem.

    An external program is started once to describe its parameters (the answer is kept
    for the process); ``env`` gives ``SOAKKIT_EXEC_TIMEOUT_S``.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise UsageError(f"--strategy {str(name)[:80]!r}: expected a built-in name "
                         f"({', '.join(BUILTIN)}), module:Class, an entry point or "
                         f"exec:PROGRAM (at most {_MAX_NAME} characters)")
    if name in BUILTIN:
        return StrategyRef(name, BUILTIN[name])
    if name.startswith("exec:"):
        return _exec(name, exec_timeout(os.environ if env is None else env))
    if ":" in name:
        return _class(name, name, "")
    target = _entry_points().get(name)
    if target is not None:
        return _class(name, target, f" (entry point {ENTRY_POINT_GROUP}:{name} = {target})")
    raise UsageError(f"--strategy {name!r}: unknown strategy; expected one of "
                     f"{', '.join([*BUILTIN, *_entry_points()])}, module:Class or "
                     "exec:PROGRAM" + did_you_mean(name, [*BUILTIN, *_entry_points()]))
