"""A validated study: :func:`build_plan` checks everything a study needs before any work
starts and returns a :class:`Plan`: the name, the space, the markets, the starting profile
as workers receive it, and the identity that makes a rerun the same study.

**Configuration key.** The rows of a configuration on a market set are keyed by everything
that decides them::

    key = signature({engine_version, profile, profile_sha256, values, tune, gate, role,
                     markets of the set, market sha256})

so a trial whose parameters were tried before (or whose rows a killed client stored) is
not run again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from soakkit.config.params import ParamSpec, Value
from soakkit.config.profiles import BUILTIN_DIR, check_profile_name
from soakkit.core.digests import signature
from soakkit.core.errors import UsageError
from soakkit.core.inputs import MAX_SEED, MAX_SIM_MINUTES, check_int_option
from soakkit.gate import check_gate_name
from soakkit.optimize.markets import MarketData, MarketSet, market_data
from soakkit.optimize.space import check_params, default_params, search_params
from soakkit.optimize.spec import MAX_OOS_TOP, MAX_TRIALS, MAX_WINDOW, OptimizeSpec
from soakkit.sim.version import ENGINE_VERSION
from soakkit.soak.options import SoakOptions, validate_options
from soakkit.sweep.grid import ProfileRef, check_execution, load_profile_ref
from soakkit.sweep.spec import SweepSpec, format_seeds

__all__ = ["SAMPLERS", "WRITE_PROFILE", "Plan", "build_plan", "check_study_name", "execution_spec"]

#: ``--sampler`` choices: constrained multivariate TPE (default), random search, and a grid
#: of evenly spaced levels (the baseline a search must beat at the same budget).
SAMPLERS = ("tpe", "random", "grid")
#: ``--write-profile``: when the recommended profile is written.
WRITE_PROFILE = ("supported", "always", "never")
_RESERVED = frozenset({"latest"})


def execution_spec(spec: OptimizeSpec) -> SweepSpec:
    """Where the study runs, in the form the sweep's cluster options take: one cluster path
    for both (:func:`soakkit.sweep.cluster.connect`)."""
    return SweepSpec(artifacts=spec.artifacts, scheduler=spec.scheduler,
                     scheduler_file=spec.scheduler_file, workers=spec.workers,
                     window=spec.window, connect_timeout_s=spec.connect_timeout_s)


def check_study_name(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is a valid study (and profile) name."""
    builtin = {p.stem for p in BUILTIN_DIR.glob("*.json")}
    if check_profile_name(name) or name in _RESERVED:
        raise UsageError(f"--name {name!r}: use 1-64 characters from a-z, 0-9, '_' and '-', "
                         "starting with a letter or digit (not 'latest'): the recommended "
                         "profile takes the study's name")
    if name in builtin:
        raise UsageError(f"--name {name!r}: a built-in profile has that name; the "
                         "recommended profile takes the study's name, choose another")


@dataclass(frozen=True)
class Plan:
    """A validated study."""

    spec: OptimizeSpec
    specs: Mapping[str, ParamSpec]  #: the strategy's parameters (engine's and its own)
    params: tuple[str, ...]
    profile: ProfileRef
    profile_values: Mapping[str, Value]  #: the starting profile's values of ``params``
    data: MarketData

    def identity(self) -> dict[str, Any]:
        """What makes two studies the same (``study.json``; the default name hashes it)."""
        s = self.spec
        return {
            "engine_version": ENGINE_VERSION,
            "spec": {"profile": s.profile, "strategy": s.strategy, "params": list(self.params),
                     "seeds": format_seeds(s.seeds), "eval_seeds": format_seeds(s.eval_seeds),
                     "gate": s.gate, "sampler": s.sampler, "seed": s.seed,
                     "oos_top": s.oos_top},
            "space": {n: [self.specs[n].kind, self.specs[n].lo, self.specs[n].hi]
                      for n in self.params},
            "profile": {"name": s.profile, **self.profile.to_json()},
            "data": self.data.identity(),
        }

    @property
    def name(self) -> str:
        """``--name``, or ``opt-`` and 12 hex digits of the identity's signature."""
        return self.spec.name or f"opt-{signature(self.identity())[:12]}"

    def config_key(self, values: Mapping[str, Value], tune: bool, markets: MarketSet,
                   profile: ProfileRef | None = None) -> str:
        """The key of a configuration's rows on ``markets`` (module docstring)."""
        p = profile or self.profile
        return signature({"engine_version": ENGINE_VERSION, "strategy": self.spec.strategy,
                          "profile": p.name,
                          "profile_sha256": p.sha256, "values": dict(sorted(values.items())),
                          "tune": tune, "gate": self.spec.gate, "role": markets.role,
                          "markets": markets.to_json(),
                          "market_sha256": self.data.market_file[0]
                          if self.data.market_file else None})


def _check_numbers(spec: OptimizeSpec) -> None:
    for flag, value, lo, hi in (("--trials", spec.trials, 1, MAX_TRIALS),
                                ("--oos-top", spec.oos_top, 1, MAX_OOS_TOP),
                                ("--tape-minutes", spec.tape_minutes, 1, MAX_SIM_MINUTES),
                                ("--seed", spec.seed, 0, MAX_SEED),
                                ("--window", spec.window or 1, 1, MAX_WINDOW)):
        check_int_option(flag, value, lo, hi)
    check_execution(execution_spec(spec))
    if spec.sampler not in SAMPLERS:
        raise UsageError(f"--sampler {spec.sampler!r}: expected one of {', '.join(SAMPLERS)}")
    if spec.write_profile not in WRITE_PROFILE:
        raise UsageError(f"--write-profile {spec.write_profile!r}: expected one of "
                         f"{', '.join(WRITE_PROFILE)}")


def build_plan(spec: OptimizeSpec) -> Plan:
    """Validate ``spec`` and return its :class:`Plan`; nothing is run or written.

    Raises
    ------
    UsageError
        One line naming the flag and the value that is wrong (exit code 2).
    """
    if spec.name is not None:
        check_study_name(spec.name)
    _check_numbers(spec)
    check_gate_name(spec.gate)
    validate_options(SoakOptions(iterations=spec.iterations, sim_minutes=spec.sim_minutes,
                                 gate=spec.gate, artifacts=spec.artifacts))
    specs = search_params(spec.strategy)
    params = check_params(specs, spec.strategy, spec.params if spec.params is not None
                          else default_params(specs))
    profile = load_profile_ref(spec.profile, spec.artifacts, "--profile", specs)
    data = market_data(spec)
    from soakkit.config.layers import resolve

    values = resolve(spec.profile, artifacts=spec.artifacts, env={}, params=specs).values
    return Plan(spec, specs, params, profile, {n: values[n] for n in params}, data)
