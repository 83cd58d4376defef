"""Out of sample: the winner, the best trials, every shipped profile and the tuner on the
held-back markets, and the paired comparisons the recommendation is judged by.

Each configuration runs on the evaluation set (the ``--eval-seeds`` of every mode, the
held-back windows of every tape). Two configurations are compared per group on the same
cells (same market, same latency draws): per cell, the mean of the objective over its
iterations; the mean paired difference and its 95 % percentile bootstrap interval over the
sampling units (:func:`soakkit.evidence.study.paired_ci`), and each side's pass rate.

The sampling unit is what draws another market: a seed of a synthetic mode, but a held-back
window of a tape (its seeds replay the same recording, changing only the latency draws), so
a tape's cells are its (seed, window) pairs and its interval resamples windows. Besides each
group, the comparisons pool every tape (``tapes``, when a study replays several beside
synthetic modes) and every group (``all``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from soakkit.config.profiles import list_profiles
from soakkit.evidence.study import paired_ci
from soakkit.optimize.plan import Plan
from soakkit.optimize.scoring import OBJECTIVE
from soakkit.optimize.tasks import Config
from soakkit.soak.options import REPLAY_MODE
from soakkit.sweep.grid import ProfileRef, load_profile_ref

__all__ = ["ALL", "ALL_TAPES", "POOLED", "RECOMMENDED", "TUNER", "Comparison", "cell_means",
           "compare", "reference_configs"]

#: The label of the winner's configuration in the evaluation.
RECOMMENDED = "recommended"
#: Added to a profile's label when it runs with the live tuner.
TUNER = " + tuner"
#: The pooled comparisons' groups: every market, and every tape of a study with several.
ALL, ALL_TAPES = "all", "tapes"
POOLED = (ALL, ALL_TAPES)


def reference_configs(plan: Plan) -> list[Config]:
    """Every shipped profile, untuned and with the tuner (and the starting profile the same
    way when it is a user profile): what the recommendation must beat."""
    refs: dict[str, ProfileRef] = {}
    for info in list_profiles(None):
        refs[info.name] = load_profile_ref(info.name, None, "--profile")
    if not plan.profile.builtin:
        refs[plan.profile.name] = plan.profile
    out = []
    for name, ref in refs.items():
        out += [Config(name, ref, {}, False), Config(name + TUNER, ref, {}, True)]
    return out


def cell_means(rows: pl.DataFrame) -> pl.DataFrame:
    """Per cell (group, seed, window): the objective's mean over its iterations (null counts
    0), its pass rate, P&L and risk; sorted by group, seed and window. ``window`` is a
    tape's window (the iteration replayed), 0 for a synthetic mode's seed, whose iterations
    make one cell."""
    window = pl.when(pl.col("mode") == REPLAY_MODE).then(pl.col("iteration")).otherwise(0)
    return (rows.with_columns(window.cast(pl.Int64).alias("window"))
            .group_by("group", "seed", "window", maintain_order=True)
            .agg(pl.col(OBJECTIVE).cast(pl.Float64).fill_null(0.0).fill_nan(0.0).mean()
                 .alias("objective"),
                 (pl.col("verdict") != "FAIL").mean().alias("pass_rate"),
                 pl.col("pnl_usd").mean(), pl.col("risk_ratio").mean())
            .sort("group", "seed", "window"))


@dataclass(frozen=True)
class Comparison:
    """The winner against one configuration in one group (``all``: every group pooled)."""

    group: str
    reference: str
    cells: int  #: sampling units paired: seeds of a mode, held-back windows of a tape
    winner: float  #: the winner's objective (mean over cells)
    other: float
    diff: float
    lo: float
    hi: float
    winner_pass: float
    other_pass: float
    pnl_diff: float

    @property
    def beats(self) -> bool:
        """The winner's objective is higher with a 95 % interval above 0."""
        return self.lo > 0

    @property
    def keeps_pass_rate(self) -> bool:
        """The winner's pass rate is not lower."""
        return self.winner_pass >= self.other_pass

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 9)

        return {"group": self.group, "reference": self.reference, "cells": self.cells,
                "winner": num(self.winner), "other": num(self.other), "diff": num(self.diff),
                "ci95": [num(self.lo), num(self.hi)], "winner_pass_rate": num(self.winner_pass),
                "other_pass_rate": num(self.other_pass), "pnl_diff_usd": num(self.pnl_diff),
                "beats": self.beats, "keeps_pass_rate": self.keeps_pass_rate}


def _pair(group: str, label: str, a: pl.DataFrame, b: pl.DataFrame) -> Comparison:
    both = a.join(b, on=["group", "seed", "window"], suffix="_b")
    if both.height == 0:
        nan = math.nan
        return Comparison(group, label, 0, nan, nan, nan, nan, nan, nan, nan, nan)
    units = [(g, "window", w) if w else (g, "seed", s) for g, s, w
             in both.select("group", "seed", "window").iter_rows()]
    d = paired_ci(both["objective"].to_list(), both["objective_b"].to_list(), units=units)
    return Comparison(group, label, d.n, d.mean_a, d.mean_b, d.diff, d.lo, d.hi,
                      float(both["pass_rate"].to_numpy().mean()),
                      float(both["pass_rate_b"].to_numpy().mean()),
                      float(np.mean(both["pnl_usd"].to_numpy() - both["pnl_usd_b"].to_numpy())))


def compare(winner: pl.DataFrame, others: Mapping[str, pl.DataFrame],
            groups: Sequence[str], tapes: Sequence[str] = ()) -> list[Comparison]:
    """The winner's cell means against each configuration's, per group, pooled over the
    ``tapes`` groups (:data:`ALL_TAPES`, with two or more beside other groups) and over
    every group (:data:`ALL`, with two or more)."""
    out = []
    for label, other in others.items():
        for g in groups:
            out.append(_pair(g, label, winner.filter(pl.col("group") == g),
                             other.filter(pl.col("group") == g)))
        if 1 < len(tapes) < len(groups):  # with tapes only, ALL is the tapes pooled
            out.append(_pair(ALL_TAPES, label, winner.filter(pl.col("group").is_in(tapes)),
                             other.filter(pl.col("group").is_in(tapes))))
        if len(groups) > 1:
            out.append(_pair(ALL, label, winner, other))
    return out
