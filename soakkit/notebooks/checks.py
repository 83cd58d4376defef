"""What each report's parameters must be, checked before a kernel starts.

:func:`soakkit.notebooks.runner.run` casts parameters to the types the notebook declares and
resolves the artifacts root once (:func:`resolve_report_artifacts`); the value constraints
the library knows are here: a soak's options and profile, gate names, run ids and artifacts
folders that exist, a positive budget, a valid clock. Each check takes the cast values and
the resolved root (``None`` when it could not be resolved: that problem is already
reported) and returns every problem (one line each, naming the parameter), so nothing runs
for seconds only to fail inside the kernel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from soakkit.artifacts.layout import DEFAULT_ARTIFACTS, resolve_artifacts, resolve_run_dir
from soakkit.catalog.load import LEGACY_RUN_ID
from soakkit.config.profiles import load_profile
from soakkit.core.errors import ConfigError, SoakkitError
from soakkit.core.inputs import (
    MAX_DAYS,
    MAX_ITERATIONS,
    MAX_SEED,
    check_bounds,
    check_user_path,
)
from soakkit.core.io import parse_utc
from soakkit.evidence.stats import MAX_RESAMPLES, MIN_RESAMPLES
from soakkit.gate import gate_problem
from soakkit.report.kpi_report import NO_BASELINE
from soakkit.rotation.policy import MAX_KEEP_LATEST
from soakkit.soak.options import SoakOptions, option_problems
from soakkit.sweep.store import resolve_sweep_dir

__all__ = ["CREATES_ARTIFACTS", "REPORT_CHECKS", "report_problems", "resolve_report_artifacts"]

Checker = Callable[[Mapping[str, Any], Path | None], list[str]]

#: Reports that write runs, or read only what they may find there (``fidelity``: a named
#: market, user profiles): without an artifacts folder they take ``./artifacts/soak``.
CREATES_ARTIFACTS = frozenset({"soak", "fidelity"})


def _label(name: str) -> str:
    return f"-p {name}"


def resolve_report_artifacts(name: str, given: str | os.PathLike[str] | None
                             ) -> tuple[Path | None, list[str]]:
    """The one resolution of report ``name``'s ``artifacts`` parameter (the runner is the
    edge; the kernel receives the folder it found); ``(None, [problem])`` when there is none.
    """
    if isinstance(given, str) and (why := check_user_path(given)):
        return None, [f"{_label('artifacts')}: {why}"]
    try:
        return resolve_artifacts(given, create=name in CREATES_ARTIFACTS), []
    except SoakkitError as exc:
        return None, [f"{_label('artifacts')}: {exc}"]


def _folder(root: Path | None) -> list[str]:
    """An artifacts root the report reads must be a folder that is there."""
    if root is None or root.is_dir():
        return []
    state = "is not a folder" if root.exists() else "does not exist"
    return [f"{_label('artifacts')} {root}: the artifacts folder {state}"]


def _now(values: Mapping[str, Any]) -> list[str]:
    if values.get("now") is None:
        return []
    try:
        parse_utc(str(values["now"]), _label("now"))
    except SoakkitError as exc:
        return [str(exc)]
    return []


def _gate(values: Mapping[str, Any]) -> list[str]:
    gate = values.get("gate")
    why = gate_problem(gate, _label("gate")) if gate is not None else None
    return [why] if why else []


def _run(artifacts: Path, name: str, run: Any) -> list[str]:
    if run is None or run in (LEGACY_RUN_ID, NO_BASELINE):
        return []
    try:
        resolve_run_dir(artifacts, str(run))
    except SoakkitError as exc:
        return [f"{_label(name)} {run}: {exc}"]
    return []


def _bounded(values: Mapping[str, Any], name: str, lo: float, hi: float | None,
             *, lo_open: bool = False) -> list[str]:
    value = values.get(name)
    try:
        if value is not None:
            check_bounds(value, lo, hi, lo_open)
    except ValueError as exc:
        return [f"{_label(name)} {value!r}: {exc}"]
    return []


def check_soak(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``soak`` report runs a mini-soak: its options, profile and clock."""
    options = SoakOptions(**{k: values[k] for k in ("profile", "iterations", "mode", "seed",
                                                    "sim_minutes", "gate", "tune")
                             if k in values},
                          artifacts=DEFAULT_ARTIFACTS if root is None else root,
                          # the baseline is looked up in the artifacts folder, once usable
                          baseline=None if root is None else values.get("baseline"))
    problems = option_problems(options, _label)
    try:
        load_profile(options.profile, None if problems else root)
    except ConfigError as exc:
        problems += [f"{_label('profile')}: {p.message}" for p in exc.problems]
    return problems + _now(values)


def check_kpi(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``kpi`` report: the artifacts folder, the run and baseline ids, gate and window."""
    problems = _folder(root)
    problems += _gate(values) + _bounded(values, "last_n", 0, MAX_ITERATIONS)
    if not problems and root is not None:
        for name in ("run", "baseline"):
            problems += _run(root, name, values.get(name))
    return problems


def check_explore(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``explore`` notebook: the artifacts folder, the window, the gate and the run."""
    problems = _folder(root)
    problems += _gate(values) + _bounded(values, "days", 0, MAX_DAYS) + _now(values)
    if not problems and root is not None and values.get("run") != "latest":
        problems += _run(root, "run", values.get("run"))
    return problems


def check_disk(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``disk`` report: the artifacts folder, the budget and the rotation policy."""
    return (_folder(root)
            + _bounded(values, "budget_mb", 0, None, lo_open=True)
            + _bounded(values, "ttl_days", 0, MAX_DAYS)
            + _bounded(values, "keep_latest", 0, MAX_KEEP_LATEST) + _now(values))


def check_sweep(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``sweep`` report: the artifacts folder, the sweep, alpha, resamples and seed, then
    the baseline and the metric against the sweep's results (read once here)."""
    problems = (_folder(root) + _bounded(values, "resamples", MIN_RESAMPLES, MAX_RESAMPLES)
                + _bounded(values, "seed", 0, MAX_SEED))
    alpha = values.get("alpha")
    if alpha is not None and not 0 < alpha < 1:
        problems.append(f"{_label('alpha')} {alpha!r}: expected a value > 0 and < 1")
    if problems or root is None or values.get("sweep") is None:
        return problems
    try:
        resolve_sweep_dir(root, str(values["sweep"]))
    except SoakkitError as exc:
        return [f"{_label('sweep')}: {exc}"]
    from soakkit.report.sweep_report import check_sweep_selection

    try:
        check_sweep_selection(root, str(values["sweep"]),
                              baseline=str(values.get("baseline")),
                              metric=str(values.get("metric", "auto")),
                              per_mode=bool(values.get("per_mode", False)))
    except SoakkitError as exc:
        text = str(exc)
        name = next((n for n in ("baseline", "metric") if text.startswith(f"{n} ")), None)
        return [f"{_label(name)}: {text}" if name else text]
    return []


def check_fidelity(values: Mapping[str, Any], root: Path | None) -> list[str]:
    """The ``fidelity`` report: a tape that reads and holds the minutes asked for, the
    number of seeds, the profiles and the market."""
    from soakkit.evidence.sim_to_real import check_profiles
    from soakkit.report.fidelity_report import parse_profiles
    from soakkit.sim.fidelity import MAX_FIDELITY_MINUTES, MAX_FIDELITY_SEEDS, fidelity_span
    from soakkit.sim.replay import load_tape
    from soakkit.soak.options import load_market

    problems = (_bounded(values, "minutes", 1, MAX_FIDELITY_MINUTES)
                + _bounded(values, "seeds", 1, MAX_FIDELITY_SEEDS)
                + _bounded(values, "seed", 0, MAX_SEED))
    tape = values.get("tape")
    if tape is None:
        problems.append(f"{_label('tape')}: give the tape folder to compare with")
    elif why := check_user_path(str(tape)):
        problems.append(f"{_label('tape')}: {why}")
    if problems or root is None:
        return problems
    def read_tape() -> None:
        fidelity_span(load_tape(Path(str(tape))), values.get("minutes"))

    def read_profiles() -> None:
        if str(values["profiles"]).strip() != "none":
            check_profiles(parse_profiles(str(values["profiles"]), "-p profiles"), root)

    def read_market() -> None:
        if values.get("market") is not None:
            load_market(str(values["market"]), root)

    for name, check in (("tape", read_tape), ("profiles", read_profiles),
                        ("market", read_market)):
        try:
            check()
        except SoakkitError as exc:
            problems.append(f"{_label(name)}: {exc}")
    return problems


#: Report name → its check (reports without one are checked by type only).
REPORT_CHECKS: Mapping[str, Checker] = {"soak": check_soak, "kpi": check_kpi,
                                        "disk": check_disk, "explore": check_explore,
                                        "sweep": check_sweep, "fidelity": check_fidelity}


def _environment() -> list[str]:
    """What every report's kernel inherits: a catalog cache folder that can be used."""
    from soakkit.catalog.cache_paths import cache_dir  # no polars in the parent

    try:
        cache_dir(Path("."))
    except SoakkitError as exc:
        return [str(exc)]
    return []


def report_problems(name: str, values: Mapping[str, Any], root: Path | None) -> list[str]:
    """Every problem with the (already type-cast) parameters of report ``name`` whose
    artifacts folder :func:`resolve_report_artifacts` found at ``root``, and the environment
    its kernel inherits."""
    check = REPORT_CHECKS.get(name)
    return _environment() + (check(values, root) if check is not None else [])
