"""Which sampler asks trial ``k``, and what it drew for a trial a killed client left half
written.

Every trial is asked with a fresh sampler seeded from the study's seed and the trial's
number (:func:`sampler_for`), so trial ``k`` is drawn from the study's history alone.

Optuna writes an ask to its journal one record at a time: the new trial, then each
parameter. A client killed between two of them leaves a trial with some parameters. Drawing
only the missing ones again would not give what the uninterrupted ask drew: the sampler's
random stream is consumed parameter by parameter in the search space's order, so the
second parameter of a fresh stream is the first draw, not the second. :func:`drawn_at_ask`
replays the whole ask instead (the same calls, in the same order, on a trial with no
parameters yet), and :func:`replaying` hands those values to ``Trial.suggest_*``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

__all__ = ["STARTUP_TRIALS", "drawn_at_ask", "replaying", "sampler_for"]

#: Random trials before TPE models the history (Optuna's default).
STARTUP_TRIALS = 10


def _seed(study_seed: int, number: int) -> int:
    digest = hashlib.sha256(f"{study_seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def sampler_for(kind: str, study_seed: int, number: int) -> optuna.samplers.BaseSampler:
    """The sampler that asks trial ``number``: ``random`` (and ``grid``, whose points are
    enqueued, then random), else multivariate TPE with the constant liar."""
    import optuna

    seed = _seed(study_seed, number)
    if kind in ("random", "grid"):
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS,
                                      multivariate=True, constant_liar=True)


def drawn_at_ask(study: optuna.Study, frozen: FrozenTrial,
                 space: Mapping[str, BaseDistribution], kind: str, study_seed: int
                 ) -> dict[str, Any]:
    """What ``study.ask(space)`` drew for ``frozen`` (a running trial).

    Exact while the trials below ``frozen`` are as they were when it was asked: true of a
    trial cut off mid-ask, since the search tells nothing between an ask and the next one.
    """
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    sampler = sampler_for(kind, study_seed, frozen.number)
    fixed = dict(frozen.system_attrs.get("fixed_params") or {})  # an enqueued trial's
    blank = FrozenTrial(number=frozen.number, state=TrialState.RUNNING, value=None,
                        datetime_start=frozen.datetime_start, datetime_complete=None,
                        params={}, distributions={}, user_attrs={},
                        system_attrs={"fixed_params": fixed} if fixed else {},
                        intermediate_values={}, trial_id=frozen._trial_id)
    # Trial._suggest's order: the relative draw once, then each parameter in turn, a fixed
    # one (enqueued) without the sampler
    relative_space = sampler.infer_relative_search_space(study, blank)
    relative = sampler.sample_relative(study, blank, relative_space)
    drawn: dict[str, Any] = {}
    for name, dist in space.items():
        if name in fixed:
            drawn[name] = fixed[name]
        elif dist.single():
            drawn[name] = optuna.distributions._get_single_value(dist)
        elif name in relative:
            drawn[name] = relative[name]
        else:
            drawn[name] = sampler.sample_independent(study, blank, name, dist)
    return drawn


def replaying(values: Mapping[str, Any]) -> optuna.samplers.BaseSampler:
    """A sampler that gives back values drawn earlier (:func:`drawn_at_ask`)."""
    import optuna

    class Replay(optuna.samplers.BaseSampler):
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: Any
                            ) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, param_name: str,
                               param_distribution: Any) -> Any:
            return values[param_name]

    return Replay()
