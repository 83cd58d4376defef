"""The markets a study calibrates on and the ones it holds back: two disjoint sets of cells.

A *group* is one market: a synthetic mode (on the default or a calibrated market profile) or
a recorded tape. Its *cells* are mini-soaks, one per seed:

* a synthetic mode: ``--iterations`` iterations of ``--sim-minutes``; the calibration set
  runs the ``--seeds``, the evaluation set the ``--eval-seeds`` (disjoint seeds: disjoint
  markets);
* a tape: windows of ``--tape-minutes``; the calibration set replays the first
  ``--tape-split`` of its windows, the evaluation set the later ones (walk-forward: the
  evaluation never looks back), each with the seeds of its set (the latency draws);
* a held-back tape (``--eval-tapes``): every window in the evaluation set, none in the
  calibration set.

Groups are the unit of the constraints (the gate holds per market) and of the report's
comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soakkit.core.digests import sha256_bytes, sha256_file
from soakkit.core.errors import SoakkitError, UsageError, did_you_mean
from soakkit.optimize.spec import OptimizeSpec
from soakkit.sim.regimes import MODES
from soakkit.sim.replay import load_tape, windows_available
from soakkit.sim.tapefile import TAPE_META, RecordedTape
from soakkit.soak.options import REPLAY_MODE, load_market, market_file
from soakkit.sweep.spec import format_seeds

__all__ = ["CALIBRATION", "EVALUATION", "Group", "MarketData", "MarketSet", "Unit",
           "market_data", "tape_label"]

CALIBRATION, EVALUATION = "calibration", "evaluation"
#: The most iterations one trial may run (its cells × iterations): bounds a task's rows.
MAX_TRIAL_ITERATIONS = 1_000_000


@dataclass(frozen=True)
class Group:
    """One market of a set: a synthetic mode or a tape, its window range and seeds."""

    name: str  #: the mode, or ``tape:<folder name>``
    mode: str  #: the mode, or ``replay``
    tape: str | None  #: absolute folder of a tape
    first: int  #: first iteration (window) run
    last: int  #: last iteration (window) run
    sim_minutes: int
    seeds: tuple[int, ...]

    @property
    def iterations(self) -> int:
        """Iterations per cell."""
        return self.last - self.first + 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "tape": self.tape,
                "iterations": [self.first, self.last], "sim_minutes": self.sim_minutes,
                "seeds": format_seeds(self.seeds)}


@dataclass(frozen=True)
class Unit:
    """One iteration of a set: the rows of the study's per-iteration matrices, in order."""

    group: str
    seed: int
    iteration: int


@dataclass(frozen=True)
class MarketSet:
    """The calibration or the evaluation markets of a study."""

    role: str
    groups: tuple[Group, ...]

    @property
    def size(self) -> int:
        """Iterations one configuration runs on this set."""
        return sum(len(g.seeds) * g.iterations for g in self.groups)

    def units(self) -> Iterator[Unit]:
        """Every iteration in the set's order: group, seed, iteration."""
        for g in self.groups:
            for seed in g.seeds:
                for n in range(g.first, g.last + 1):
                    yield Unit(g.name, seed, n)

    def to_json(self) -> list[dict[str, Any]]:
        return [g.to_json() for g in self.groups]


@dataclass(frozen=True)
class MarketData:
    """Both sets, and the synthetic market profile the cells run on (shipped as bytes)."""

    calibration: MarketSet
    evaluation: MarketSet
    market: str  #: ``default``, or a calibrated market profile (name or JSON file)
    market_file: tuple[str, bytes] | None  #: its (sha256, bytes); ``None`` for ``default``
    tape_digests: dict[str, str]  #: tape folder → sha256 of its files' digests

    @property
    def worker_market(self) -> str:
        """The market's name on the workers (its file travels as bytes, named by digest)."""
        return "default" if self.market_file is None else f"study-{self.market_file[0][:16]}"

    def identity(self) -> dict[str, Any]:
        """What makes the data the same (``study.json``; provenance of the profile)."""
        return {"market": self.market,
                "market_sha256": self.market_file[0] if self.market_file else None,
                "calibration": self.calibration.to_json(),
                "evaluation": self.evaluation.to_json(), "tapes": dict(self.tape_digests)}


def tape_label(folder: Path) -> str:
    """The group name of a tape: ``tape:<folder name>``."""
    return f"tape:{Path(folder).resolve().name}"


def _tape_digest(folder: Path) -> str:
    """sha256 over the sha256 of each of the tape's files (names sorted)."""
    parts = [f"{p.name}:{sha256_file(p)}" for p in sorted(folder.iterdir()) if p.is_file()
             and (p.suffix == ".parquet" or p.name == TAPE_META)]
    return sha256_bytes("\n".join(parts).encode())


def _check_seeds(spec: OptimizeSpec) -> None:
    for flag, seeds in (("--seeds", spec.seeds), ("--eval-seeds", spec.eval_seeds)):
        if not seeds:
            raise UsageError(f"{flag}: give at least one seed")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise UsageError(f"{flag}: seeds are integers >= 0")
    shared = sorted(set(spec.seeds) & set(spec.eval_seeds))
    if shared:
        raise UsageError(f"--seeds and --eval-seeds share {len(shared)} seed(s) (e.g. "
                         f"{shared[0]}): calibration and evaluation must be disjoint")


def _load(flag: str, given: Path) -> RecordedTape:
    """The tape at ``given``, or the one line that says why not."""
    try:
        return load_tape(Path(given).resolve())
    except SoakkitError as exc:
        raise UsageError(f"{flag} {given}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise UsageError(f"{flag} {given}: cannot read the tape ({exc.strerror or exc})"
                         ) from None


def _tape_groups(spec: OptimizeSpec) -> tuple[list[Group], list[Group], dict[str, str]]:
    if not 0.0 < spec.tape_split < 1.0 or not math.isfinite(spec.tape_split):
        raise UsageError(f"--tape-split {spec.tape_split}: expected a share between 0 and 1 "
                         "(exclusive)")
    cal, ev, digests = [], [], {}
    named: dict[str, tuple[str, Path]] = {}  # tape label -> the flag and folder that named it
    seen: dict[str, tuple[str, Path]] = {}  # a tape's digest -> the flag and folder
    for flag, given in [*(("--tapes", t) for t in spec.tapes),
                        *(("--eval-tapes", t) for t in spec.eval_tapes)]:
        folder = Path(given).resolve()
        label = tape_label(folder)
        if label in named:
            first_flag, first = named[label]
            if first != folder:  # another folder of the same name (another day's capture)
                raise UsageError(f"{flag} {given}: {first_flag} {first} has the same folder "
                                 "name, which names a tape's market: rename one")
            raise UsageError(f"{flag} {given}: a tape named {folder.name!r} is listed twice"
                             + (" (a tape the search sees cannot also be held back)"
                                if first_flag != flag else ""))
        named[label] = (flag, folder)
        windows = windows_available(_load(flag, given), spec.tape_minutes)
        digest = digests[str(folder)] = _tape_digest(folder)
        if flag == "--eval-tapes":
            if windows < 1:
                raise UsageError(f"--eval-tapes {given}: shorter than one window of "
                                 f"--tape-minutes {spec.tape_minutes}")
            if digest in seen:  # a copy of a tape the search sees is not held back
                first_flag, first = seen[digest]
                raise UsageError(f"--eval-tapes {given}: the same recording as {first_flag} "
                                 f"{first} (" + ("a tape the search sees cannot also be held "
                                 "back)" if first_flag == "--tapes" else "its windows would "
                                 "count twice)"))
            seen[digest] = (flag, folder)
            ev.append(Group(label, REPLAY_MODE, str(folder), 1, windows, spec.tape_minutes,
                            spec.eval_seeds))
            continue
        split = math.floor(windows * spec.tape_split)
        if split < 1 or split >= windows:
            raise UsageError(f"--tapes {given}: {windows} window(s) of --tape-minutes "
                             f"{spec.tape_minutes} cannot be split {spec.tape_split:g} : "
                             f"{1 - spec.tape_split:g} (at least one window to calibrate and "
                             "one held back)")
        cal.append(Group(label, REPLAY_MODE, str(folder), 1, split, spec.tape_minutes,
                         spec.seeds))
        ev.append(Group(label, REPLAY_MODE, str(folder), split + 1, windows, spec.tape_minutes,
                        spec.eval_seeds))
        seen[digest] = (flag, folder)
    return cal, ev, digests


def _market_file(spec: OptimizeSpec) -> tuple[str, bytes] | None:
    """The calibrated market's (sha256, bytes); ``None`` for the default market."""
    try:
        load_market(spec.market, spec.artifacts)  # checks it, names the flag when missing
        path = market_file(spec.market, spec.artifacts)
        data = None if path is None else path.read_bytes()
    except SoakkitError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    except OSError as exc:
        raise UsageError(f"--market {spec.market}: {exc.strerror or exc}") from None
    return None if data is None else (sha256_bytes(data), data)


def market_data(spec: OptimizeSpec) -> MarketData:
    """Validate the markets of ``spec`` and build both sets (nothing runs).

    Raises
    ------
    UsageError
        Unknown mode, shared seeds, a tape too short to split, no market at all.
    """
    _check_seeds(spec)
    for mode in spec.modes:
        if mode not in MODES:
            raise UsageError(f"--modes {mode!r}: unknown mode; expected one of "
                             f"{', '.join(MODES)}" + did_you_mean(mode, MODES))
    if len(set(spec.modes)) != len(spec.modes):
        raise UsageError(f"--modes: a mode is listed twice ({', '.join(spec.modes)})")
    if not spec.modes and not spec.tapes:
        raise UsageError("--modes: give at least one market mode or --tapes")
    cal = [Group(m, m, None, 1, spec.iterations, spec.sim_minutes, spec.seeds)
           for m in spec.modes]
    ev = [Group(m, m, None, 1, spec.iterations, spec.sim_minutes, spec.eval_seeds)
          for m in spec.modes]
    tape_cal, tape_ev, digests = _tape_groups(spec)
    data = MarketData(MarketSet(CALIBRATION, tuple(cal + tape_cal)),
                      MarketSet(EVALUATION, tuple(ev + tape_ev)), spec.market,
                      _market_file(spec), digests)
    for role in (data.calibration, data.evaluation):
        if role.size > MAX_TRIAL_ITERATIONS:
            raise UsageError(f"the {role.role} markets hold {role.size:,} iterations per "
                             f"configuration, more than {MAX_TRIAL_ITERATIONS:,}: fewer seeds, "
                             "modes or --iterations")
    return data
