"""Artifact layout, file-name grammar and readers (``docs/ARTIFACTS.md``).

::

    <artifacts>/
      profiles/<name>.json              user profiles
      markets/<name>.json               market profiles written by ``soakkit calibrate``
      runs/<run_id>/
        RUN.json                        run metadata, resolved config, status, verdict
        ITER_SUMMARY_<n>.json           one per iteration, n from 1 (schema v1)
        TUNING_REPORT.json              one entry per iteration + guard summary
        runtime_overrides.json          the tuner's live values
        iterations.jsonl                the run's iteration log: every ITER_SUMMARY document
        iterations.parquet              the log as a table, written when the run ends
        iterations.jsonl.gz             legacy: history of ITER_SUMMARY files rotated before
                                        the log existed (read, never written)
        .run.lock                       held (flock) while the run is active
      latest -> runs/<run_id>           newest finished run
      rotation/                         rotation log, manifest, lock
      sweeps/<sweep_id>/                a sweep (soakkit.sweep): sweep.json, part-*.parquet,
                                        runs/ and profiles/ with --write-runs
      sweeps/latest -> <sweep_id>       newest finished sweep
      studies/<name>/                   a study of ``soakkit optimize``: study.json,
                                        journal.log (Optuna), trials/ and eval/ (parquet),
                                        result.json
      studies/latest -> <name>          newest finished study
      latest/ITER_SUMMARY_<n>.json      legacy layout (read, never written)
      snapshots/*.json                  legacy snapshots (rotated)

ITER_SUMMARY files may also be gzip-compressed in place (``.json.gz``) by rotation.

Where ``<artifacts>`` is when nobody says: :func:`resolve_artifacts` (the CLI, the Python
API and every notebook use it) takes ``$SOAKKIT_ARTIFACTS`` if set, else the nearest
``artifacts/soak`` found walking up from the working directory, so a notebook opened in
``notebooks/`` finds the repository's ``artifacts/soak``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from soakkit.core.errors import (
    READ_ERRORS,
    ArtifactError,
    JsonFormatError,
    UsageError,
    unreadable_reason,
)
from soakkit.core.inputs import check_user_path, show_value
from soakkit.core.io import fsync_dir
from soakkit.core.json_strict import loads_strict

__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULT_ARTIFACTS",
    "HISTORY_FILE",
    "ITER_LOG_FILE",
    "ITER_RE",
    "ITER_TABLE_FILE",
    "LATEST",
    "LOG_FILES",
    "MARKETS_DIR",
    "REPORT_INDEX_FILE",
    "RUNS_DIR",
    "RUN_FILE",
    "RUN_LOCK",
    "SCHEMA_DIR",
    "STUDIES_DIR",
    "STUDY_EVAL_DIR",
    "STUDY_FILE",
    "STUDY_JOURNAL",
    "STUDY_LOCK",
    "STUDY_RESULT",
    "STUDY_TRIALS_DIR",
    "SWEEPS_DIR",
    "SWEEP_FILE",
    "SWEEP_LOCK",
    "SWEEP_PART_RE",
    "TUNING_REPORT_FILE",
    "IterationFile",
    "iter_summary_name",
    "iter_summary_problems",
    "iteration_files",
    "list_runs",
    "market_profile_path",
    "parse_iteration",
    "point_latest",
    "read_history",
    "read_json_maybe_gz",
    "resolve_artifacts",
    "resolve_named_dir",
    "resolve_run_dir",
    "sweep_part_name",
    "update_latest",
]

#: Environment variable naming the artifacts root (wins over the search).
ARTIFACTS_ENV = "SOAKKIT_ARTIFACTS"
#: The artifacts root relative to a project folder (what the search looks for).
DEFAULT_ARTIFACTS = Path("artifacts/soak")
RUNS_DIR = "runs"
MARKETS_DIR = "markets"
RUN_FILE = "RUN.json"
TUNING_REPORT_FILE = "TUNING_REPORT.json"
RUN_LOCK = ".run.lock"
HISTORY_FILE = "iterations.jsonl.gz"
ITER_LOG_FILE = "iterations.jsonl"
ITER_TABLE_FILE = "iterations.parquet"
#: Files rotation never touches: they hold the content of the run's iterations.
LOG_FILES: frozenset[str] = frozenset({HISTORY_FILE, ITER_LOG_FILE, ITER_TABLE_FILE})
LATEST = "latest"
#: The browsable table of every report folder, at the root of a reports folder.
REPORT_INDEX_FILE = "index.html"
SWEEPS_DIR = "sweeps"
SWEEP_FILE = "sweep.json"
SWEEP_LOCK = ".sweep.lock"
#: One parquet file per batch of cells: ``part-<session>-<batch>.parquet``.
SWEEP_PART_RE = re.compile(r"^part-([0-9]{4,})-([0-9]{6,})\.parquet$")
#: Studies of ``soakkit optimize``: ``<artifacts>/studies/<name>/``.
STUDIES_DIR = "studies"
STUDY_FILE = "study.json"
STUDY_LOCK = ".study.lock"
#: Optuna's journal of the study's trials (``JournalStorage`` with a file backend).
STUDY_JOURNAL = "journal.log"
STUDY_RESULT = "result.json"
#: One parquet file per distinct configuration tried: its rows on the calibration markets.
STUDY_TRIALS_DIR = "trials"
#: One parquet file per configuration evaluated on the held-back markets.
STUDY_EVAL_DIR = "eval"
SCHEMA_DIR = Path(__file__).with_name("schemas")
ITER_SUMMARY_SCHEMA = SCHEMA_DIR / "iter_summary.v1.schema.json"
ITER_SCHEMA_VERSION = 1

#: Canonical ITER_SUMMARY names only: no leading zeros, at most 17 digits, optional .gz.
ITER_RE = re.compile(r"^ITER_SUMMARY_(0|[1-9][0-9]{0,16})\.json(\.gz)?$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MARKET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def iter_summary_name(n: int) -> str:
    """``ITER_SUMMARY_<n>.json``."""
    return f"ITER_SUMMARY_{n}.json"


def parse_iteration(name: str) -> int | None:
    """Iteration number of a canonical ITER_SUMMARY name (plain or .gz), else ``None``."""
    m = ITER_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def sweep_part_name(session: int, batch: int) -> str:
    """``part-0002-000017.parquet``: batch ``batch`` of the sweep's ``session``-th run."""
    return f"part-{session:04d}-{batch:06d}.parquet"


def resolve_artifacts(given: str | os.PathLike[str] | None = None, *, create: bool = False,
                      cwd: Path | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """The artifacts root: ``given``, else ``$SOAKKIT_ARTIFACTS``, else the nearest
    ``artifacts/soak`` in the working directory or one of its parents.

    Parameters
    ----------
    given
        An explicit root (a flag or a notebook parameter); returned as given.
    create
        For commands that write runs (``soakkit soak``, ``demo``): when nothing is found,
        ``artifacts/soak`` under the working directory (created by the writer).
    cwd, environ
        The working directory and environment to resolve from (default: the process's).

    Raises
    ------
    ArtifactError
        Nothing found (and ``create`` is false), ``$SOAKKIT_ARTIFACTS`` names no folder, or a
        path is empty or too long (an empty one never means "look elsewhere");
        the message says how to point at the artifacts.
    """
    if given is not None:
        if why := check_user_path(os.fspath(given)):  # "" would mean "look elsewhere"
            raise ArtifactError(f"artifacts folder: {why}")
        return Path(given)
    env = os.environ if environ is None else environ
    here = Path.cwd() if cwd is None else Path(cwd)
    named = env.get(ARTIFACTS_ENV)
    if named is not None and (why := check_user_path(named)):
        raise ArtifactError(f"{ARTIFACTS_ENV}={show_value(named)}: {why}; unset it or name "
                            "the artifacts folder")
    if named:
        root = here / Path(named).expanduser()  # an absolute value replaces ``here``
        if not create and not root.is_dir():
            raise ArtifactError(f"{ARTIFACTS_ENV}={named}: artifacts folder not found")
        return root
    # found right here, the root stays relative (short paths in messages, as typed)
    local = DEFAULT_ARTIFACTS if cwd is None else here / DEFAULT_ARTIFACTS
    if local.is_dir():
        return local
    for folder in here.parents:
        if (folder / DEFAULT_ARTIFACTS).is_dir():
            return folder / DEFAULT_ARTIFACTS
    if create:
        return local
    raise ArtifactError(f"no {DEFAULT_ARTIFACTS} in {here} or its parents: set "
                        f"{ARTIFACTS_ENV}=/path/to/artifacts/soak, or pass the folder "
                        "(--artifacts DIR, -p artifacts DIR, artifacts=...)")


def market_profile_path(artifacts: Path, name: str) -> Path:
    """``<artifacts>/markets/<name>.json``: where ``soakkit calibrate --name`` writes.

    ``name`` is a plain name (never a path that leaves ``markets/``); anything else is a
    :class:`UsageError`.
    """
    if not _MARKET_NAME_RE.fullmatch(name):
        raise UsageError(f"market name {name!r}: use 1-64 characters from A-Z, a-z, 0-9, '_', "
                         "'.' and '-', starting with a letter or digit")
    return Path(artifacts) / MARKETS_DIR / f"{name}.json"


def runs_root(artifacts: Path) -> Path:
    return Path(artifacts) / RUNS_DIR


def list_runs(artifacts: Path) -> list[Path]:
    """Run folders under ``<artifacts>/runs`` (real directories only), sorted by name."""
    root = runs_root(artifacts)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)
            and _RUN_ID_RE.fullmatch(e.name)]


def resolve_run_dir(artifacts: Path, run: str) -> Path:
    """The folder of run ``run`` (or ``latest``); a clear error lists what exists."""
    artifacts = Path(artifacts)
    if run == LATEST:
        link = artifacts / LATEST
        if link.is_symlink():
            target = link.resolve()
            if (target / RUN_FILE).exists():
                return target
        runs = list_runs(artifacts)
        if not runs:
            raise ArtifactError(f"no runs under {runs_root(artifacts)}")
        return runs[-1]
    if not _RUN_ID_RE.fullmatch(run):
        raise ArtifactError(f"invalid run id {run!r}")
    path = runs_root(artifacts) / run
    if not (path / RUN_FILE).is_file():
        known = [p.name for p in list_runs(artifacts)]
        hint = f"; known runs: {', '.join(known[-5:])}" if known else "; there are no runs"
        raise ArtifactError(f"unknown run id {run!r} under {runs_root(artifacts)}{hint}")
    return path


def point_latest(folder: Path) -> None:
    """Point ``latest`` beside ``folder`` (a sweep's, a study's) at it, atomically; a
    ``latest`` that is not a symlink is left alone."""
    link = Path(folder).parent / LATEST
    tmp = link.with_name(f".{LATEST}.{os.getpid()}.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    if link.exists() and not link.is_symlink():
        return
    os.symlink(Path(folder).name, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def resolve_named_dir(root: Path, name: str, marker: str, what: str) -> Path:
    """The folder ``root/name`` holding ``marker`` (``name`` may be ``latest``); an error
    lists the names that exist (``what``: "sweep", "study")."""
    path = Path(root) / name
    if (path / marker).is_file():
        return path.resolve() if name == LATEST else path
    try:
        known = sorted(n for n in os.listdir(root) if (Path(root) / n / marker).is_file()
                       and not (Path(root) / n).is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        known = []
    hint = f"; known: {', '.join(known[-8:])}" if known else f"; there is no {what}"
    raise ArtifactError(f"no {what} {name!r} under {root}{hint}")


def update_latest(artifacts: Path, run_id: str) -> str | None:
    """Point ``<artifacts>/latest`` at ``runs/<run_id>`` atomically.

    A legacy ``latest/`` *folder* is never replaced; the returned warning says so.
    """
    link = Path(artifacts) / LATEST
    if link.exists() and not link.is_symlink():
        return (f"{link} is a legacy folder, left untouched; `latest` was not updated "
                "(use --run to pick runs)")
    tmp = link.with_name(f".{LATEST}.{os.getpid()}.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(f"{RUNS_DIR}/{run_id}", tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)
    return None


def iter_summary_problems(doc: Any, iteration: int | None) -> list[str]:
    """Why an ``ITER_SUMMARY`` document cannot be used, one line each (empty: it can).

    A v1 document is checked against ``schemas/iter_summary.v1.schema.json`` (compiled once,
    :mod:`soakkit.core.schema`); a legacy one (no ``schema_version``) needs an object
    ``summary``. Either way its ``iteration`` must be the number in its file name.
    """
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    problems: list[str] = []
    if "schema_version" in doc:
        from soakkit.core.schema import schema_checker

        schema_checker(ITER_SUMMARY_SCHEMA)(doc, "$", problems)
    elif not isinstance(doc.get("summary"), dict):
        problems.append("$.summary: missing (not an ITER_SUMMARY)")
    number = doc.get("iteration")
    if iteration is not None and "iteration" in doc and (
            type(number) is not int or number != iteration):
        problems.append(f"$.iteration: {json.dumps(number)[:40]} does not match the file "
                        f"name (iteration {iteration})")
    return problems


def read_json_maybe_gz(path: Path) -> Any:
    """Read a JSON object from ``.json`` or ``.json.gz``; errors name the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except READ_ERRORS as exc:
        raise JsonFormatError(str(path), 0, 0, unreadable_reason(exc)) from None
    return loads_strict(raw, str(path))


class IterationFile(NamedTuple):
    """An ITER_SUMMARY file found in a folder."""

    iteration: int
    path: Path


def iteration_files(folder: Path) -> list[IterationFile]:
    """Canonical ITER_SUMMARY files of ``folder`` in numeric order (plain beats .gz)."""
    found: dict[int, IterationFile] = {}
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in sorted(entries, key=lambda e: e.name):
        n = parse_iteration(entry.name)
        if n is None or not entry.is_file(follow_symlinks=False):
            continue
        if n not in found or not entry.name.endswith(".gz"):
            found[n] = IterationFile(n, Path(entry.path))
    return [found[n] for n in sorted(found)]


def read_history(folder: Path) -> Iterator[dict[str, Any]]:
    """Records of a legacy ``iterations.jsonl.gz`` (ITER_SUMMARY files rotated before the
    iteration log existed; see :mod:`soakkit.artifacts.iterlog`)."""
    path = Path(folder) / HISTORY_FILE
    if not path.exists():
        return
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    except READ_ERRORS as exc:
        raise JsonFormatError(str(path), 0, 0, unreadable_reason(exc)) from None
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            yield loads_strict(line, f"{path}:{lineno}")
