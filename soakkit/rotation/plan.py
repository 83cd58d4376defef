"""The pure planner: one scanned directory plus one captured ``now`` → a decision per entry.

Every entry gets exactly one decision with a reason a person can read, in the spirit of
restic's ``forget``: ``keep:latest(rank=3/100)``, ``delete:beyond_keep_latest(rank=101/100)``,
``compress:older_than_ttl(age_d=9.2)``, ``keep:younger_than_ttl(age_d=1.0)``,
``keep:active_run``, ``skip:symlink``, ``skip:not_regular``, ``keep:future_mtime(...)``…

Rules, in order (the first that applies decides):

1. symlinks are skipped (never followed); other non-regular files are skipped; a folder on
   another filesystem is skipped and not entered;
2. protected files are kept: everything under ``rotation/``, ``profiles/`` and ``sweeps/``,
   everything in a run whose ``.run.lock`` is held (the active run), and
   ``runtime_overrides.json``, ``RUN.json``, ``TUNING_REPORT.json`` and the iteration log
   files (``iterations.jsonl``, ``iterations.parquet``, a legacy ``iterations.jsonl.gz``)
   anywhere;
3. rotation's leftovers are recovered: ``.<name>.soakkit-tmp`` is removed; other hidden
   files (locks, other writers' temp files) are kept; ``X`` next to ``X.gz`` is the tail of an
   interrupted compression and is finished (once ``X.gz`` is verified to hold ``X``);
4. files with several hard links and files on another filesystem are skipped;
5. ``ITER_SUMMARY_<n>.json`` (or ``.json.gz``) files of a folder are ranked by ``n``
   (numerically, never by mtime): the ``keep_latest`` highest are kept, the rest deleted
   (once the folder's iteration log ``iterations.jsonl`` holds their exact content);
   a name that does not parse (``ITER_SUMMARY_007.json``, ``.json.bak``) is never deleted;
6. already-compressed and empty files are kept; a file whose mtime is more than
   5 minutes in the future is kept;
7. a file at least ``ttl_days`` old (age = now − mtime, inclusive) is compressed in place;
   younger files are kept.

The planner reads nothing from disk: everything it needs is in the :class:`DirScan`.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from soakkit.artifacts.layout import ITER_RE, LOG_FILES
from soakkit.rotation.actions import Action, action_entry, action_lines
from soakkit.rotation.policy import (
    FUTURE_TOLERANCE_S,
    PROTECTED_NAMES,
    TMP_SUFFIX,
    RotationPolicy,
)

__all__ = ["INODES", "PHASES", "Decision", "DirPlan", "DirScan", "inode", "plan_directory",
           "stored_inode"]

#: Inodes are unsigned 64-bit numbers: the scan keeps one of 2**63 or more in its int64
#: table as its two's complement (:func:`inode` reads it back; some file systems number so).
INODES = 2**64
# entry kinds
FILE, DIR, SYMLINK, OTHER, OTHER_DEVICE = 0, 1, 2, 3, 4
# verbs
KEEP, DELETE, COMPRESS, SKIP, RECOVER = 0, 1, 2, 3, 4
VERBS = ("keep", "delete", "compress", "skip", "recover")
# reasons: code → (phase, template)
REASONS: tuple[tuple[str, str], ...] = (
    ("keep", "keep:latest(rank={rank}/{keep})"),  # 0
    ("delete", "delete:beyond_keep_latest(rank={rank}/{keep})"),  # 1
    ("compress", "compress:older_than_ttl(age_d={age_d:.1f})"),  # 2
    ("keep", "keep:younger_than_ttl(age_d={age_d:.1f})"),  # 3
    ("keep", "keep:active_run"),  # 4
    ("skip", "skip:symlink"),  # 5
    ("skip", "skip:not_regular"),  # 6
    ("skip", "skip:multi_link(nlink={nlink})"),  # 7
    ("skip", "skip:other_device"),  # 8
    ("keep", "keep:future_mtime(ahead_s={ahead_s:.0f})"),  # 9
    ("keep", "keep:protected"),  # 10
    ("keep", "keep:protected_dir"),  # 11
    ("keep", "keep:hidden"),  # 12
    ("keep", "keep:already_compressed"),  # 13
    ("keep", "keep:empty"),  # 14
    ("recover", "recover:remove_stale_temp"),  # 15
    ("recover", "recover:finish_compression"),  # 16
    ("budget", "delete:over_budget(oldest_compressed)"),  # 17
    ("keep", "keep:name_too_long_to_compress"),  # 18
)
#: The reasons that have no fields, as text (the others are formatted per row).
_FIXED: tuple[str | None, ...] = tuple(None if "{" in t else t for _, t in REASONS)
_AGELESS = frozenset(k for k, (_, t) in enumerate(REASONS) if "{" in t and "age" not in t
                     and "ahead" not in t)
(R_LATEST, R_BEYOND, R_OLD, R_YOUNG, R_ACTIVE, R_SYMLINK, R_NOT_REGULAR, R_MULTI_LINK,
 R_OTHER_DEVICE, R_FUTURE, R_PROTECTED, R_PROTECTED_DIR, R_HIDDEN, R_COMPRESSED, R_EMPTY,
 R_TEMP, R_FINISH, R_BUDGET, R_NAME_TOO_LONG) = range(len(REASONS))
NAME_MAX = 255  # bytes; a compressed copy needs room for its extension
#: Order of phases in logs and execution.
PHASES = ("recover", "history", "delete", "compress", "budget", "skip", "keep")
COMPRESSED_SUFFIXES = (".gz", ".zst")
_VERB_TEXT = np.array(VERBS, dtype=object)
_PHASE_OF = np.array([PHASES.index(phase) for phase, _ in REASONS], dtype=np.int8)


@dataclass
class DirScan:
    """One folder's entries, as read by the scanner (arrays aligned per entry)."""

    rel: str  #: path relative to the root, POSIX, "" for the root itself
    names: list[str]
    kind: np.ndarray
    size: np.ndarray
    blocks: np.ndarray
    mtime_ns: np.ndarray
    nlink: np.ndarray
    ino: np.ndarray
    active: bool = False  #: inside a run whose .run.lock is held
    protected: bool = False  #: inside rotation/ or profiles/


@dataclass(frozen=True)
class Decision:
    """One readable decision (materialised from a :class:`DirPlan` row)."""

    phase: str
    verb: str
    path: str
    reason: str
    size: int
    blocks: int
    mtime_ns: int
    ino: int
    iteration: int | None

    def to_json(self) -> dict[str, Any]:
        return action_entry(self.phase, self.verb, self.path, self.reason, self.size)


def stored_inode(ino: int) -> int:
    """``ino`` as a scan's int64 ``ino`` column keeps it (:data:`INODES`)."""
    return ino - INODES if ino >= INODES // 2 else ino


def inode(value: int | np.integer[Any]) -> int:
    """The inode a value of a scan's ``ino`` column stands for (:func:`stored_inode`)."""
    return int(value) % INODES


def _reason(code: int, rank: int, keep: int, age_s: float, nlink: int) -> str:
    """The readable reason of a row (:data:`REASONS` with the row's numbers)."""
    text = _FIXED[code]
    if text is not None:
        return text
    if code in _AGELESS:  # the same few texts in every folder: formatted once
        return _ageless_reason(code, rank, keep, nlink)
    return REASONS[code][1].format(rank=rank, keep=keep, age_d=age_s / 86_400.0,
                                   ahead_s=-age_s, nlink=nlink)


@functools.lru_cache(maxsize=1 << 14)
def _ageless_reason(code: int, rank: int, keep: int, nlink: int) -> str:
    return REASONS[code][1].format(rank=rank, keep=keep, nlink=nlink)


@functools.lru_cache(maxsize=64)
def _rank_texts(code: int, keep: int, size: int) -> np.ndarray:
    """The reasons ``code`` gives ranks ``0 … size-1`` under ``keep``, indexable by rank."""
    template = REASONS[code][1]
    return np.array([template.format(rank=rank, keep=keep) for rank in range(size)],
                    dtype=object)


def _distinct_codes(codes: np.ndarray) -> list[int]:
    """The distinct values of small non-negative codes (verbs, reasons, phases), ascending.

    ``np.unique`` would do, but its first call imports ``numpy.ma`` (~10 ms of a dry run).
    """
    return np.flatnonzero(np.bincount(codes)).tolist() if codes.size else []


def _ascending_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending (``np.unique`` without importing ``numpy.ma``)."""
    ordered = np.sort(values)
    if not ordered.size:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


@dataclass
class DirPlan:
    """The planner's decisions for one folder, as arrays in output order."""

    rel: str
    names: list[str]
    kind: np.ndarray
    verb: np.ndarray
    reason: np.ndarray
    rank: np.ndarray
    iteration: np.ndarray  #: -1 when the name is not a canonical ITER_SUMMARY
    age_s: np.ndarray
    size: np.ndarray
    blocks: np.ndarray
    mtime_ns: np.ndarray
    nlink: np.ndarray
    ino: np.ndarray
    keep_latest: int
    _order: list[int] | None = field(default=None, repr=False)
    _rendered: dict[str, str] | None = field(default=None, repr=False)

    @property
    def order(self) -> list[int]:
        """Row indices in output order: ITER_SUMMARY by number, then other names (by name)."""
        if self._order is None:
            numbers = np.where(self.iteration >= 0, self.iteration, np.iinfo(np.int64).max)
            order = np.argsort(numbers, kind="stable")
            ranked = numbers[order]
            if (ranked[1:] == ranked[:-1]).any():  # ties (other names, X.json + X.json.gz)
                by_name = np.array(sorted(range(len(self.names)), key=self.names.__getitem__),
                                   dtype=np.int64)
                order = by_name[np.argsort(numbers[by_name], kind="stable")]
            self._order = order.tolist()
        return self._order

    def path(self, i: int) -> str:
        return f"{self.rel}/{self.names[i]}" if self.rel else self.names[i]

    def decision(self, i: int) -> Decision:
        code = int(self.reason[i])
        n = int(self.iteration[i])
        reason = _reason(code, int(self.rank[i]), self.keep_latest, float(self.age_s[i]),
                         int(self.nlink[i]))
        return Decision(REASONS[code][0], VERBS[int(self.verb[i])], self.path(i), reason,
                        int(self.size[i]), int(self.blocks[i]), int(self.mtime_ns[i]),
                        inode(self.ino[i]), n if n >= 0 else None)

    def _by_phase(self) -> Iterator[tuple[str, str, np.ndarray, list[str]]]:
        """(phase, verb, rows, reasons) of the rows that are not kept, phase by phase, each
        in output order (a phase has one verb: ``budget`` deletes, the others are theirs)."""
        order = np.asarray(self.order, dtype=np.int64)
        rows = order[self.verb[order] != KEEP]
        if not rows.size:
            return
        codes = self.reason[rows]
        reasons = np.empty(rows.size, dtype=object)
        for code in _distinct_codes(codes):
            at = np.flatnonzero(codes == code)
            reasons[at] = self._reasons(code, rows[at])
        phases = _PHASE_OF[codes]
        for phase_index in _distinct_codes(phases):
            at = np.flatnonzero(phases == phase_index)
            yield (PHASES[phase_index], VERBS[int(self.verb[rows[at[0]]])], rows[at],
                   reasons[at].tolist())

    def _paths(self, rows: np.ndarray) -> list[str]:
        prefix = f"{self.rel}/" if self.rel else ""
        return [prefix + name for name in map(self.names.__getitem__, rows.tolist())]

    def acting(self) -> dict[str, list[Action]]:
        """Phase → (phase, verb, path, reason, bytes) of every row that is not kept, in
        output order, built from the arrays in bulk (what ``--dry-run`` prints and the log
        records for 200,000 files; :meth:`decision` is the same, one row at a time)."""
        return {phase: list(zip(itertools.repeat(phase), itertools.repeat(verb),
                                self._paths(rows), reasons, self.size[rows].tolist()))
                for phase, verb, rows, reasons in self._by_phase()}

    def tally(self) -> Iterator[tuple[str, str, str, int, int]]:
        """(phase, verb, reason kind, files, bytes) of the rows that are not kept, by phase
        and reason code (what a dry run's summary prints; no per-row text is made)."""
        acting = self.verb != KEEP
        if not acting.any():
            return
        codes = self.reason[acting]
        sizes = self.size[acting]
        for code in sorted(_distinct_codes(codes), key=lambda c: (_PHASE_OF[c], c)):
            at = codes == code
            yield (REASONS[code][0], VERBS[int(self.verb[acting][at][0])],
                   REASONS[code][1].split("(")[0], int(at.sum()), int(sizes[at].sum()))

    def render_dry_run(self) -> dict[str, str]:
        """Phase → the dry-run lines of this folder's actions (:func:`action_lines`); made
        once (the scan's processes make them while they plan, see :func:`plan_directory`)
        until :meth:`changed`."""
        if self._rendered is None:
            self._rendered = {phase: action_lines(f"would {verb}", self._paths(rows), reasons)
                              for phase, verb, rows, reasons in self._by_phase()}
        return self._rendered

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a scan process sends its folders' plans to the parent) with the names as
        one string (~20× faster to pickle and load than a list); the order is recomputed
        when needed."""
        state = dict(self.__dict__, _order=None)
        state["names"] = "\0".join(self.names)  # "\0" cannot occur in a file name
        state["_count"] = len(self.names)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        count = state.pop("_count")
        state["names"] = state["names"].split("\0") if count else []
        self.__dict__.update(state)

    def changed(self) -> None:
        """Say that a decision was changed after planning (the rendered lines are stale)."""
        self._rendered = None

    def _reasons(self, code: int, rows: np.ndarray) -> list[str]:
        """The readable reasons of ``rows``, which all have reason ``code``."""
        fixed = _FIXED[code]
        if fixed is not None:
            return [fixed] * rows.size
        if code in (R_LATEST, R_BEYOND):  # the same texts in every folder: looked up
            ranks = self.rank[rows]
            texts: list[str] = _rank_texts(code, self.keep_latest,
                                           1 << int(ranks.max()).bit_length())[ranks].tolist()
            return texts
        if code in _AGELESS:
            return list(map(_ageless_reason, itertools.repeat(code), self.rank[rows].tolist(),
                            itertools.repeat(self.keep_latest), self.nlink[rows].tolist()))
        template = REASONS[code][1]
        return [template.format(age_d=age / 86_400.0, ahead_s=-age)
                for age in self.age_s[rows].tolist()]

    def rows(self, verbs: tuple[int, ...] | None = None) -> Iterator[int]:
        """Row indices in output order, optionally only some verbs."""
        for i in self.order:
            if verbs is None or int(self.verb[i]) in verbs:
                yield i


_HIDDEN, _TEMP, _COMPRESSED, _PROTECTED, _TOO_LONG = 1, 2, 4, 8, 16


@functools.lru_cache(maxsize=1 << 16)
def _classify(name: str) -> int:
    """A name's facts packed in one int: ``(ITER number + 1) << 5 | flags``.

    Flags: hidden, rotation temp, compressed, protected, too long to compress. Memoised:
    the same names (``ITER_SUMMARY_<n>.json``) recur in every run folder, and one cached
    int per name is what keeps planning 200,000 files close to ``find``.
    """
    number = -1
    if name.startswith("ITER_SUMMARY_"):
        m = ITER_RE.fullmatch(name)
        if m:
            number = int(m.group(1))  # at most 17 digits: fits in 58 bits
    hidden = name.startswith(".")
    flags = (_HIDDEN * hidden | _TEMP * (hidden and name.endswith(TMP_SUFFIX))
             | _COMPRESSED * name.endswith(COMPRESSED_SUFFIXES)
             | _PROTECTED * (name in PROTECTED_NAMES or name in LOG_FILES)
             | _TOO_LONG * (len(os.fsencode(name)) + 4 > NAME_MAX))
    return (number + 1) << 5 | flags


def plan_directory(scan: DirScan, policy: RotationPolicy, now_s: float) -> DirPlan:
    """Decide every entry of one scanned folder (pure: no I/O)."""
    n = len(scan.names)
    verb = np.full(n, KEEP, dtype=np.int8)
    reason = np.full(n, R_YOUNG, dtype=np.int8)
    decided = np.zeros(n, dtype=bool)
    names = scan.names
    kind = scan.kind
    age = now_s - scan.mtime_ns / 1e9
    rank = np.zeros(n, dtype=np.int64)
    facts = np.fromiter(map(_classify, names), dtype=np.int64, count=n)
    iteration = (facts >> 5) - 1
    hidden, temp, compressed, protected, too_long = (
        (facts & bit).astype(bool) for bit in (_HIDDEN, _TEMP, _COMPRESSED, _PROTECTED, _TOO_LONG))

    def decide(mask: np.ndarray, v: int, r: int) -> None:
        sel = mask & ~decided
        verb[sel] = v
        reason[sel] = r
        decided[sel] = True

    regular = kind == FILE
    decide(kind == SYMLINK, SKIP, R_SYMLINK)
    decide(kind == OTHER_DEVICE, SKIP, R_OTHER_DEVICE)
    decide(~regular, SKIP, R_NOT_REGULAR)
    if scan.protected:
        decide(regular, KEEP, R_PROTECTED_DIR)
    if scan.active:
        decide(regular, KEEP, R_ACTIVE)
    decide(protected, KEEP, R_PROTECTED)
    decide(temp, RECOVER, R_TEMP)
    decide(hidden, KEEP, R_HIDDEN)
    if compressed.any():  # X next to X.gz: an interrupted compression
        present = {s for s, c in zip(names, (compressed & regular).tolist(), strict=True) if c}
        finish = np.fromiter(((s + ".gz") in present or (s + ".zst") in present
                              for s in names), dtype=bool, count=n) & ~compressed & regular
        decide(finish, RECOVER, R_FINISH)
    decide(scan.nlink > 1, SKIP, R_MULTI_LINK)

    # keep the N highest-numbered ITER_SUMMARY files (numeric order)
    eligible = (iteration >= 0) & ~decided
    if eligible.any():
        numbers = _ascending_distinct(iteration[eligible])  # rank 1 is the highest
        rank[eligible] = numbers.size - np.searchsorted(numbers, iteration[eligible])
        beyond = eligible & (rank > policy.keep_latest)
        decide(beyond, DELETE, R_BEYOND)
        latest = eligible & ~beyond
        young = age < policy.ttl_s
        # a kept file is still compressed once old; otherwise it is kept as "latest"
        decide(latest & (compressed | young | (scan.size == 0)), KEEP, R_LATEST)

    decide(compressed, KEEP, R_COMPRESSED)
    decide(scan.size == 0, KEEP, R_EMPTY)
    decide(age < -FUTURE_TOLERANCE_S, KEEP, R_FUTURE)
    decide((age >= policy.ttl_s) & too_long, KEEP, R_NAME_TOO_LONG)
    decide(age >= policy.ttl_s, COMPRESS, R_OLD)
    decide(np.ones(n, dtype=bool), KEEP, R_YOUNG)

    return DirPlan(scan.rel, names, kind, verb, reason, rank, iteration, age, scan.size,
                   scan.blocks, scan.mtime_ns, scan.nlink, scan.ino, policy.keep_latest)
