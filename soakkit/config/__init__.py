"""Configuration: the parameter model, profiles, layers with provenance, runtime overrides."""

from soakkit.config.layers import PRECEDENCE, Layer, Origin, ResolvedConfig, Setting, resolve
from soakkit.config.params import PARAMS, TUNABLE, ParamSpec
from soakkit.config.profiles import Profile, list_profiles, load_profile
from soakkit.config.runtime import RuntimeOverrides, read_runtime_overrides, write_runtime_overrides

__all__ = [
    "PARAMS",
    "PRECEDENCE",
    "TUNABLE",
    "Layer",
    "Origin",
    "ParamSpec",
    "Profile",
    "ResolvedConfig",
    "RuntimeOverrides",
    "Setting",
    "list_profiles",
    "load_profile",
    "read_runtime_overrides",
    "resolve",
    "write_runtime_overrides",
]
