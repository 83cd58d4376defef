"""The fidelity report's tables: the stylized facts and the sim-to-real table of one tape.

:func:`load_fidelity_report` runs :func:`soakkit.evidence.sim_to_real.fidelity_study` (what
``soakkit fidelity`` prints) and lays it out for ``notebooks/fidelity_report.ipynb``: a
header, the facts (real value, synthetic median, 5–95 % interval, the median relative to
the real value, verdict) and the profiles (each side's fills, P&L, adverse selection and
pass rate per iteration, the fills ratio and the cell's verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from soakkit.artifacts.layout import resolve_artifacts
from soakkit.evidence.sim_to_real import (
    AGREE_FILLS_RATIO,
    DEFAULT_PROFILES,
    GATE,
    FidelityStudy,
    fidelity_study,
)
from soakkit.sim.fidelity import FACT_TOLERANCE

__all__ = ["FidelityView", "load_fidelity_report", "no_tape_note", "parse_profiles"]


def parse_profiles(text: str, where: str = "--profiles") -> tuple[str, ...]:
    """``"A,B"`` → the profiles of the sim-to-real table; ``"none"``: no table. ``where``
    names the flag or parameter in an error (``--profiles``, ``-p profiles``)."""
    from soakkit.sweep.spec import parse_list

    return () if text.strip() == "none" else parse_list(text, where)


def no_tape_note(tape: str | None) -> str | None:
    """Why there is nothing to report (no tape given), or ``None``."""
    if tape is not None:
        return None
    return ("No tape given: set the parameter `tape` to a tape folder (soakkit report fidelity "
            "-p tape DIR; make one with `soakkit tape import`, or try "
            "examples/tapes/binance-spot-btcusdt).")


def _ratio(value: float, real: float) -> float:
    return value / real if real != 0 and math.isfinite(real) else math.nan


@dataclass(frozen=True)
class FidelityView:
    """The fidelity report of one tape: the study and its tables."""

    study: FidelityStudy

    @property
    def header(self) -> pl.DataFrame:
        facts, table = self.study.facts, self.study.table
        rows = [("tape", facts.tape), ("market", facts.market),
                ("window", f"the first {facts.minutes} whole minute(s)"),
                ("synthetic windows (facts)", f"{facts.seeds} seeds, mixed mode"),
                ("facts within 25 %", f"{facts.within} of {len(facts.rows)}")]
        if table is not None:
            rows += [("sim-to-real", f"{len(table.cells)} profile(s) x {len(table.seeds)} "
                                     f"seed(s) x {table.minutes} one-minute iterations, "
                                     "untuned, per side"),
                     ("profiles that agree", f"{table.agree} of {len(table.cells)}")]
        return pl.DataFrame({"item": [r[0] for r in rows], "value": [r[1] for r in rows]})

    @property
    def facts(self) -> pl.DataFrame:
        """One row per fact: real, synthetic median and interval, the median / real, verdict."""
        rows = self.study.facts.rows
        return pl.DataFrame({
            "fact": [r.label for r in rows], "unit": [r.unit for r in rows],
            "real": [r.real for r in rows], "synthetic": [r.synthetic for r in rows],
            "p5": [r.low for r in rows], "p95": [r.high for r in rows],
            "synthetic_vs_real": [_ratio(r.synthetic, r.real) for r in rows],
            "verdict": ["within" if r.within else "outside" for r in rows]},
            schema_overrides={k: pl.Float64 for k in ("real", "synthetic", "p5", "p95",
                                                      "synthetic_vs_real")})

    @property
    def normalised(self) -> pl.DataFrame:
        """The facts relative to the real value (real = 1): what the chart draws."""
        rows = self.study.facts.rows
        return pl.DataFrame({
            "fact": [r.label for r in rows],
            "synthetic": [_ratio(r.synthetic, r.real) for r in rows],
            "p5": [_ratio(r.low, r.real) for r in rows],
            "p95": [_ratio(r.high, r.real) for r in rows],
            "verdict": ["within" if r.within else "outside" for r in rows]},
            schema_overrides={k: pl.Float64 for k in ("synthetic", "p5", "p95")})

    @property
    def sim_to_real(self) -> pl.DataFrame | None:
        """One row per profile: each side's means per iteration, the fills ratio, verdict."""
        table = self.study.table
        if table is None:
            return None
        cells = table.cells
        out: dict[str, list[Any]] = {"profile": [c.profile for c in cells]}
        for column, field in (("fills", "fills"), ("pnl_usd", "pnl_usd"),
                              ("adverse_bps", "adverse_bps"), ("pass_rate", "pass_rate"),
                              ("pnl_positive_seeds", "pnl_positive_share")):
            for side in ("replay", "synthetic"):
                out[f"{column}_{side}"] = [float(getattr(getattr(c, side), field))
                                           for c in cells]
        out["fills_ratio"] = [c.fills_ratio for c in cells]
        out["pnl_sign"] = ["same" if c.pnl_agrees else "differs" for c in cells]
        out["verdict"] = ["agrees" if c.agrees else "disagrees" for c in cells]
        return pl.DataFrame(out)

    @property
    def verdict(self) -> str:
        """In a few words: the facts within the band, and the profiles that agree."""
        facts, table = self.study.facts, self.study.table
        text = f"{facts.within} of {len(facts.rows)} facts within {FACT_TOLERANCE:.0%}"
        if table is not None:
            text += f"; {table.agree} of {len(table.cells)} profiles agree"
        return text

    @property
    def note(self) -> str:
        """How the sim-to-real verdict is reached."""
        low, high = AGREE_FILLS_RATIO
        return (f"A profile agrees when its synthetic fills per iteration are {low:g}-{high:g}x "
                "the replay's and both P&Ls have the same sign; pass: the share of iterations "
                f"the {GATE} gate passes.")

    def record(self) -> dict[str, Any]:
        """What ``kpis.json`` keeps: the verdict and the counts behind it (``soakkit fidelity
        --out`` writes every figure)."""
        facts, table = self.study.facts, self.study.table
        out: dict[str, Any] = {"verdict": self.verdict, "tape": facts.tape,
                               "market": facts.market, "minutes": facts.minutes,
                               "seeds": facts.seeds, "facts_within": facts.within,
                               "facts": len(facts.rows)}
        if table is not None:
            out["profiles"] = {c.profile: "agrees" if c.agrees else "disagrees"
                               for c in table.cells}
            out["profiles_agree"] = table.agree
        return out


def load_fidelity_report(tape: str | Path, *, market: str | None = None,
                         artifacts: Path | str | None = None, minutes: int | None = None,
                         seeds: int = 8, seed: int = 0,
                         profiles: str | Sequence[str] = DEFAULT_PROFILES) -> FidelityView:
    """Measure the fidelity of the tape at ``tape`` (see ``soakkit fidelity --help``);
    ``profiles`` as a list or as ``"A,B"`` text (``"none"``: facts only)."""
    names = parse_profiles(profiles) if isinstance(profiles, str) else tuple(profiles)
    root = resolve_artifacts(None if artifacts is None else Path(artifacts), create=True)
    return FidelityView(fidelity_study(Path(tape), market=market, artifacts=root,
                                       minutes=minutes, seeds=seeds, seed=seed,
                                       profiles=names))
