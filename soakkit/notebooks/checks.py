"""What each report's parameters must be, checked before a kernel starts.

:func:`soakkit.notebooks.runner.run` casts parameters to the types the notebook declares; the
value constraints the library knows are here: a soak's options and profile, gate names,
run ids and artifacts folders that exist, a positive budget, a valid clock. Each function
returns every problem (one line each, naming the parameter), so nothing runs for seconds
only to fail inside the kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from soakkit.artifacts.layout import resolve_artifacts, resolve_run_dir
from soakkit.catalog.load import LEGACY_RUN_ID
from soakkit.config.profiles import load_profile
from soakkit.core.errors import ConfigError, SoakkitError
from soakkit.gate import RUN_GATES
from soakkit.core.inputs import MAX_ITERATIONS, MAX_SEED, check_bounds, check_user_path
from soakkit.core.io import parse_utc
from soakkit.report.kpi_report import NO_BASELINE
from soakkit.rotation.policy import MAX_KEEP_LATEST
from soakkit.soak.options import SoakOptions, option_problems
from soakkit.sweep.store import resolve_sweep_dir

__all__ = ["REPORT_CHECKS", "report_problems"]

Checker = Callable[[Mapping[str, Any]], list[str]]


def _label(name: str) -> str:
    return f"-p {name}"


def _folder(values: Mapping[str, Any], name: str, *, must_exist: bool) -> list[str]:
    """The artifacts root: a usable path, and (``must_exist``) a folder that is there.

    ``None`` resolves as the kernel will resolve it (:func:`resolve_artifacts`).
    """
    text = values.get(name)
    if isinstance(text, str) and (why := check_user_path(text)):
        return [f"{_label(name)}: {why}"]
    try:
        root = resolve_artifacts(text, create=not must_exist)
    except SoakkitError as exc:
        return [f"{_label(name)}: {exc}"]
    if must_exist and not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        return [f"{_label(name)} {root}: the artifacts folder {state}"]
    return []


def _root(values: Mapping[str, Any]) -> Path:
    return resolve_artifacts(values.get("artifacts"), create=True)


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
    if gate is not None and gate not in RUN_GATES:
        return [f"{_label('gate')} {gate!r}: expected one of {', '.join(RUN_GATES)}"]
    return []


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


def check_soak(values: Mapping[str, Any]) -> list[str]:
    """The ``soak`` report runs a mini-soak: its options, profile, folder and clock."""
    problems = _folder(values, "artifacts", must_exist=False)
    options = SoakOptions(**{k: values[k] for k in ("profile", "iterations", "mode", "seed",
                                                    "sim_minutes", "gate", "tune")
                             if k in values})
    if not problems:  # the baseline is looked up in the artifacts folder, once that is usable
        options = replace(options, artifacts=_root(values), baseline=values.get("baseline"))
    problems += option_problems(options, _label)
    try:
        load_profile(options.profile, None if problems else options.artifacts)
    except ConfigError as exc:
        problems += [f"{_label('profile')}: {p.message}" for p in exc.problems]
    return problems + _now(values)


def check_kpi(values: Mapping[str, Any]) -> list[str]:
    """The ``kpi`` report: the artifacts folder, the run and baseline ids, gate and window."""
    problems = _folder(values, "artifacts", must_exist=True)
    problems += _gate(values) + _bounded(values, "last_n", 0, MAX_ITERATIONS)
    if not problems:
        for name in ("run", "baseline"):
            problems += _run(_root(values), name, values.get(name))
    return problems


def check_explore(values: Mapping[str, Any]) -> list[str]:
    """The ``explore`` notebook: the artifacts folder, the window, the gate and the run."""
    problems = _folder(values, "artifacts", must_exist=True)
    problems += _gate(values) + _bounded(values, "days", 0, 36_500) + _now(values)
    if not problems and values.get("run") != "latest":
        problems += _run(_root(values), "run", values.get("run"))
    return problems


def check_disk(values: Mapping[str, Any]) -> list[str]:
    """The ``disk`` report: the artifacts folder, the budget and the rotation policy."""
    return (_folder(values, "artifacts", must_exist=True)
            + _bounded(values, "budget_mb", 0, None, lo_open=True)
            + _bounded(values, "ttl_days", 0, 36_500)
            + _bounded(values, "keep_latest", 0, MAX_KEEP_LATEST) + _now(values))


def check_sweep(values: Mapping[str, Any]) -> list[str]:
    """The ``sweep`` report: the artifacts folder, the sweep, alpha, resamples and seed.

    The baseline and the metric name values of the sweep's results; the report checks them
    when it has read the results (a bad one is a one-line error from the kernel).
    """
    problems = (_folder(values, "artifacts", must_exist=True)
                + _bounded(values, "resamples", 100, None) + _bounded(values, "seed", 0, MAX_SEED))
    alpha = values.get("alpha")
    if alpha is not None and not 0 < alpha < 1:
        problems.append(f"{_label('alpha')} {alpha!r}: expected a value > 0 and < 1")
    if not problems and values.get("sweep") is not None:
        try:
            resolve_sweep_dir(_root(values), str(values["sweep"]))
        except SoakkitError as exc:
            problems.append(f"{_label('sweep')}: {exc}")
    return problems


#: Report name → its check (reports without one are checked by type only).
REPORT_CHECKS: Mapping[str, Checker] = {"soak": check_soak, "kpi": check_kpi,
                                        "disk": check_disk, "explore": check_explore,
                                        "sweep": check_sweep}


def report_problems(name: str, values: Mapping[str, Any]) -> list[str]:
    """Every problem with the (already type-cast) parameters of report ``name``."""
    check = REPORT_CHECKS.get(name)
    return check(values) if check is not None else []
