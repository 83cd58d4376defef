"""``soakkit config migrate``: convert the legacy toolkit's config files to soakkit's formats.

Legacy files under ``--artifacts`` (legacy brief §5):

==============================  ===========================================================
``steady_safe_overrides.json``  → user profile ``profiles/steady_safe.json``
``ultra_safe_overrides.json``   → user profile ``profiles/ultra_safe.json``
``steady_overrides.json``       → user profile ``profiles/steady.json`` (deprecated name kept)
``applied_profile.json``        → user profile named after its ``profile``/``name`` field
``profiles/<name>.json`` v0     → the same file in the v1 format (metadata split out)
``runtime_overrides.json`` v0   → ``runtime_overrides.json`` v1 (tunable keys only)
==============================  ===========================================================

The planner is pure: it reads the tree and returns steps with the new content and notes
(mapped legacy keys, dropped metadata, delta-as-value corruption). ``apply`` backs up every
file it replaces or removes, writes atomically, then removes legacy sources, so a crash
leaves a state the next run completes. A second run finds nothing to do. A profile that
would overwrite a *different* existing profile is a conflict: nothing is changed.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from soakkit.config.history import earlier_revision
from soakkit.config.params import LEGACY_PATHS, PARAMS, Value, check_value
from soakkit.config.profiles import (
    BUILTIN_DIR,
    PROFILE_NAME_RE,
    PROFILE_SCHEMA_VERSION,
    user_profiles_dir,
)
from soakkit.config.runtime import RUNTIME_FILE, RUNTIME_SCHEMA_VERSION
from soakkit.core.digests import sha256_bytes
from soakkit.core.errors import JsonFormatError, UsageError
from soakkit.core.io import Clock, atomic_write_bytes, format_utc, fsync_dir
from soakkit.core.json_canonical import canonical_json
from soakkit.core.json_strict import loads_strict, read_limited

__all__ = ["MigrationPlan", "MigrationStep", "apply_migration", "plan_migration"]

LEGACY_PROFILE_FILES: Mapping[str, str] = {
    "steady_safe_overrides.json": "steady_safe",
    "ultra_safe_overrides.json": "ultra_safe",
    "steady_overrides.json": "steady",
}
BACKUP_DIR = "migration-backup"
_METADATA_KEYS = frozenset({"schema_version", "description", "version", "name", "profile"})


@dataclass(frozen=True)
class MigrationStep:
    """One file-level change: write ``target`` (from ``source``), and/or remove ``source``."""

    source: Path
    target: Path | None
    old_text: str
    new_text: str | None
    remove_source: bool
    notes: tuple[str, ...]
    conflict: str | None = None
    profile: str | None = None  #: the profile this source becomes (legacy profile sources)
    params: Mapping[str, Value] | None = None  #: the values it carries

    @property
    def kind(self) -> str:
        if self.conflict:
            return "conflict"
        if self.target is None:
            return "remove"
        return "convert"


@dataclass(frozen=True)
class MigrationPlan:
    """Everything ``migrate`` would do, in a stable order."""

    root: Path
    steps: tuple[MigrationStep, ...]
    errors: tuple[str, ...] = field(default=())

    @property
    def conflicts(self) -> tuple[MigrationStep, ...]:
        return tuple(s for s in self.steps if s.conflict)

    def problems(self) -> list[str]:
        """Every error and conflict, one line each (why the plan is refused)."""
        return [*self.errors, *(f"conflict: {os.path.relpath(s.source, self.root)}: "
                                f"{s.conflict}" for s in self.conflicts)]

    def render(self) -> str:
        """The plan as text: notes and a unified diff per file (problems: :meth:`problems`)."""
        if not self.steps and not self.errors:
            return f"nothing to migrate under {self.root}\n"
        lines: list[str] = []
        for step in self.steps:
            rel_src = os.path.relpath(step.source, self.root)
            if step.conflict:
                continue
            if step.target is not None and step.new_text is not None:
                rel_dst = os.path.relpath(step.target, self.root)
                old = step.old_text if step.target == step.source else _read_text(step.target)
                lines.append(f"convert {rel_src} -> {rel_dst}\n")
                lines.extend(difflib.unified_diff(
                    old.splitlines(keepends=True), step.new_text.splitlines(keepends=True),
                    fromfile=f"a/{rel_dst}", tofile=f"b/{rel_dst}"))
            if step.remove_source:
                lines.append(f"remove {rel_src} (backed up first)\n")
            lines.extend(f"  note: {note}\n" for note in step.notes)
        return "".join(lines)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, path + ".")
        else:
            out.append((path, value))
    return out


def _extract_params(doc: Mapping[str, Any], *, tunable_only: bool,
                    notes: list[str], errors: list[str], where: str) -> dict[str, Value]:
    """Map a legacy document's keys to flat parameters; record every decision in ``notes``."""
    body = doc.get("params", doc) if isinstance(doc.get("params"), dict) else doc
    flat_values: dict[str, Value] = {}
    nested: list[tuple[str, str, Any]] = []
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("_") or key in _METADATA_KEYS:
            notes.append(f"dropped metadata {key!r} (kept out of params)")
        else:
            kept[key] = value
    for path, value in _flatten(kept):
        if path in PARAMS:
            flat_values[path] = value
        elif path in LEGACY_PATHS:
            nested.append((path, LEGACY_PATHS[path], value))
        else:
            notes.append(f"dropped {path!r}: not a soakkit parameter")
    for path, name, value in nested:
        if name in flat_values:
            if flat_values[name] != value:
                notes.append(f"dropped nested {path}={value!r}: a delta written as a value "
                             f"(legacy bug); flat {name}={flat_values[name]!r} kept")
            continue
        spec = PARAMS[name]
        if check_value(spec, value) is not None:
            notes.append(f"dropped nested {path}={value!r}: {check_value(spec, value)} "
                         "(likely a delta written as a value)")
            continue
        notes.append(f"mapped legacy {path} -> {name}")
        flat_values[name] = value
    result: dict[str, Value] = {}
    for name, value in flat_values.items():
        spec = PARAMS[name]
        if tunable_only and not spec.tunable:
            notes.append(f"dropped {name}: not tunable, cannot live in runtime overrides")
            continue
        why = check_value(spec, value)
        if why:
            errors.append(f"{where}: {name}: {why}; fix the value or remove the key")
            continue
        result[name] = value
    return dict(sorted(result.items()))


def _profile_text(description: str, params: Mapping[str, Value]) -> str:
    return canonical_json({"schema_version": PROFILE_SCHEMA_VERSION,
                           "description": description, "params": dict(params)})


def _load(path: Path, errors: list[str], *, current: int | None = None) -> dict[str, Any] | None:
    """A legacy document, or ``None`` (with the reason in ``errors``).

    A legacy (v0) file has no ``schema_version``; ``current`` is the version soakkit
    writes for this kind of file. Any other ``schema_version`` (a newer soakkit's file,
    ``1.0``, ``"1"``) is refused: a migration never downgrades a file it does not know.
    """
    try:
        doc = loads_strict(read_limited(path), str(path))
    except (JsonFormatError, FileNotFoundError, IsADirectoryError) as exc:
        errors.append(str(exc) if isinstance(exc, JsonFormatError) else f"{path}: unreadable")
        return None
    assert isinstance(doc, dict)
    version = doc.get("schema_version", None)
    known = version is None or (type(version) is int and version in (0, current))
    if not known:
        newer = type(version) is int and version > (current or 0)
        errors.append(f"{path}: schema_version {version!r} is not a version this soakkit "
                      f"migrates{' (written by a newer soakkit)' if newer else ''}; refusing "
                      "to rewrite it")
        return None
    return doc


def _builtin_params(name: str) -> dict[str, Any] | None:
    path = BUILTIN_DIR / f"{name}.json"
    if not path.exists():
        return None
    doc = loads_strict(path.read_bytes(), str(path))
    params = doc.get("params")
    return params if isinstance(params, dict) else None


def _profile_step(source: Path, name: str, params: dict[str, Value], description: str,
                  notes: list[str], root: Path, remove_source: bool) -> MigrationStep:
    old_text = _read_text(source)
    target = user_profiles_dir(root) / f"{name}.json"
    new_text = _profile_text(description, params)
    builtin = _builtin_params(name)
    mine: dict[str, Any] = {"profile": name, "params": dict(params)}
    if builtin is not None and all(builtin.get(k) == v for k, v in params.items()):
        notes.append(f"values equal the built-in profile {name!r}: no user profile written")
        return MigrationStep(source, None, old_text, None, True, tuple(notes), **mine)
    if target.exists() and target != source:
        existing = _read_text(target)
        if existing == new_text:
            notes.append(f"profiles/{name}.json already holds these values")
            return MigrationStep(source, None, old_text, None, True, tuple(notes), **mine)
        return MigrationStep(source, target, old_text, new_text, False, tuple(notes),
                             conflict=f"profiles/{name}.json exists with different values; "
                                      "refusing to overwrite it", **mine)
    earlier = earlier_revision(name, params)
    if earlier is not None:
        notes.append(f"values equal the built-in profile {name!r} as it was until "
                     f"{earlier.until} ({earlier.revision}); kept as a user profile so runs "
                     f"behave as before; remove profiles/{name}.json to use today's built-in "
                     f"(re-tuned: {earlier.reason})")
    elif builtin is not None:
        notes.append(f"user profile {name!r} will shadow the built-in profile of that name")
    return MigrationStep(source, target, old_text, new_text, remove_source, tuple(notes),
                         **mine)


def _one_source_per_profile(steps: list[MigrationStep], root: Path) -> list[MigrationStep]:
    """Two legacy sources of one profile: the same values are merged, different ones conflict.

    Nothing is silently overwritten: every source of a conflicting profile is listed, with
    the values that differ.
    """
    by_profile: dict[str, list[MigrationStep]] = {}
    for step in steps:
        if step.profile is not None:
            by_profile.setdefault(step.profile, []).append(step)
    out: list[MigrationStep] = []
    for step in steps:
        group = by_profile.get(step.profile or "", [step])
        if step.profile is None or len(group) == 1:
            out.append(step)
            continue
        first = group[0]
        if all(s.params == first.params for s in group):
            if step is first:
                out.append(step)
            else:
                out.append(replace(step, target=None, new_text=None, remove_source=True,
                                   notes=(*step.notes, f"same values as "
                                          f"{os.path.relpath(first.source, root)}")))
            continue
        names = [os.path.relpath(s.source, root) for s in group]
        differ = sorted({k for s in group for k in (s.params or {})
                         if len({repr((t.params or {}).get(k)) for t in group}) > 1})
        shown = "; ".join(f"{n}: " + ", ".join(f"{k}={(s.params or {}).get(k)!r}"
                                               for k in differ) for n, s in zip(names, group,
                                                                                strict=True))
        out.append(replace(step, conflict=f"{len(group)} legacy files map to profile "
                           f"{step.profile!r} with different values ({shown}); keep one, "
                           "move the other out of the folder, and migrate again"))
    return out


def plan_migration(root: Path, *, base_profile: str = "steady_safe") -> MigrationPlan:
    """Plan the migration of the legacy files under ``root`` (pure: reads only)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"--artifacts {root}: not a folder" + (
            "" if root.exists() else " (it does not exist)"))
    steps: list[MigrationStep] = []
    errors: list[str] = []
    for filename, name in LEGACY_PROFILE_FILES.items():
        source = root / filename
        if not source.is_file():
            continue
        notes: list[str] = [] if name != "steady" else [
            "steady_overrides.json was deprecated; its values are kept as profile 'steady'"]
        doc = _load(source, errors)
        if doc is None:
            continue
        params = _extract_params(doc, tunable_only=False, notes=notes, errors=errors,
                                 where=filename)
        steps.append(_profile_step(source, name, params, f"Migrated from legacy {filename}.",
                                   notes, root, remove_source=True))
    applied = root / "applied_profile.json"
    if applied.is_file() and (doc := _load(applied, errors)) is not None:
        notes = []
        raw_name = str(doc.get("profile") or doc.get("name") or "applied").lower()
        name = raw_name if PROFILE_NAME_RE.fullmatch(raw_name) else "applied"
        if name != raw_name:
            notes.append(f"profile name {raw_name!r} is not valid; using 'applied'")
        params = _extract_params(doc, tunable_only=False, notes=notes, errors=errors,
                                 where=applied.name)
        steps.append(_profile_step(applied, name, params,
                                   "Migrated from legacy applied_profile.json.", notes, root,
                                   remove_source=True))
    folder = user_profiles_dir(root)
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if entry.is_symlink() or not PROFILE_NAME_RE.fullmatch(entry.stem):
            continue
        doc = _load(entry, errors, current=PROFILE_SCHEMA_VERSION)
        if doc is None or doc.get("schema_version") == PROFILE_SCHEMA_VERSION:
            continue
        notes = []
        params = _extract_params(doc, tunable_only=False, notes=notes, errors=errors,
                                 where=f"profiles/{entry.name}")
        desc = doc.get("description") if isinstance(doc.get("description"), str) else ""
        new_text = _profile_text(desc or f"Migrated from legacy profiles/{entry.name}.", params)
        steps.append(MigrationStep(entry, entry, _read_text(entry), new_text, False,
                                   tuple(notes)))
    runtime = root / RUNTIME_FILE
    if runtime.is_file() and (doc := _load(runtime, errors, current=RUNTIME_SCHEMA_VERSION)) \
            is not None and doc.get("schema_version") != RUNTIME_SCHEMA_VERSION:
        notes = []
        values = _extract_params(doc, tunable_only=True, notes=notes, errors=errors,
                                 where=RUNTIME_FILE)
        base = _builtin_params(base_profile) if PROFILE_NAME_RE.fullmatch(base_profile) else None
        written = next((st.new_text for st in steps if st.profile == base_profile
                        and st.new_text is not None and st.target is not None), None)
        if base is None:
            errors.append(f"--base-profile {base_profile!r} is not a built-in profile")
        else:
            # the profile the runtime file will resolve against: one this migration writes
            # (it shadows the built-in), else the built-in
            base_bytes = (written.encode("utf-8") if written is not None
                          else (BUILTIN_DIR / f"{base_profile}.json").read_bytes())
            new = {"schema_version": RUNTIME_SCHEMA_VERSION, "revision": 0,
                   "base_profile": base_profile, "base_profile_sha256": sha256_bytes(base_bytes),
                   "values": values, "applied": None}
            notes.append(f"base profile set to {base_profile!r} (--base-profile)")
            steps.append(MigrationStep(runtime, runtime, _read_text(runtime),
                                       canonical_json(new), False, tuple(notes)))
    return MigrationPlan(root, tuple(_one_source_per_profile(steps, root)), tuple(errors))


def apply_migration(plan: MigrationPlan, clock: Clock) -> Path | None:
    """Carry out ``plan``: back up, write atomically, then remove legacy sources.

    Returns the backup folder (``None`` when there was nothing to do). Refuses (raises
    :class:`UsageError`) when the plan has errors or conflicts, before changing anything.
    """
    if plan.errors or plan.conflicts:
        raise UsageError("\n".join(["migration refused, nothing changed:", *plan.problems()]))
    if not plan.steps:
        return None
    stamp = format_utc(clock.now()).replace(":", "").replace(".", "")
    backup = plan.root / BACKUP_DIR / stamp
    backup.mkdir(parents=True, exist_ok=True)
    for step in plan.steps:  # 1. back up everything that will be replaced or removed
        touched = {step.source} if step.target is None else {step.source, step.target}
        for path in sorted(touched):
            if path.exists():
                dest = backup / os.path.relpath(path, plan.root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(dest, path.read_bytes())
    for step in plan.steps:  # 2. write new files
        if step.target is not None and step.new_text is not None:
            step.target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(step.target, step.new_text.encode("utf-8"))
    for step in plan.steps:  # 3. remove legacy sources
        if step.remove_source and step.source.exists():
            step.source.unlink()
            fsync_dir(step.source.parent)
    return backup

