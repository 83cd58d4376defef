"""The grid of a sweep: validation of a :class:`~.spec.SweepSpec`, its cells, their keys.

:func:`build_grid` checks everything a sweep needs *before* any work starts (profiles
load, modes and ``--set`` names exist, values are in bounds) and returns a :class:`Grid`
whose cells are enumerated lazily, so a 100,000-cell grid costs no memory until it runs.

**Cell key.** A cell is keyed by everything that determines its result::

    config = signature({engine_version, profile, profile_sha256, mode, tune, sets,
                        iterations, sim_minutes, gate[, strategy]})
    key    = sha256(f"{config}:{seed}")

(``strategy`` only when it is not the default legacy quoter, so the keys of legacy cells
stay those of earlier sweeps).

(:func:`soakkit.core.digests.signature` is the sha256 of canonical JSON; ``sets`` are the typed
``--set`` values). A rerun finds a cell's stored result by its key.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit.config.layers import unknown_parameter
from soakkit.config.params import (
    DEFAULT_STRATEGY,
    ParamSpec,
    Value,
    parse_text,
    strategy_id_part,
)
from soakkit.config.profiles import load_profile
from soakkit.core.digests import sha256_bytes, signature
from soakkit.core.errors import ConfigError, SoakkitError, UsageError, did_you_mean
from soakkit.core.inputs import MAX_WORKERS, check_int_option
from soakkit.sim.regimes import MODES
from soakkit.sim.version import ENGINE_VERSION
from soakkit.soak.options import SoakOptions, validate_options
from soakkit.strategy.registry import load_strategy
from soakkit.sweep.spec import MAX_CELLS, SweepSpec, format_seeds

__all__ = ["AXES", "SET_PREFIX", "Cell", "Grid", "ProfileRef", "build_grid", "check_execution",
           "check_sweep_name", "load_profile_ref", "set_column"]

#: Column prefix of a ``--set`` axis in the results (``set_tail_age_ms``).
SET_PREFIX = "set_"
#: The fixed axes of every grid, in the results' column order (``set_*`` axes follow tune).
AXES = ("profile", "mode", "tune", "seed")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_RESERVED = frozenset({"latest"})


def set_column(name: str) -> str:
    """The results column of ``--set`` axis ``name``."""
    return SET_PREFIX + name


def check_sweep_name(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is a valid sweep id."""
    if not _NAME_RE.fullmatch(name) or name in _RESERVED:
        raise UsageError(f"--name {name!r}: use 1-64 characters from A-Z, a-z, 0-9, '_', '.' "
                         "and '-', starting with a letter or digit (not 'latest')")


@dataclass(frozen=True)
class ProfileRef:
    """A profile as the sweep ships it to workers: its bytes and their sha256."""

    name: str
    sha256: str
    data: bytes
    builtin: bool

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "source": "builtin" if self.builtin else "user"}


@dataclass(frozen=True)
class Cell:
    """One mini-soak of the grid."""

    index: int
    profile: str
    mode: str
    tune: bool
    sets: tuple[Value, ...]  #: values of the grid's ``--set`` axes, in axis order
    seed: int
    key: str
    strategy: str = DEFAULT_STRATEGY


@dataclass(frozen=True)
class Grid:
    """A validated sweep: its axes, the profiles it ships, and its cells (lazily)."""

    spec: SweepSpec
    profiles: Mapping[str, ProfileRef]
    set_names: tuple[str, ...]
    set_values: tuple[tuple[Value, ...], ...]

    @property
    def size(self) -> int:
        """Number of cells."""
        return (len(self.spec.strategies) * len(self.spec.profiles) * len(self.spec.modes)
                * len(self.spec.tune) * math.prod(len(v) for v in self.set_values)
                * len(self.spec.seeds))

    @property
    def columns(self) -> tuple[str, ...]:
        """Axis columns of the results, in order."""
        first = ("strategy",) if self.spec.strategy_axis else ()
        return (*first, "profile", "mode", "tune", *map(set_column, self.set_names), "seed")

    def config_signature(self, profile: str, mode: str, tune: bool,
                         sets: tuple[Value, ...], strategy: str = DEFAULT_STRATEGY) -> str:
        """Signature of everything that determines a cell's result except its seed."""
        s = self.spec
        config: dict[str, Any] = {
            "engine_version": ENGINE_VERSION, "profile": profile,
            "profile_sha256": self.profiles[profile].sha256, "mode": mode, "tune": tune,
            "sets": dict(zip(self.set_names, sets, strict=True)), "iterations": s.iterations,
            "sim_minutes": s.sim_minutes, "gate": s.gate}
        if strategy != DEFAULT_STRATEGY:
            config["strategy"] = strategy
        return signature(config)

    def cells(self) -> Iterator[Cell]:
        """Every cell, in grid order (strategy, profile, mode, tune, sets, seed), lazily."""
        s = self.spec
        index = 0
        for strategy, profile, mode, tune in itertools.product(s.strategies, s.profiles,
                                                               s.modes, s.tune):
            for values in itertools.product(*self.set_values):
                yield from self._cells_of(profile, mode, tune, values, index, strategy)
                index += len(s.seeds)

    def _cells_of(self, profile: str, mode: str, tune: bool, values: tuple[Value, ...],
                  index: int, strategy: str) -> Iterator[Cell]:
        prefix = self.config_signature(profile, mode, tune, values, strategy) + ":"
        for offset, seed in enumerate(self.spec.seeds):
            key = hashlib.sha256(f"{prefix}{seed}".encode("ascii")).hexdigest()
            yield Cell(index + offset, profile, mode, tune, values, seed, key, strategy)

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same (``sweep.json``; the default id hashes it)."""
        s = self.spec
        return {
            "engine_version": ENGINE_VERSION,
            "spec": {"profiles": list(s.profiles), "modes": list(s.modes),
                     "seeds": format_seeds(s.seeds), "tune": list(s.tune),
                     "sets": {n: list(v) for n, v in zip(self.set_names, self.set_values,
                                                         strict=True)},
                     "iterations": s.iterations, "sim_minutes": s.sim_minutes, "gate": s.gate,
                     **({"strategies": list(s.strategies)} if s.strategy_axis else {})},
            "profiles": {n: p.to_json() for n, p in sorted(self.profiles.items())},
        }

    @property
    def sweep_id(self) -> str:
        """``--name``, or ``sw-`` and 12 hex digits of the identity's signature."""
        return self.spec.name or f"sw-{signature(self.identity())[:12]}"


def load_profile_ref(name: str, artifacts: Path | None, flag: str = "--profiles",
                     known: Mapping[str, ParamSpec] | None = None) -> ProfileRef:
    """Profile ``name`` as workers receive it (its bytes and sha256); errors name ``flag``.
    ``known``: the parameters a strategy declares beyond the engine's (a profile may carry
    them, as a study of that strategy recommends)."""
    try:
        profile = load_profile(name, artifacts, known)
    except ConfigError as exc:
        reasons = "; ".join(p.message if p.key is None else f"{p.key}: {p.message}"
                            for p in exc.problems)
        raise UsageError(f"{flag} {name!r}: {reasons}") from None
    try:
        data = profile.path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{flag} {name!r}: {profile.path}: {exc.strerror}") from None
    if sha256_bytes(data) != profile.sha256:
        raise UsageError(f"{flag} {name!r}: {profile.path} changed while it was read")
    return ProfileRef(name, profile.sha256, data, profile.builtin)


def _set_axis(name: str, texts: tuple[str, ...], params: dict[str, dict[str, ParamSpec]],
              problems: list[str]) -> tuple[Value, ...]:
    """The typed values of ``--set name=texts`` for every swept strategy's parameters; every
    bad value is one line in ``problems``."""
    shown = f"{name}={','.join(texts)}"
    if not params:  # no strategy loaded: that is the problem already listed
        return ()
    for strategy, specs in params.items():
        if name in specs:
            continue
        if unknown_parameter(name, specs).startswith("unknown"):
            problems.append(f"--set {shown}: unknown parameter {name!r}"
                            + did_you_mean(name, list(specs)))
        else:
            problems.append(f"--set {shown}: {name!r} is not a parameter of strategy "
                            f"{strategy}; sweep strategies with different parameters "
                            "separately")
        return ()
    if not texts:
        problems.append(f"--set {shown}: empty grid (give at least one value)")
        return ()
    values: dict[Value, None] = {}
    for text in texts:  # every cell's value against its own strategy's bounds
        typed: list[Value] = []
        for strategy, specs in params.items():
            whose = f"strategy {strategy}: " if len(params) > 1 else ""
            try:
                typed.append(parse_text(specs[name], text))
            except ValueError as exc:
                problems.append(f"--set {shown}: {whose}{name}: {exc}")
        if len(typed) == len(params):
            values[typed[0]] = None
    return tuple(values)


def check_execution(spec: SweepSpec) -> None:
    """Raise :class:`UsageError` for bad execution options (workers, scheduler, timeouts)."""
    for flag, value, most in (("--workers", spec.workers, MAX_WORKERS),
                              ("--batch-size", spec.batch_size, MAX_CELLS),
                              ("--window", spec.window, MAX_CELLS)):
        if value is not None:
            check_int_option(flag, value, 1, most)
    if spec.scheduler is not None and spec.scheduler_file is not None:
        raise UsageError("--scheduler and --scheduler-file: give one of them")
    if spec.workers is not None and (spec.scheduler or spec.scheduler_file):
        raise UsageError("--workers: only for the local cluster (an existing cluster has "
                         "its own workers)")
    if not (math.isfinite(spec.connect_timeout_s) and spec.connect_timeout_s > 0):
        raise UsageError(f"--connect-timeout {spec.connect_timeout_s}: expected seconds > 0")


def _axes_problems(spec: SweepSpec) -> list[str]:
    """Every problem with the fixed axes: empty, repeated, unknown modes, bad seeds."""
    problems = []
    for flag, axis in (("--profiles", spec.profiles), ("--modes", spec.modes),
                       ("--seeds", spec.seeds), ("--tune", spec.tune)):
        if len(axis) == 0:
            problems.append(f"{flag}: empty grid (give at least one value)")
        elif len(set(axis)) != len(axis):
            problems.append(f"{flag}: a value is listed twice ({list(axis)!r})")
    problems += [f"--modes {mode!r}: unknown mode; expected one of {', '.join(MODES)}"
                 + did_you_mean(mode, MODES) for mode in spec.modes if mode not in MODES]
    problems += [f"--seeds: {seed!r} is not an integer >= 0" for seed in spec.seeds
                 if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0][:1]
    if any(not isinstance(t, bool) for t in spec.tune):
        problems.append(f"--tune: {spec.tune!r}: expected True (on) and/or False (off)")
    return problems


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _size_problem(spec: SweepSpec, names: list[str],
                  set_values: tuple[tuple[Value, ...], ...]) -> str | None:
    """The grid's cell count against :data:`MAX_CELLS`, every factor named."""
    factors = [*([(len(spec.strategies), "strategy")] if spec.strategy_axis else []),
               (len(spec.profiles), "profile"), (len(spec.modes), "mode"),
               (len(spec.tune), "tuner setting"),
               *((len(v), f"{n} value") for n, v in zip(names, set_values, strict=True)),
               (len(spec.seeds), "seed")]
    cells = math.prod(n for n, _ in factors)
    if cells <= MAX_CELLS:
        return None
    shown = " x ".join(f"{n:,} {what if n == 1 else _plural(what)}" for n, what in factors)
    return f"the grid has {cells:,} cells ({shown}); at most {MAX_CELLS:,}"


def build_grid(spec: SweepSpec) -> Grid:
    """Validate ``spec`` and return its grid; nothing is run or written.

    Raises
    ------
    UsageError
        One line for each flag and value that is wrong, all at once (exit code 2).
    """
    if spec.name is not None:
        check_sweep_name(spec.name)
    validate_options(SoakOptions(iterations=spec.iterations, sim_minutes=spec.sim_minutes,
                                 gate=spec.gate, artifacts=spec.artifacts))
    check_execution(spec)
    problems = _axes_problems(spec)
    names = [name for name, _ in spec.sets]
    problems += [f"--set {name}: given twice; list every value in one --set {name}=V1,V2"
                 for name in dict.fromkeys(names) if names.count(name) > 1]
    if not spec.strategies or len(set(spec.strategies)) != len(spec.strategies):
        problems.append(f"--strategies: {list(spec.strategies)!r}: give each strategy once")
    params: dict[str, dict[str, ParamSpec]] = {}
    for name in dict.fromkeys(spec.strategies):
        try:
            params[name] = load_strategy(name).params
        except SoakkitError as exc:
            problems.append(str(exc))
    run_parts = [strategy_id_part(name) for name in spec.strategies]
    if len(set(run_parts)) != len(run_parts):  # pragma: no cover - names differ, parts too
        problems.append(f"--strategies: {list(spec.strategies)!r}: two strategies share a name")
    set_values = tuple(_set_axis(name, tuple(texts), params, problems)
                       for name, texts in spec.sets)
    profiles: dict[str, ProfileRef] = {}
    for name in dict.fromkeys(spec.profiles):
        try:
            profiles[name] = load_profile_ref(name, spec.artifacts)
        except UsageError as exc:
            problems.append(str(exc))
    if not problems and (too_big := _size_problem(spec, names, set_values)):
        problems.append(too_big)
    if problems:
        raise UsageError("\n".join(problems))
    return Grid(spec, profiles, tuple(names), set_values)
