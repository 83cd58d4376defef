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
:class:`~soakkit.core.errors.ConfigError`. Provenance (the winning origin and every value it
shadowed) is kept beside the values, never inside them. Keys set by env or CLI are
*pinned*: the tuner leaves them alone and records ``tuner_suppressed``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from soakkit.config.params import LEGACY_PATHS, PARAMS, Value, check_value, parse_text
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
        for key in PARAMS:
            chain = self.chains[key]
            params[key] = {
                "value": chain[-1].value,
                "unit": PARAMS[key].unit,
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


def _typed_entries(obj: Mapping[str, Any], origin: Origin, layer: str,
                   source: str) -> _Collected:
    """Validate a JSON object of flat parameter names (env JSON layers)."""
    out: list[tuple[str, Setting]] = []
    problems: list[Problem] = []
    for key, value in obj.items():
        spec = PARAMS.get(key)
        if spec is None:
            problems.append(Problem(layer, source, key,
                                    "unknown parameter" + did_you_mean(key, list(PARAMS))))
        elif why := check_value(spec, value):
            problems.append(Problem(layer, source, key, why))
        else:
            out.append((key, Setting(value, origin)))
    return out, problems


def _defaults() -> _Collected:
    origin = Origin(Layer.DEFAULTS, "defaults")
    return [(name, Setting(spec.default, origin)) for name, spec in PARAMS.items()], []


def _profile(profile: Profile) -> _Collected:
    origin = Origin(Layer.PROFILE, profile.source, str(profile.path), profile.sha256)
    return [(k, Setting(v, origin)) for k, v in profile.params.items()], []


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


def _flatten_legacy(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Legacy nested sections (``{"engine": {"min_interval_ms": 70}}``) → flat names."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_legacy(value, path + "."))
        else:
            flat[LEGACY_PATHS.get(path, path)] = value
    return flat


def _env(env: Mapping[str, str], warnings: list[str]) -> _Collected:
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
            obj = _flatten_legacy(obj)
        got, bad = _typed_entries(obj, Origin(Layer.ENV, source), "env", source)
        out += got
        problems += bad
    names = {name.upper(): name for name in PARAMS}
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
            problems.append(Problem("env", source, None,
                                    f"unknown parameter {suffix.lower()!r}{hint}"))
            continue
        try:
            value = parse_text(PARAMS[key], env[var])
        except ValueError as exc:
            problems.append(Problem("env", source, key, str(exc)))
            continue
        out.append((key, Setting(value, Origin(Layer.ENV, source))))
    return out, problems


def _cli(sets: Sequence[str]) -> _Collected:
    out: list[tuple[str, Setting]] = []
    problems: list[Problem] = []
    for item in sets:
        source = f"cli:--set {item if len(item) <= 80 else item[:60] + '...'}"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem("cli", source, None, "expected --set name=value"))
            continue
        spec = PARAMS.get(key)
        if spec is None:
            problems.append(Problem("cli", source, key,
                                    "unknown parameter" + did_you_mean(key, list(PARAMS))))
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

    Returns
    -------
    ResolvedConfig

    Raises
    ------
    ConfigError
        Every problem of every layer, one per line.
    """
    env = os.environ if env is None else env
    problems: list[Problem] = []
    warnings: list[str] = []
    entries: list[tuple[str, Setting]] = []

    got, bad = _defaults()
    entries += got
    loaded: Profile | None = None
    try:
        loaded = load_profile(profile, artifacts)
    except ConfigError as exc:
        problems += exc.problems
    if loaded is not None:
        entries += _profile(loaded)[0]
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
    for got, bad in (_env(env, warnings), _cli(sets)):
        entries += got
        problems += bad
    if loaded is not None and runtime is not None:
        problems += _runtime_mismatch(runtime, loaded)
    if problems or loaded is None:
        raise ConfigError(problems)

    chains: dict[str, list[Setting]] = {name: [] for name in PARAMS}
    for key, setting in entries:  # already in precedence order
        chains[key].append(setting)
    values = {key: chain[-1].value for key, chain in chains.items()}
    pinned = frozenset(key for key, chain in chains.items()
                       if any(s.origin.layer >= Layer.ENV for s in chain))
    return ResolvedConfig(values, {k: tuple(v) for k, v in chains.items()}, loaded, runtime,
                          pinned, tuple(warnings))
