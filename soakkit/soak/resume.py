"""Resuming a soak run: reopen its folder where the files say it stopped.

:func:`reopen_run` reads ``RUN.json``, ``TUNING_REPORT.json`` and the iterations' files,
checks them (a damaged file is a clear error, never a guess) and refuses a resume that
would change the run's options or lose its tuned values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soakkit.artifacts.layout import (
    RUN_FILE,
    TUNING_REPORT_FILE,
    iter_summary_name,
    iteration_files,
    read_json_maybe_gz,
    resolve_run_dir,
)
from soakkit.config.runtime import RUNTIME_FILE
from soakkit.core.errors import ArtifactError, UsageError
from soakkit.core.io import Clock
from soakkit.gate import Verdict
from soakkit.soak.iteration import Session
from soakkit.soak.options import RECORDED_DEFAULTS, SoakOptions, resume_conflicts
from soakkit.soak.rundir import RunFolder

__all__ = ["reopen_run"]

_OPTION_FIELDS = {"profile": str, "iterations": int, "mode": str, "seed": int,
                  "sim_minutes": int, "gate": str, "sets": list, "tune": bool}


def _recorded_options(meta: Any, where: Path) -> dict[str, Any]:
    """The options a run recorded in ``RUN.json``, checked (a damaged file is a clear error)."""
    options = meta.get("options") if isinstance(meta, dict) else None
    bad = [] if isinstance(options, dict) else ["options"]
    if not bad:
        assert isinstance(options, dict)
        bad = [f"options.{k}" for k, kind in _OPTION_FIELDS.items()
               if not isinstance(options.get(k), kind)
               or (kind is int and isinstance(options.get(k), bool))]
    if bad or not isinstance(meta.get("profile"), dict) \
            or not isinstance(meta["profile"].get("sha256"), str):
        raise ArtifactError(f"{where}: not a soak run's RUN.json (missing or invalid: "
                            f"{', '.join(bad) or 'profile.sha256'}); cannot resume it")
    assert isinstance(options, dict)
    return options


def reopen_run(artifacts: Path, run_id: str, env: Mapping[str, str], clock: Clock,
               requested: Mapping[str, Any]) -> RunFolder:
    """Run ``run_id`` reopened to continue after its last complete iteration."""
    run_dir = resolve_run_dir(artifacts, run_id)
    meta = read_json_maybe_gz(run_dir / RUN_FILE)
    o = _recorded_options(meta, run_dir / RUN_FILE)
    if meta.get("status") == "finished":
        raise UsageError(f"run {run_id} already finished; nothing to resume")
    conflicts = resume_conflicts(run_id, o, requested)
    if conflicts:
        raise UsageError("\n".join(conflicts))
    replayed = o.get("market_data")
    options = SoakOptions(profile=o["profile"], iterations=o["iterations"], mode=o["mode"],
                          seed=o["seed"], sim_minutes=o["sim_minutes"], gate=o["gate"],
                          sets=tuple(o["sets"]), artifacts=Path(artifacts), tune=o["tune"],
                          market=str(o.get("market", "default")),
                          market_data=Path(replayed) if replayed else None,
                          strategy=str(o.get("strategy", RECORDED_DEFAULTS["strategy"])),
                          baseline=meta.get("baseline") if isinstance(meta.get("baseline"),
                                                                       str) else None)
    report = read_json_maybe_gz(run_dir / TUNING_REPORT_FILE)
    have = {f.iteration for f in iteration_files(run_dir)}
    entries = [e for e in report.get("iterations", []) if e["iteration"] in have]
    done = 0
    while done + 1 in have and any(e["iteration"] == done + 1 for e in entries):
        done += 1
    entries = [e for e in entries if e["iteration"] <= done]
    verdicts = []
    revision = -1
    for e in entries:
        path = run_dir / iter_summary_name(e["iteration"])
        doc = read_json_maybe_gz(path)
        try:
            g = doc["gate"]
            verdicts.append((e["iteration"], Verdict(g["verdict"], tuple(g["reasons"]),
                                                     g["gate"], g["phase"])))
            revision = max(revision, int(doc["tuning"]["apply"]["revision"]))
        except (KeyError, TypeError, ValueError):
            raise ArtifactError(f"{path}: not a valid ITER_SUMMARY (gate or tuning.apply "
                                "missing); cannot resume the run") from None
    meta["status"] = "running"
    meta["iterations_done"] = done
    session = Session(options, meta["run_id"], clock, env, meta["profile"]["sha256"],
                      entries, verdicts)
    run = RunFolder(session, run_dir, meta, [])
    _check_revision(run, revision, done)
    return run


def _check_revision(run: RunFolder, recorded: int, done: int) -> None:
    """Refuse to resume when ``runtime_overrides.json`` went back behind what the run recorded."""
    if recorded < 0:
        return
    current = run.store().read().revision
    if current < recorded:
        raise UsageError(
            f"{run.run_dir / RUNTIME_FILE}: revision {current} is behind revision {recorded} "
            f"that iteration {done} recorded (the file was restored or replaced); resuming "
            "would drop the tuned values, so the run is not resumed")
