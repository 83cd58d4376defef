"""Profiles: named, immutable parameter sets with a recorded sha256.

Built-in profiles (``steady_safe``, ``ultra_safe``, ``aggressive``) ship read-only inside
the package. Users add their own as ``<artifacts>/profiles/<name>.json``; a user file may
shadow a built-in of the same name, and provenance then names the user file and its hash.

File format: ``{"schema_version": 1, "description": "...", "params": {...}}``, and
optionally ``"provenance": {...}``: where the values came from (``soakkit optimize`` writes
its study, data and evidence digest there; ``soakkit config show|explain`` print it).
Metadata never mixes into ``params`` and unknown top-level keys are refused, so a legacy
profile with ``risk_limit`` or ``version`` next to its values is reported instead of
leaking in.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit.config.params import PARAMS, ParamSpec, Value, check_value
from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import ConfigError, JsonFormatError, Problem, did_you_mean
from soakkit.core.json_strict import loads_strict, read_limited

__all__ = [
    "BUILTIN_DIR",
    "PROFILE_NAME_RE",
    "PROFILE_SCHEMA_VERSION",
    "Profile",
    "ProfileInfo",
    "check_profile_name",
    "list_profiles",
    "load_profile",
    "parse_profile_document",
    "user_profiles_dir",
]

PROFILE_SCHEMA_VERSION = 1
PROFILE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
BUILTIN_DIR = Path(__file__).with_name("profiles")
_PROFILE_KEYS = frozenset({"schema_version", "description", "params", "provenance"})


@dataclass(frozen=True)
class Profile:
    """A loaded, validated profile and where it came from."""

    name: str
    description: str
    params: Mapping[str, Value]
    path: Path
    sha256: str
    builtin: bool
    #: where the values came from (a JSON object), when the file says
    provenance: Mapping[str, Any] | None = None

    @property
    def source(self) -> str:
        """Provenance label, e.g. ``profile:steady_safe``."""
        return f"profile:{self.name}"


@dataclass(frozen=True)
class ProfileInfo:
    """A profile as listed by ``soakkit config list-profiles``, and why it cannot be used."""

    name: str
    path: Path
    builtin: bool
    shadows_builtin: bool
    problems: tuple[str, ...] = ()  #: empty: the profile loads


def user_profiles_dir(artifacts: Path) -> Path:
    """``<artifacts>/profiles``: where users keep their own profiles."""
    return Path(artifacts) / "profiles"


def check_profile_name(name: str) -> str | None:
    """Why ``name`` is not a valid profile name, or ``None``; checked before any file access."""
    if not PROFILE_NAME_RE.fullmatch(name):
        shown = name if len(name) <= 40 else name[:37] + "..."
        return (f"invalid profile name {shown!r}: use 1-64 characters from a-z, 0-9, '_' "
                "and '-', starting with a letter or digit")
    return None


def _names_in(folder: Path) -> list[str]:
    try:
        entries = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = []
    for entry in entries:
        if entry.endswith(".json") and PROFILE_NAME_RE.fullmatch(entry[:-5]):
            names.append(entry[:-5])
    return names


def _user_folder(artifacts: Path) -> Path:
    """``<artifacts>/profiles``, which must be a folder of the artifacts, not a symlink to
    one elsewhere (a profile file may not leave its folder either)."""
    folder = user_profiles_dir(artifacts)
    if folder.is_symlink():
        raise _single("profiles", None, f"{folder} is a symlink to {folder.resolve()}; keep "
                      "user profiles in the artifacts folder itself")
    return folder


def list_profiles(artifacts: Path | None, *, check: bool = False) -> list[ProfileInfo]:
    """Every available profile: built-ins, then user profiles (sorted by name).

    ``check``: load each user profile and record its problems (a listing marks them).
    """
    builtin = _names_in(BUILTIN_DIR)
    infos = {n: ProfileInfo(n, BUILTIN_DIR / f"{n}.json", True, False) for n in builtin}
    if artifacts is not None:
        folder = _user_folder(artifacts)
        for n in _names_in(folder):
            infos[n] = ProfileInfo(n, folder / f"{n}.json", False, n in builtin,
                                   _problems(n, artifacts) if check else ())
    return [infos[n] for n in sorted(infos)]


def _problems(name: str, artifacts: Path) -> tuple[str, ...]:
    try:
        load_profile(name, artifacts)
    except ConfigError as exc:
        return tuple(f"{p.key}: {p.message}" if p.key else p.message for p in exc.problems)
    return ()


def _locate(name: str, artifacts: Path | None) -> tuple[Path, bool] | None:
    """The file for ``name`` (user profiles first) and whether it is built-in."""
    if artifacts is not None:
        folder = _user_folder(artifacts)
        candidate = folder / f"{name}.json"
        if os.path.lexists(candidate):
            return candidate, False
    builtin = BUILTIN_DIR / f"{name}.json"
    if builtin.exists():
        return builtin, True
    return None


def _read_profile_bytes(path: Path, source: str) -> bytes:
    """Read a profile file, refusing symlinks that leave its folder and non-regular files."""
    folder = path.parent.resolve()
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(folder):
            raise _single(source, None, f"{path} is a symlink to {target}, outside {folder}")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _single(source, None, f"{path} is a dangling symlink") from None
    if not stat.S_ISREG(st.st_mode):
        raise _single(source, None, f"{path} is not a regular file")
    try:
        return read_limited(path)
    except IsADirectoryError:
        raise _single(source, None, f"{path} is a folder, not a profile file") from None


def _single(source: str, key: str | None, message: str) -> ConfigError:
    return ConfigError([Problem("profile", source, key, message)])


def parse_profile_document(doc: Any, source: str, known: Mapping[str, ParamSpec] | None = None
                           ) -> tuple[str, dict[str, Value], list[Problem]]:
    """Validate a parsed profile document; returns description, params and problems.

    A profile may set any parameter of :data:`~soakkit.config.params.PARAMS` (every
    built-in strategy's) and of ``known`` (a strategy's declared parameters); a run takes
    those of its own strategy.
    """
    specs = {**PARAMS, **(known or {})}
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        return "", {}, [Problem("profile", source, None, "top level must be a JSON object")]
    for key in sorted(set(doc) - _PROFILE_KEYS):
        hint = " (parameters belong under \"params\")" if key in PARAMS else ""
        problems.append(Problem("profile", source, key,
                                f"unknown top-level key{hint}; expected schema_version, "
                                "description, params, provenance"))
    version = doc.get("schema_version")
    if version != PROFILE_SCHEMA_VERSION or type(version) is not int:
        newer = type(version) is int and version > PROFILE_SCHEMA_VERSION
        problems.append(Problem("profile", source, "schema_version",
                                f"expected the integer {PROFILE_SCHEMA_VERSION}, got {version!r}"
                                + (" (written by a newer soakkit)" if newer else "")))
    description = doc.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem("profile", source, "description", "must be a string"))
        description = ""
    if not isinstance(doc.get("provenance", {}), dict):
        problems.append(Problem("profile", source, "provenance", "must be a JSON object"))
    raw = doc.get("params")
    params: dict[str, Value] = {}
    if not isinstance(raw, dict):
        problems.append(Problem("profile", source, "params", "must be a JSON object"))
        return description, params, problems
    for key, value in raw.items():
        spec = specs.get(key)
        if spec is None:
            problems.append(Problem("profile", source, f"params.{key}",
                                    "unknown parameter" + did_you_mean(key, list(specs))))
            continue
        why = check_value(spec, value)
        if why:
            problems.append(Problem("profile", source, f"params.{key}", why))
        else:
            params[key] = value
    return description, params, problems


def load_profile(name: str, artifacts: Path | None,
                 known: Mapping[str, ParamSpec] | None = None) -> Profile:
    """Load and validate profile ``name``; raises :class:`ConfigError` on any problem.

    The name is checked before the filesystem is touched; a missing profile is an error
    that lists the available ones (there is no fallback profile). ``known``: parameters a
    strategy declares beyond :data:`~soakkit.config.params.PARAMS`.
    """
    source = f"profile:{name if len(name) <= 64 else name[:40] + '...'}"
    why = check_profile_name(name)
    if why:
        raise _single(source, None, why)
    located = _locate(name, artifacts)
    if located is None:
        available = ", ".join(info.name for info in list_profiles(artifacts)) or "none"
        raise _single(source, None, f"no such profile; available: {available}")
    path, builtin = located
    data = _read_profile_bytes(path, source)
    try:
        doc = loads_strict(data, str(path))
    except JsonFormatError as exc:
        raise _single(source, None, str(exc)) from None
    description, params, problems = parse_profile_document(doc, f"{source} {path}", known)
    if problems:
        raise ConfigError(problems)
    return Profile(name, description, params, path, sha256_bytes(data), builtin,
                   doc.get("provenance"))
