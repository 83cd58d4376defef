"""What a sweep runs: :class:`SweepSpec`, and the text forms of its axes on the command line.

The grid is the cartesian product of ``[strategies ×] profiles × modes × tune × --set values
× seeds``; each cell is one mini-soak. ``strategies`` is an axis only when it names more
than the default (legacy) strategy, so a sweep of the legacy quoter keeps its columns,
labels and cell keys. Fields below the ``execution`` marker choose *how* the grid
runs (which cluster, batch sizes, progress) and never change a cell's result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from soakkit.artifacts.layout import resolve_artifacts
from soakkit.config.params import DEFAULT_STRATEGY
from soakkit.core.errors import UsageError
from soakkit.core.inputs import MAX_SEED, choice_problem

__all__ = ["MAX_CELLS", "MAX_SEEDS", "TUNE_CHOICES", "SweepSpec", "format_seeds", "parse_list",
           "parse_seeds", "parse_set_axis", "parse_tune"]

#: ``--tune`` values and the tuner settings each one sweeps.
TUNE_CHOICES: dict[str, tuple[bool, ...]] = {"on": (True,), "off": (False,),
                                              "both": (True, False)}
#: ``N`` or ``A-B``: canonical integers only (no sign, no leading zero; soakkit.core.inputs).
_SEED_ITEM = re.compile(r"^(0|[1-9][0-9]{0,9})(?:-(0|[1-9][0-9]{0,9}))?$")
#: The most cells one sweep may have (about 180 MB and 3 s of planning in the client; at a
#: second per cell, eleven days of one core). ``soakkit sweep --help`` states it.
MAX_CELLS = 1_000_000
#: The most seeds one ``--seeds`` may name (a typo such as ``1-100000000`` is refused).
MAX_SEEDS = MAX_CELLS


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: the grid to run and how to run it (mirrors ``soakkit sweep``'s flags).

    Parameters
    ----------
    profiles, modes, seeds, tune
        Grid axes: profile names, market modes, seeds, and tuner on (``True``) / off.
    strategies
        Strategies (``--strategy`` names); an axis unless it is the default alone.
    sets
        Parameter axes, ``(name, (value, ...))`` with values as text (``--set NAME=V1,V2``).
    iterations, sim_minutes, gate
        What every cell runs: iterations of ``sim_minutes`` simulated minutes, judged by
        ``gate``.
    artifacts
        Artifacts root; results go to ``<artifacts>/sweeps/<sweep_id>/`` (default:
        :func:`soakkit.artifacts.layout.resolve_artifacts`, else ``./artifacts/soak``).
    name
        Sweep id; default ``sw-<hash of the grid>``, so the same command resumes.
    scheduler, scheduler_file
        An existing Dask cluster (else ``DASK_SCHEDULER_ADDRESS``, else a local cluster).
    workers
        Worker processes of the local cluster (default: one per core).
    batch_size, window
        Cells per task and tasks in flight (default: sized from the cells' cost and the
        cluster's threads).
    write_runs
        Also keep each cell's run folder under the sweep (workers must share the client's
        file system).
    now
        Freeze the clock (``sweep.json``'s creation time, the runs' files).
    connect_timeout_s
        How long to try reaching ``scheduler`` before giving up (exit code 2).
    """

    profiles: tuple[str, ...] = ("steady_safe",)
    modes: tuple[str, ...] = ("mixed",)
    seeds: tuple[int, ...] = tuple(range(1, 21))
    tune: tuple[bool, ...] = TUNE_CHOICES["both"]
    sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    iterations: int = 12
    sim_minutes: int = 10
    gate: str = "production"
    artifacts: Path = field(default_factory=lambda: resolve_artifacts(create=True))
    name: str | None = None
    # execution: how the grid runs, never what a cell computes
    scheduler: str | None = None
    scheduler_file: Path | None = None
    workers: int | None = None
    batch_size: int | None = None
    window: int | None = None
    write_runs: bool = False
    now: str | None = None
    connect_timeout_s: float = 10.0
    strategies: tuple[str, ...] = (DEFAULT_STRATEGY,)

    @property
    def strategy_axis(self) -> bool:
        """Whether the grid has a ``strategy`` axis (anything but the default alone)."""
        return tuple(self.strategies) != (DEFAULT_STRATEGY,)

    @classmethod
    def from_text(cls, *, profiles: str, modes: str, seeds: str, tune: str = "on",
                  sets: Sequence[str] = (), strategies: str = DEFAULT_STRATEGY,
                  **options: object) -> SweepSpec:
        """A spec from the command line's text forms (``"1-20"``, ``"both"``, ``"x=1,2"``;
        ``strategies`` separated by ``;`` when a name holds a comma, else by ``,``)."""
        sep = ";" if ";" in strategies else ","
        return cls(profiles=parse_list(profiles, "--profiles"),
                   modes=parse_list(modes, "--modes"), seeds=parse_seeds(seeds),
                   tune=parse_tune(tune), sets=tuple(parse_set_axis(s) for s in sets),
                   strategies=parse_list(strategies, "--strategies", sep),
                   **options)  # type: ignore[arg-type]


def parse_list(text: str, flag: str, sep: str = ",") -> tuple[str, ...]:
    """``"a,b"`` → ``("a", "b")``; empty items are errors, repeats are dropped."""
    items = [item.strip() for item in text.split(sep)]
    if text.strip() == "":
        raise UsageError(f"{flag} {text!r}: empty grid (give at least one value)")
    if any(item == "" for item in items):
        raise UsageError(f"{flag} {text!r}: empty item in the comma-separated list")
    return tuple(dict.fromkeys(items))


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1-20"``, ``"7"``, ``"1-5,9,12-13"`` → seeds in order, repeats dropped.

    A descending range (``5-1``), anything not an integer >= 0 (``a-b``) and an empty list
    are errors naming ``--seeds``.
    """
    if text.strip() == "":
        raise UsageError(f"--seeds {text!r}: empty grid (give seeds such as 1-20)")
    seeds: dict[int, None] = {}
    for raw in text.split(","):
        item = raw.strip()
        m = _SEED_ITEM.match(item)
        if not m:
            raise UsageError(f"--seeds {text!r}: {item!r} is not a seed N or a range A-B "
                             "of integers >= 0 (no sign, no leading zero)")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if max(lo, hi) > MAX_SEED:
            raise UsageError(f"--seeds {text!r}: {item}: seeds are 0..{MAX_SEED}")
        if hi < lo:
            raise UsageError(f"--seeds {text!r}: range {item} is descending (write {hi}-{lo})")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise UsageError(f"--seeds {text!r}: more than {MAX_SEEDS:,} seeds")
        seeds.update(dict.fromkeys(range(lo, hi + 1)))
    return tuple(seeds)


def format_seeds(seeds: Iterable[int]) -> str:
    """Seeds as compact text (``1-20,25``): ascending runs become ranges, order is kept."""
    parts: list[str] = []
    start = prev = None
    for seed in seeds:
        if prev is not None and seed == prev + 1:
            prev = seed
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = seed
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def parse_tune(text: str) -> tuple[bool, ...]:
    """``on``, ``off`` or ``both``."""
    choice = TUNE_CHOICES.get(text.strip().lower())
    if choice is None:
        raise UsageError(str(choice_problem("--tune", text, TUNE_CHOICES)))
    return choice


def parse_set_axis(text: str) -> tuple[str, tuple[str, ...]]:
    """``"NAME=V1,V2"`` → ``("NAME", ("V1", "V2"))`` (values are checked with the grid)."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"--set {text!r}: expected NAME=V1,V2,...")
    if values.strip() == "":
        raise UsageError(f"--set {text!r}: empty grid (give at least one value)")
    items = [v.strip() for v in values.split(",")]
    if any(v == "" for v in items):
        raise UsageError(f"--set {text!r}: empty item in the comma-separated list")
    return name, tuple(dict.fromkeys(items))
