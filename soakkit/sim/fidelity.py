"""How far a synthetic market passes for the real one: the stylized facts side by side.

:func:`fidelity` takes a recorded tape and a market (by default the tape's own calibration,
:func:`soakkit.sim.calibrate.calibrate`, on the same window), measures the twelve
:data:`soakkit.sim.facts.FACTS` on the tape's window and on ``seeds`` generated windows of
the same length (``mixed`` mode: the fitted regime mix), and gives each fact the synthetic
median, its 5–95 % interval over the seeds, and a verdict: **within** when the median is
within :data:`FACT_TOLERANCE` (25 %) of the real value. ``soakkit fidelity`` prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from soakkit.core.errors import UsageError
from soakkit.sim.calibrate import calibrate
from soakkit.sim.facts import FACTS, stylized_facts
from soakkit.sim.market import simulate_market
from soakkit.sim.regimes import MarketProfile
from soakkit.sim.replay import replay_span
from soakkit.sim.tape import NS
from soakkit.sim.tapefile import RecordedTape

__all__ = ["FACT_TOLERANCE", "MAX_FIDELITY_MINUTES", "MAX_FIDELITY_SEEDS", "FactRow",
           "FidelityReport", "fidelity", "fidelity_span", "finite_or_none"]

FACT_TOLERANCE = 0.25  #: a fact is reproduced when the synthetic median is this close (rel.)
MAX_FIDELITY_SEEDS = 64  #: bound of ``--seeds``
MAX_FIDELITY_MINUTES = 120  #: bound of ``--minutes`` (the window compared)


@dataclass(frozen=True)
class FactRow:
    """One fact: the real value, the synthetic median and 5–95 % interval, the verdict."""

    key: str
    label: str
    unit: str
    real: float
    synthetic: float
    low: float
    high: float

    @property
    def within(self) -> bool:
        """Whether the synthetic median is within :data:`FACT_TOLERANCE` of the real value."""
        return bool(abs(self.synthetic - self.real) <= FACT_TOLERANCE * abs(self.real))

    def to_json(self) -> dict[str, object]:
        return {"fact": self.key, "label": self.label, "unit": self.unit,
                "real": finite_or_none(self.real), "synthetic": finite_or_none(self.synthetic),
                "interval_5_95": [finite_or_none(self.low), finite_or_none(self.high)],
                "within": self.within}


def finite_or_none(x: float) -> float | None:
    """``x`` rounded to 6 decimals for JSON, or ``None`` when it is not finite."""
    return round(float(x), 6) if np.isfinite(x) else None


@dataclass(frozen=True)
class FidelityReport:
    """The stylized-facts table of one tape against one market."""

    tape: str
    market: str
    minutes: int
    seeds: int
    rows: tuple[FactRow, ...]

    @property
    def within(self) -> int:
        """How many facts are within :data:`FACT_TOLERANCE`."""
        return sum(row.within for row in self.rows)

    def to_json(self) -> dict[str, object]:
        return {"tape": self.tape, "market": self.market, "minutes": self.minutes,
                "seeds": self.seeds, "tolerance": FACT_TOLERANCE,
                "within": self.within, "facts": [row.to_json() for row in self.rows]}


def fidelity_span(tape: RecordedTape, minutes: int | None = None) -> int:
    """The whole minutes compared: ``minutes``, by default all of the tape's (at most
    :data:`MAX_FIDELITY_MINUTES`); one line naming ``--minutes`` when the tape is shorter."""
    whole = int((tape.end_ns - tape.start_ns) // (60 * NS))
    span = min(whole, MAX_FIDELITY_MINUTES) if minutes is None else minutes
    if not 1 <= span <= min(whole, MAX_FIDELITY_MINUTES):
        raise UsageError(f"{tape.path}: --minutes {span}: the tape has {whole} whole "
                         f"minute(s); expected 1 to {min(whole, MAX_FIDELITY_MINUTES)}")
    return span


def fidelity(tape: RecordedTape, market: MarketProfile | None = None, *,
             minutes: int | None = None, seeds: int = 8, seed: int = 0,
             progress: Callable[[int, int], None] | None = None) -> FidelityReport:
    """The facts of ``tape``'s first ``minutes`` whole minutes (default: all, at most
    :data:`MAX_FIDELITY_MINUTES`) against ``seeds`` windows of ``market`` (default: the
    tape calibrated on that window); ``progress(done, total)`` after each step."""
    span = fidelity_span(tape, minutes)
    if not 1 <= seeds <= MAX_FIDELITY_SEEDS:
        raise UsageError(f"--seeds {seeds}: expected 1 to {MAX_FIDELITY_SEEDS}")
    total = seeds + (market is None)
    if market is None:
        market = calibrate(tape, tape.path.name or "tape", window=(0, span))
        if progress:
            progress(1, total)
    real = stylized_facts(replay_span(tape, tape.start_ns, tape.start_ns + span * 60 * NS))
    synthetic = []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(seeds)):
        synthetic.append(stylized_facts(simulate_market("mixed", span,
                                                        np.random.default_rng(child), market)))
        if progress:
            progress(total - seeds + i + 1, total)
    rows = []
    for f in FACTS:
        values = np.array([s[f.key] for s in synthetic], dtype=np.float64)
        values = values[np.isfinite(values)]
        med, lo, hi = (np.percentile(values, [50, 5, 95]) if values.size
                       else (np.nan, np.nan, np.nan))
        rows.append(FactRow(f.key, f.label, f.unit, float(real[f.key]), float(med), float(lo),
                            float(hi)))
    return FidelityReport(str(tape.path), market.name, span, seeds, tuple(rows))
