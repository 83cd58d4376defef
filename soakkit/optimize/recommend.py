"""The recommendation as a profile file: ``<artifacts>/profiles/<study>.json``.

The profile holds the starting profile's values with the winner's over them, and a
``provenance`` object (``soakkit config show|explain`` print it): the study and its folder,
the trial, the starting profile and its sha256, the data (markets, seeds, windows, tape
digests), and the evidence (DSR, PBO, out-of-sample result, and the sha256 of the evidence
in ``result.json``). Profiles are immutable: a file of that name with other content is never
overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soakkit.config.params import ParamSpec, Value
from soakkit.config.profiles import PROFILE_SCHEMA_VERSION, load_profile, user_profiles_dir
from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import ConfigError, UsageError
from soakkit.core.io import atomic_write_bytes
from soakkit.core.json_canonical import canonical_json
from soakkit.core.json_strict import loads_strict

__all__ = ["TOOL", "check_profile_free", "profile_document", "profile_path", "write_profile"]

#: ``provenance.tool`` of a profile ``soakkit optimize`` wrote.
TOOL = "soakkit optimize"


def profile_path(artifacts: Path, study: str) -> Path:
    """Where study ``study``'s recommendation goes."""
    return user_profiles_dir(artifacts) / f"{study}.json"


def _provenance_of(path: Path) -> Mapping[str, Any] | None:
    try:
        doc = loads_strict(path.read_bytes(), str(path))
    except Exception:  # unreadable or not JSON: not ours either way
        return None
    prov = doc.get("provenance") if isinstance(doc, dict) else None
    return prov if isinstance(prov, dict) else None


def check_profile_free(artifacts: Path, study: str, trials: int) -> None:
    """Refuse (before any work) a study whose profile name another profile already holds,
    or whose own recommendation from another number of trials is written (extending the
    study could change it, and profiles are immutable)."""
    path = profile_path(artifacts, study)
    if not path.exists():
        return
    prov = _provenance_of(path)
    if prov is None or prov.get("tool") != TOOL or prov.get("study") != study:
        raise UsageError(f"--name {study}: {path} exists and was not written by this study; "
                         "the recommended profile takes the study's name, choose another")
    if prov.get("trials") != trials:
        raise UsageError(f"--trials {trials}: {path} holds this study's recommendation after "
                         f"{prov.get('trials')} trials and profiles are immutable; move it "
                         "away to extend the study, or add --write-profile never")


def profile_document(start: Mapping[str, Value], winner: Mapping[str, Value],
                     description: str, provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The profile: the starting values with the winner's over them (the engine's and the
    strategy's own parameters alike)."""
    return {"schema_version": PROFILE_SCHEMA_VERSION, "description": description,
            "params": {**start, **winner},
            "provenance": dict(provenance)}


def write_profile(artifacts: Path, study: str, doc: Mapping[str, Any],
                  mtime: float | None, known: Mapping[str, ParamSpec] | None = None
                  ) -> tuple[Path, str]:
    """Write the profile (unless the same bytes are there); returns its path and sha256.
    ``known``: the study's strategy's parameters (the profile may carry its own).

    Raises
    ------
    UsageError
        A profile of that name with other content exists (profiles are immutable).
    """
    path = profile_path(artifacts, study)
    data = canonical_json(doc).encode("utf-8")
    digest = sha256_bytes(data)
    if path.exists():
        if sha256_bytes(path.read_bytes()) == digest:
            return path, digest
        raise UsageError(f"{path} holds another recommendation (profiles are immutable: runs "
                         "record their sha256); move it away, or rerun with another --name")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data, mtime=mtime)
    try:
        load_profile(study, artifacts, known)
    except ConfigError as exc:  # pragma: no cover - the table bounds every value
        path.unlink()
        raise UsageError(f"{path}: the recommended profile does not load: {exc}") from None
    return path, digest
