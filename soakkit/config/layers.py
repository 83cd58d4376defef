"""Layered configuration with provenance: an explicit, ordered list of sources.

Lowest to highest (``soakkit config precedence``):

1. ``defaults``  – :data:`soakkit.config.params.PARAMS`
2. ``profile``   – the named profile (built-in or ``<artifacts>/profiles/<name>.json``)
3. ``runtime``   – ``runtime_overrides.json`` (written only by the tuner)
4. ``env``       – ``MM_RUNTIME_OVERRIDES_JSON`` (deprecated) < ``SOAKKIT_OVERRIDES_JSON``
   < ``SOAKKIT_PARAM_<NAME>``
5. ``cli``       – ``--set name=value`` (repeatable; a later one wins)

Each source is validated on its own before merging, so every problem names its layer and
source; all problems are collected and raised together as one
:class:`~soakkit.core.errors.ConfigError`. Provenance (the winning origin and every value
it shadowed) is kept beside the values, never inside them. Keys set by env or CLI are
*pinned*: the tuner leaves them alone and records ``tuner_suppressed``.

The parameters are those of the run's strategy
(:func:`~soakkit.config.params.strategy_params`); a profile may also carry parameters of
other built-in strategies, which this run leaves out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from soakkit.config.params import (
    LEGACY_PATHS,
    PARAMS,
    ParamSpec,
    Value,
    check_value,
    parse_text,
    strategy_params,
)
from soakkit.config.profiles import Profile, load_profile
from soakkit.config.runtime import RuntimeOverrides, read_runtime_overrides
from soakkit.core.errors import (
    ConfigError,
    JsonFormatError,
    Problem,
    RuntimeOverridesError,
    closest,
    did_you_mean,
)
from soakkit.core.json_canonical import json_ready
from soakkit.core.json_strict import loads_strict

__all__ = [
    "ENV_JSON",
    "ENV_LEGACY_JSON",
    "ENV_PARAM_PREFIX",
    "PRECEDENCE",
    "Layer",
    "Origin",
    "ResolvedConfig",
    "Setting",
    "resolve",
    "unknown_parameter",
]

ENV_LEGACY_JSON = "MM_RUNTIME_OVERRIDES_JSON"
ENV_JSON = "SOAKKIT_OVERRIDES_JSON"
ENV_PARAM_PREFIX = "SOAKKIT_PARAM_"


class Layer(IntEnum):
    """Configuration layers, lowest precedence first."""

    DEFAULTS = 0
    PROFILE = 1
    RUNTIME = 2
    ENV = 3
    CLI = 4

    @property
    def label(self) -> str:
        return self.name.lower()


#: What ``soakkit config precedence`` prints, lowest first.
PRECEDENCE: tuple[tuple[Layer, str], ...] = (
    (Layer.DEFAULTS, "built-in defaults of the parameter model (soakkit.config.params)"),
    (Layer.PROFILE, "the --profile: built-in, or <artifacts>/profiles/<name>.json"),
    (Layer.RUNTIME, "runtime_overrides.json of the run, written only by the tuner"),
    (Layer.ENV, f"{ENV_LEGACY_JSON} (deprecated) < {ENV_JSON} < {ENV_PARAM_PREFIX}<NAME>"),
    (Layer.CLI, "--set name=value, repeatable (a later --set wins)"),
)


@dataclass(frozen=True)
class Origin:
    """Where one value came from: the layer and its exact source."""

    layer: Layer
    source: str
    path: str | None = None
    sha256: str | None = None
    revision: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Every field that is set, the layer by its label."""
        fields = {k: v for k, v in json_ready(self).items() if v is not None}
        return {**fields, "layer": self.layer.label}


@dataclass(frozen=True)
class Setting:
    """A value and its origin."""

    value: Value
    origin: Origin


@dataclass(frozen=True)
class ResolvedConfig:
    """The merged parameters with full provenance.

    ``chains[key]`` lists every setting of ``key`` in precedence order, lowest first; the
    last one won. ``pinned`` are the keys set by env or CLI.
    """

    values: Mapping[str, Value]
    chains: Mapping[str, tuple[Setting, ...]]
    profile: Profile
    runtime: RuntimeOverrides | None
    pinned: frozenset[str]
    warnings: tuple[str, ...] = field(default=())
    #: the run's parameters (its strategy's); default: the legacy quoter's
    specs: Mapping[str, ParamSpec] = field(default_factory=strategy_params)

    def origin(self, key: str) -> Origin:
        """The winning origin of ``key``."""
        return self.chains[key][-1].origin

    def baseline(self) -> dict[str, Value]:
        """Values from defaults and profile only: what panic revert returns to."""
        out: dict[str, Value] = {}
        for key, chain in self.chains.items():
            below = [s for s in chain if s.origin.layer <= Layer.PROFILE]
            out[key] = below[-1].value
        return out

    def to_json(self) -> dict[str, Any]:
        """``config show --json``: values, winning origin and shadowed values per key."""
        params = {}
        for key, spec in self.specs.items():
            chain = self.chains[key]
            params[key] = {
                "value": chain[-1].value,
                "unit": spec.unit,
                "origin": chain[-1].origin.to_json(),
                "shadowed": [{"value": s.value, "origin": s.origin.to_json()}
                             for s in chain[:-1]],
                "pinned": key in self.pinned,
            }
        return {
            "profile": {"name": self.profile.name, "sha256": self.profile.sha256,
                        "path": str(self.profile.path), "builtin": self.profile.builtin},
            "runtime_overrides": (None if self.runtime is None else
                                  {"path": str(self.runtime.path),
                                   "revision": self.runtime.revision}),
            "precedence": [layer.label for layer, _ in PRECEDENCE],
            "params": params,
            "pinned": sorted(self.pinned),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------
_Collected = tuple[list[tuple[str, Setting]], list[Problem]]


def unknown_parameter(key: str, specs: Mapping[str, ParamSpec]) -> str:
    """Why ``key`` is not a parameter of this run: unknown, or another strategy's."""
    other = PARAMS.get(key)
    if other is not None and other.owners:
        return (f"not a parameter of this run's strategy (it belongs to "
                f"{', '.join(other.owners)}: select it with --strategy)")
    return "unknown parameter" + did_you_mean(key, list(specs))


def _typed_entries(obj: Mapping[str, Any], origin: Origin, layer: str,
                   source: str, specs: Mapping[str, ParamSpec]) -> _Collected:
    """Validate a JSON object of flat parameter names (env JSON layers)."""
    out: list[tuple[str, Setting]] = []
    problems: list[Problem] = []
    for key, value in obj.items():
        spec = specs.get(key)
        if spec is None:
            problems.append(Problem(layer, source, key, unknown_parameter(key, specs)))
        elif why := check_value(spec, value):
            problems.append(Problem(layer, source, key, why))
        else:
            out.append((key, Setting(value, origin)))
    return out, problems


def _defaults(specs: Mapping[str, ParamSpec]) -> _Collected:
    origin = Origin(Layer.DEFAULTS, "defaults")
    return [(name, Setting(spec.default, origin)) for name, spec in specs.items()], []


def _profile(profile: Profile, specs: Mapping[str, ParamSpec]) -> _Collected:
    """The profile's values of this run's parameters (another strategy's are left out)."""
    origin = Origin(Layer.PROFILE, profile.source, str(profile.path), profile.sha256)
    return [(k, Setting(v, origin)) for k, v in profile.params.items() if k in specs], []


def _runtime(runtime: RuntimeOverrides) -> _Collected:
    origin = Origin(Layer.RUNTIME, f"runtime:{runtime.path.name}", str(runtime.path),
                    revision=runtime.revision)
    return [(k, Setting(v, origin)) for k, v in runtime.values.items()], []


def _runtime_mismatch(runtime: RuntimeOverrides, profile: Profile) -> list[Problem]:
    """A runtime layer written for another profile (or another version of it) is refused."""
    if runtime.base_profile == profile.name and runtime.base_profile_sha256 == profile.sha256:
        return []
    return [Problem("runtime", str(runtime.path), "base_profile",
                    f"belongs to profile {runtime.base_profile!r} (sha256 "
                    f"{runtime.base_profile_sha256[:12]}), not to profile {profile.name!r} "
                    f"(sha256 {profile.sha256[:12]}) at {profile.path}; refusing to apply "
                    "another profile's tuned values")]


def _flatten_legacy(obj: Mapping[str, Any], prefix: str = "",
                    given: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Legacy nested sections (``{"engine": {"min_interval_ms": 70}}``) → flat names;
    ``given`` collects, per flat name, each ``path = value`` that set it."""
    flat: dict[str, Any] = {}
    given = {} if given is None else given
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_legacy(value, path + ".", given))
        else:
            name = LEGACY_PATHS.get(path, path)
            given.setdefault(name, []).append(f"{path} = {json.dumps(value)[:40]}")
            flat[name] = value
    return flat


def _given_twice(obj: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[Problem]]:
    """A legacy document flattened, and a problem for each parameter it gives twice (a flat
    and a nested spelling): which one wins would be a guess, so neither is used."""
    given: dict[str, list[str]] = {}
    flat = _flatten_legacy(obj, given=given)
    problems = [Problem("env", source, name, f"given {len(where)} times ({', '.join(where)}); "
                        "keep one") for name, where in given.items() if len(where) > 1]
    return {k: v for k, v in flat.items() if len(given[k]) == 1}, problems


def _env(env: Mapping[str, str], warnings: list[str],
         specs: Mapping[str, ParamSpec]) -> _Collected:
    out: list[tuple[str, Setting]] = []
    problems: list[Problem] = []
    for var in (ENV_LEGACY_JSON, ENV_JSON):
        if var not in env:
            continue
        source = f"env:{var}"
        text = env[var]
        if var == ENV_LEGACY_JSON:
            warnings.append(f"{ENV_LEGACY_JSON} is deprecated; use {ENV_JSON} "
                            f"or {ENV_PARAM_PREFIX}<NAME>")
        if text.strip() == "":
            problems.append(Problem("env", source, None, "empty value; unset the variable "
                                    "or give a JSON object"))
            continue
        try:
            obj = loads_strict(text, source)
        except JsonFormatError as exc:
            problems.append(Problem("env", source, None, f"invalid JSON at line {exc.line} "
                                    f"column {exc.column}: {exc.message}"))
            continue
        if var == ENV_LEGACY_JSON:
            obj.pop("_sources", None)
            obj, twice = _given_twice(obj, source)
            problems += twice
        got, bad = _typed_entries(obj, Origin(Layer.ENV, source), "env", source, specs)
        out += got
        problems += bad
    names = {name.upper(): name for name in specs}
    for var in sorted(env):
        if not var.upper().startswith(ENV_PARAM_PREFIX):
            continue
        source = f"env:{var}"
        if var != var.upper():
            problems.append(Problem("env", source, None,
                                    f"environment names are upper-case; did you mean "
                                    f"{var.upper()!r}?"))
            continue
        suffix = var[len(ENV_PARAM_PREFIX):]
        key = names.get(suffix)
        if key is None:
            best = closest(suffix, names)
            hint = f" (did you mean {ENV_PARAM_PREFIX}{best}?)" if best else ""
            other = PARAMS.get(suffix.lower())
            why = (unknown_parameter(suffix.lower(), specs) if other is not None
                   else f"unknown parameter {suffix.lower()!r}{hint}")
            problems.append(Problem("env", source, None, why))
            continue
        try:
            value = parse_text(specs[key], env[var])
        except ValueError as exc:
            problems.append(Problem("env", source, key, str(exc)))
            continue
        out.append((key, Setting(value, Origin(Layer.ENV, source))))
    return out, problems


def _cli(sets: Sequence[str], specs: Mapping[str, ParamSpec]) -> _Collected:
    out: list[tuple[str, Setting]] = []
    problems: list[Problem] = []
    for item in sets:
        source = f"cli:--set {item if len(item) <= 80 else item[:60] + '...'}"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem("cli", source, None, "expected --set name=value"))
            continue
        spec = specs.get(key)
        if spec is None:
            problems.append(Problem("cli", source, key, unknown_parameter(key, specs)))
            continue
        try:
            value = parse_text(spec, text)
        except ValueError as exc:
            problems.append(Problem("cli", source, key, str(exc)))
            continue
        out.append((key, Setting(value, Origin(Layer.CLI, source))))
    return out, problems


# --------------------------------------------------------------------------------------
# resolution
# --------------------------------------------------------------------------------------
def resolve(
    profile: str,
    *,
    artifacts: Path | None = None,
    sets: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    runtime_path: Path | None = None,
    runtime: RuntimeOverrides | None = None,
    params: Mapping[str, ParamSpec] | None = None,
) -> ResolvedConfig:
    """Resolve the parameters for ``profile`` through every layer, with provenance.

    Parameters
    ----------
    profile
        Profile name; user profiles live in ``<artifacts>/profiles``.
    artifacts
        Artifacts root (``artifacts/soak``), for user profiles. ``None``: built-ins only.
    sets
        ``name=value`` strings from ``--set``, in command-line order.
    env
        Environment to read (defaults to :data:`os.environ`).
    runtime_path
        A ``runtime_overrides.json`` to use as the runtime layer, or ``None`` for none.
    runtime
        An already-read runtime layer (takes the place of ``runtime_path``).
    params
        The run's parameters (:func:`~soakkit.config.params.strategy_params` of its
        strategy); default: the legacy quoter's.

    Returns
    -------
    ResolvedConfig

    Raises
    ------
    ConfigError
        Every problem of every layer, one per line.
    """
    env = os.environ if env is None else env
    specs = strategy_params() if params is None else dict(params)
    problems: list[Problem] = []
    warnings: list[str] = []
    entries: list[tuple[str, Setting]] = []

    got, bad = _defaults(specs)
    entries += got
    loaded: Profile | None = None
    try:
        loaded = load_profile(profile, artifacts, specs)
    except ConfigError as exc:
        problems += exc.problems
    if loaded is not None:
        entries += _profile(loaded, specs)[0]
    if runtime is not None:
        entries += _runtime(runtime)[0]
    elif runtime_path is not None:
        try:
            runtime = read_runtime_overrides(runtime_path)
        except RuntimeOverridesError as exc:
            problems += [Problem("runtime", str(runtime_path), None, line)
                         for line in str(exc).splitlines()]
        else:
            entries += _runtime(runtime)[0]
    if runtime is not None:
        problems += [Problem("runtime", str(runtime.path), key, unknown_parameter(key, specs))
                     for key in runtime.values if key not in specs]
    for got, bad in (_env(env, warnings, specs), _cli(sets, specs)):
        entries += got
        problems += bad
    if loaded is not None and runtime is not None:
        problems += _runtime_mismatch(runtime, loaded)
    if problems or loaded is None:
        raise ConfigError(problems)

    chains: dict[str, list[Setting]] = {name: [] for name in specs}
    for key, setting in entries:  # already in precedence order
        chains[key].append(setting)
    values = {key: chain[-1].value for key, chain in chains.items()}
    pinned = frozenset(key for key, chain in chains.items()
                       if any(s.origin.layer >= Layer.ENV for s in chain))
    return ResolvedConfig(values, {k: tuple(v) for k, v in chains.items()}, loaded, runtime,
                          pinned, tuple(warnings), specs)
