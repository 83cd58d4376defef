"""The study's winner and how much its in-sample result is inflated by the search.

* **Winner**: the feasible complete trial with the highest objective (ties: the earlier).
* **Deflated Sharpe ratio** (:func:`soakkit.evidence.overfit.deflated_sharpe_ratio`): the
  Sharpe ratio of the winner's per-iteration objective on the calibration markets, against
  the best Sharpe ratio as many configurations without skill would show, given how the
  trials' Sharpe ratios vary (every complete trial counts: each was a try).
* **PBO** (:func:`soakkit.evidence.overfit.pbo_cscv`): CSCV over the per-iteration
  objective of every distinct feasible configuration (the ones the winner was chosen from),
  rows in the calibration set's order (group, seed, iteration), cut into 16 blocks. Each
  configuration's rows are read and reduced to its 16 block sums one at a time, so memory
  is ``O(16 × configurations)``, never the iterations × configurations matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from soakkit.core.errors import ArtifactError
from soakkit.evidence.overfit import (
    DSR_PASS,
    PBO_PASS,
    Pbo,
    SharpeStats,
    block_sums,
    cscv_edges,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_from_blocks,
    sharpe_stats,
)
from soakkit.optimize.scoring import OBJECTIVE
from soakkit.optimize.store import StudyStore

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["PBO_BLOCKS", "Overfitting", "feasible", "measure_overfitting", "ranked_trials"]

#: Row blocks of CSCV (C(16, 8) = 12,870 splits), as the paper's examples use.
PBO_BLOCKS = 16


def feasible(trial: FrozenTrial) -> bool:
    """A complete trial whose every constraint holds (≤ 0)."""
    return all(v <= 0 for v in trial.constraints.values())


def ranked_trials(study: optuna.Study) -> tuple[list[FrozenTrial], int, int]:
    """The feasible complete trials, best first; and how many completed and failed."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    ok = [t for t in complete if feasible(t)]
    ok.sort(key=lambda t: (-float(t.value if t.value is not None else -math.inf), t.number))
    return ok, len(complete), failed


@dataclass(frozen=True)
class Overfitting:
    """The deflated Sharpe ratio of the winner and the PBO of the search."""

    trials: int  #: complete trials (the N of the DSR)
    sharpe: SharpeStats  #: the winner's, per iteration
    sharpe_variance: float  #: across the complete trials' Sharpe ratios
    expected_max: float  #: SR0
    dsr: float
    pbo: Pbo

    @property
    def reasons(self) -> list[str]:
        """Why the evidence does not support a recommendation (empty: it does)."""
        out = []
        if not self.dsr >= DSR_PASS:
            out.append(f"deflated Sharpe ratio {self.dsr:.3f} is below {DSR_PASS}"
                       if math.isfinite(self.dsr) else "no deflated Sharpe ratio (too few "
                       "trials or iterations)")
        if not self.pbo.pbo <= PBO_PASS:
            out.append(f"probability of backtest overfitting {self.pbo.pbo:.3f} is above "
                       f"{PBO_PASS}" if math.isfinite(self.pbo.pbo) else
                       "no PBO (fewer than two distinct feasible configurations)")
        return out

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 9)

        p = self.pbo
        return {"trials": self.trials,
                "winner_sharpe": {"sharpe": num(self.sharpe.sharpe), "n_obs": self.sharpe.n_obs,
                                  "skew": num(self.sharpe.skew),
                                  "kurtosis": num(self.sharpe.kurtosis)},
                "sharpe_variance": num(self.sharpe_variance),
                "expected_max_sharpe": num(self.expected_max), "dsr": num(self.dsr),
                "dsr_pass": DSR_PASS,
                "pbo": {"pbo": num(p.pbo), "blocks": p.blocks, "splits": p.splits,
                        "configurations": p.n_trials, "iterations": p.n_obs,
                        "degradation": num(p.degradation),
                        "loss_probability": num(p.loss_probability),
                        "logits": [round(float(x), 6) for x in np.quantile(
                            p.logits, [0.05, 0.25, 0.5, 0.75, 0.95])] if p.splits else []},
                "pbo_pass": PBO_PASS}


def _objective(store: StudyStore, key: str) -> np.ndarray:
    rows = store.read_rows("trials", key, columns=[OBJECTIVE, "unit"]).sort("unit")
    values = rows[OBJECTIVE].cast(float).fill_null(0.0).to_numpy()
    return np.asarray(np.nan_to_num(values, nan=0.0), dtype=np.float64)


def measure_overfitting(study: optuna.Study, store: StudyStore, winner: FrozenTrial
                        ) -> Overfitting:
    """DSR of ``winner`` and PBO of the feasible trials (see the module docstring)."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sharpes = np.array([float(s) for t in complete
                        if (s := (t.user_attrs.get("score") or {}).get("sharpe")) is not None])
    variance = float(sharpes.var(ddof=1)) if sharpes.size > 1 else math.nan
    mine = sharpe_stats(_objective(store, winner.user_attrs["key"]))
    sr0 = expected_max_sharpe(len(complete), variance) if sharpes.size > 1 else math.nan
    dsr = deflated_sharpe_ratio(mine.sharpe, mine.n_obs, len(complete), variance, mine.skew,
                                mine.kurtosis) if math.isfinite(variance) else math.nan
    ranked, _, _ = ranked_trials(study)
    keys = list(dict.fromkeys(t.user_attrs["key"] for t in ranked))
    return Overfitting(len(complete), mine, variance, sr0, dsr, _pbo(store, keys, mine.n_obs))


def _pbo(store: StudyStore, keys: list[str], n_obs: int) -> Pbo:
    """CSCV over the configurations ``keys`` (each ``n_obs`` iterations), from their block
    sums, reading one configuration's rows at a time."""
    edges = cscv_edges(n_obs, PBO_BLOCKS) if len(keys) > 1 else np.zeros(0, dtype=np.int64)
    blocks = max(edges.size - 1, 0)
    sums = np.zeros((blocks, len(keys)))
    squares = np.zeros((blocks, len(keys)))
    if blocks:
        for j, key in enumerate(keys):
            values = _objective(store, key)
            if values.size != n_obs:
                raise ArtifactError(f"{store.folder}: configuration {key[:12]} has "
                                    f"{values.size} calibration rows, the winner {n_obs}")
            sums[:, j], squares[:, j] = block_sums(values, edges)
    return pbo_from_blocks(sums, squares, edges, n_obs)
