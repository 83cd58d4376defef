"""Sim-to-real: does a profile's verdict on a calibrated market carry over to the real one?

:func:`sim_to_real` runs each profile twice per seed, both as in-memory mini-soaks
(:func:`soakkit.soak.memory.run_in_memory`, the iterations a soak on disk runs, untuned so
both sides trade the same values): **replayed** on the recorded tape (``--market-data``,
one-minute iterations over the tape's first ``minutes`` whole minutes) and **run on the
synthetic market** (the same number of one-minute iterations of the market in ``mixed``
mode, the regime mix it was fitted on). Each side is summarised by the KPIs' own
definitions (:mod:`soakkit.kpi`), as means per iteration over every seed: fills
(``fill_count``), P&L (``pnl_usd``), adverse selection (``adverse_bps``), and the share of
iterations the production gate passes (:func:`soakkit.evidence.study.production_pass`).

A cell **agrees** when the synthetic fills per iteration are within
:data:`AGREE_FILLS_RATIO` (0.5–2×) of the replay's and both P&Ls have the same sign (the
goal of issue 24). :func:`fidelity_study` is what ``soakkit fidelity`` and the fidelity
report run: the stylized facts (:func:`soakkit.sim.fidelity.fidelity`) and this table on
one market, calibrated once.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from soakkit.core.errors import UsageError
from soakkit.core.inputs import MAX_SEED
from soakkit.evidence.study import kpi_mean, production_pass
from soakkit.sim.calibrate import calibrate, write_market_profile
from soakkit.sim.fidelity import (
    MAX_FIDELITY_SEEDS,
    FidelityReport,
    fidelity,
    fidelity_span,
    finite_or_none,
)
from soakkit.sim.regimes import MarketProfile
from soakkit.sim.replay import load_tape
from soakkit.sim.tapefile import RecordedTape
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import MARKET_MODE, SoakOptions, load_market
from soakkit.sweep.grid import load_profile_ref

__all__ = ["AGREE_FILLS_RATIO", "DEFAULT_PROFILES", "FidelityStudy", "ProfileCell",
           "SideResult", "SimToRealReport", "fidelity_study", "sim_to_real"]

#: The profiles compared unless told otherwise: the three shipped market-making profiles.
DEFAULT_PROFILES: tuple[str, ...] = ("steady_safe", "aggressive", "ultra_safe")
#: A cell agrees when synthetic fills / replay fills (per iteration) is in this range ...
AGREE_FILLS_RATIO: tuple[float, float] = (0.5, 2.0)
#: ... and the two P&Ls have the same sign. Iterations are one minute long.
ITERATION_MINUTES = 1
#: The gate whose pass rate each side reports (steady thresholds, no warm-up).
GATE = "production"
#: At most this many profiles in one table (each costs 2 × seeds mini-soaks).
MAX_PROFILES = 8


@dataclass(frozen=True)
class SideResult:
    """One side of a cell: means per iteration over every seed's iterations."""

    fills: float  #: ``fill_count`` per iteration
    pnl_usd: float  #: ``pnl_usd`` per iteration
    adverse_bps: float  #: ``adverse_bps`` (NaN when no iteration filled)
    pass_rate: float  #: share of iterations the production gate passes (PASS or WARN)
    iterations: int  #: iterations summarised (seeds × minutes)
    #: share of the seeds whose ``pnl_usd`` per iteration is above 0 (how settled the sign is)
    pnl_positive_share: float = math.nan

    @classmethod
    def of(cls, runs: Sequence[Sequence[Mapping[str, Any]]]) -> SideResult:
        """The side summarised from every iteration's KPIs, one sequence per seed."""
        kpis = [k for run in runs for k in run]
        return cls(kpi_mean(k.get("fill_count") for k in kpis),
                   kpi_mean(k.get("pnl_usd") for k in kpis),
                   kpi_mean(k.get("adverse_bps") for k in kpis),
                   float(np.mean([production_pass(k) for k in kpis])), len(kpis),
                   float(np.mean([kpi_mean(k.get("pnl_usd") for k in run) > 0
                                  for run in runs])))

    def to_json(self) -> dict[str, object]:
        return {"fills_per_iteration": finite_or_none(self.fills),
                "pnl_usd_per_iteration": finite_or_none(self.pnl_usd),
                "adverse_bps": finite_or_none(self.adverse_bps),
                "pass_rate": finite_or_none(self.pass_rate),
                "pnl_positive_share": finite_or_none(self.pnl_positive_share),
                "iterations": self.iterations}


@dataclass(frozen=True)
class ProfileCell:
    """One profile: replayed on the tape against run on the synthetic market."""

    profile: str
    replay: SideResult
    synthetic: SideResult

    @property
    def fills_ratio(self) -> float:
        """Synthetic fills / replay fills per iteration (inf when only the synthetic side
        fills, NaN when neither does)."""
        if self.replay.fills == 0:
            return math.nan if self.synthetic.fills == 0 else math.inf
        return self.synthetic.fills / self.replay.fills

    @property
    def fills_agree(self) -> bool:
        """Whether the fills are within :data:`AGREE_FILLS_RATIO` (both sides idle: yes)."""
        low, high = AGREE_FILLS_RATIO
        ratio = self.fills_ratio
        return bool(math.isnan(ratio) or low <= ratio <= high)

    @property
    def pnl_agrees(self) -> bool:
        """Whether the two P&Ls per iteration have the same sign."""
        return bool(np.sign(self.synthetic.pnl_usd) == np.sign(self.replay.pnl_usd))

    @property
    def agrees(self) -> bool:
        """The cell's verdict: fills within 0.5–2× and P&L of the same sign."""
        return self.fills_agree and self.pnl_agrees

    def to_json(self) -> dict[str, object]:
        ratio = self.fills_ratio
        return {"profile": self.profile, "replay": self.replay.to_json(),
                "synthetic": self.synthetic.to_json(),
                "fills_ratio": finite_or_none(ratio) if not math.isinf(ratio) else "inf",
                "fills_agree": self.fills_agree, "pnl_agrees": self.pnl_agrees,
                "agrees": self.agrees}


@dataclass(frozen=True)
class SimToRealReport:
    """The sim-to-real table of one tape against one market."""

    tape: str
    market: str
    minutes: int
    seeds: tuple[int, ...]
    cells: tuple[ProfileCell, ...]

    @property
    def agree(self) -> int:
        """How many cells agree."""
        return sum(cell.agrees for cell in self.cells)

    def to_json(self) -> dict[str, object]:
        return {"tape": self.tape, "market": self.market, "minutes": self.minutes,
                "iteration_minutes": ITERATION_MINUTES, "seeds": list(self.seeds),
                "gate": GATE, "fills_ratio_range": list(AGREE_FILLS_RATIO),
                "agree": self.agree, "cells": [cell.to_json() for cell in self.cells]}


def check_profiles(profiles: Sequence[str], artifacts: Path) -> tuple[str, ...]:
    """``profiles`` once each, every one a profile that loads (else one line naming
    ``--profiles``)."""
    names = tuple(dict.fromkeys(profiles))
    if not 1 <= len(names) <= MAX_PROFILES:
        raise UsageError(f"--profiles {','.join(profiles)!r}: expected 1 to {MAX_PROFILES} "
                         "profiles")
    for name in names:
        load_profile_ref(name, artifacts)
    return names


def sim_to_real(tape: RecordedTape, market: MarketProfile, *, minutes: int,
                seeds: Sequence[int], profiles: Sequence[str] = DEFAULT_PROFILES,
                artifacts: Path, progress: Callable[[], None] | None = None
                ) -> SimToRealReport:
    """Each of ``profiles`` replayed on ``tape`` and run on ``market``, ``minutes``
    one-minute iterations per seed of ``seeds``; ``progress()`` after each mini-soak.
    ``artifacts`` is where user profiles are looked up (nothing is written there)."""
    names = check_profiles(profiles, artifacts)
    if not seeds or not all(0 <= s <= MAX_SEED for s in seeds):
        raise UsageError(f"seeds {list(seeds)[:4]}: expected 1 or more, each 0..{MAX_SEED}")
    cells = []
    with tempfile.TemporaryDirectory(prefix="soakkit-sim-to-real-") as tmp:
        # a soak names its market by a file; the market given may be in memory only
        market_json = write_market_profile(Path(tmp) / "market.json", market)
        sides: dict[str, SoakOptions] = {
            "replay": SoakOptions(market_data=tape.path),
            "synthetic": SoakOptions(market=str(market_json), mode=MARKET_MODE)}
        for profile in names:
            kpis: dict[str, list[list[Mapping[str, Any]]]] = {side: [] for side in sides}
            for side, base in sides.items():
                for seed in seeds:
                    options = SoakOptions(
                        profile=profile, iterations=minutes, sim_minutes=ITERATION_MINUTES,
                        seed=seed, gate=GATE, tune=False, artifacts=artifacts,
                        market=base.market, mode=base.mode, market_data=base.market_data)
                    kpis[side].append([r.kpis for r in run_in_memory(options, env={})])
                    if progress:
                        progress()
            cells.append(ProfileCell(profile, SideResult.of(kpis["replay"]),
                                     SideResult.of(kpis["synthetic"])))
    return SimToRealReport(str(tape.path), market.name, minutes, tuple(seeds), tuple(cells))


@dataclass(frozen=True)
class FidelityStudy:
    """What ``soakkit fidelity`` reports: the facts, and the sim-to-real table (if asked)."""

    facts: FidelityReport
    table: SimToRealReport | None

    def to_json(self) -> dict[str, object]:
        return {**self.facts.to_json(),
                "sim_to_real": None if self.table is None else self.table.to_json()}


def fidelity_study(tape_path: Path, *, market: str | None = None,
                   artifacts: Path, minutes: int | None = None, seeds: int = 8, seed: int = 0,
                   profiles: Sequence[str] = DEFAULT_PROFILES,
                   progress: Callable[[int, int], None] | None = None) -> FidelityStudy:
    """The stylized facts of the tape at ``tape_path`` against ``market`` (a name or file as
    ``soak --market`` resolves it; default: the tape calibrated on the window compared) and,
    unless ``profiles`` is empty, the sim-to-real table on the same market, minutes and
    ``seeds`` seeds from ``seed``; ``progress(done, total)`` after each step."""
    names = check_profiles(profiles, artifacts) if profiles else ()
    if not 1 <= seeds <= MAX_FIDELITY_SEEDS or seed + seeds - 1 > MAX_SEED:
        raise UsageError(f"--seeds {seeds} from --seed {seed}: expected 1 to "
                         f"{MAX_FIDELITY_SEEDS} seeds, the last at most {MAX_SEED}")
    profile = None if market is None else load_market(market, artifacts)
    tape = load_tape(tape_path)
    span = fidelity_span(tape, minutes)
    total = (profile is None) + seeds + 2 * seeds * len(names)
    done = 0

    def step(_done: int = 0, _total: int = 0) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    if profile is None:
        profile = calibrate(tape, tape.path.name or "tape", window=(0, span))
        step()
    facts = fidelity(tape, profile, minutes=span, seeds=seeds, seed=seed, progress=step)
    table = None
    if names:
        table = sim_to_real(tape, profile, minutes=span, seeds=range(seed, seed + seeds),
                            profiles=names, artifacts=artifacts, progress=step)
    # the tape as the caller named it (the same text on every machine)
    return FidelityStudy(replace(facts, tape=str(tape_path)),
                         None if table is None else replace(table, tape=str(tape_path)))
