"""What a study searches and on which markets: :class:`OptimizeSpec` (``soakkit optimize``'s
flags) and their text forms.

Fields above the ``execution`` marker decide a study's results and make its identity
(``study.json``; a rerun with other values under the same ``--name`` is refused); below it
they choose how it runs. ``trials`` is neither: a rerun with more trials extends the study.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soakkit.artifacts.layout import DEFAULT_ARTIFACTS
from soakkit.config.params import DEFAULT_STRATEGY
from soakkit.core.errors import UsageError
from soakkit.evidence.study import CALIBRATION_SEEDS, EVALUATION_SEEDS
from soakkit.sweep.spec import parse_list, parse_seeds

__all__ = ["DEFAULT_TAPE_SPLIT", "MAX_OOS_TOP", "MAX_TRIALS", "MAX_WINDOW", "OptimizeSpec",
           "parse_params", "parse_tapes"]

#: The most trials one study may run (memory and the journal stay bounded; docs/OPTIMIZE.md).
MAX_TRIALS = 10_000
#: The most best trials run again on the held-back markets (``--oos-top``).
MAX_OOS_TOP = 100
#: The most trials in flight (``--window``).
MAX_WINDOW = 1_000
#: Share of a tape's windows the search sees; the later ones are held back for evaluation.
DEFAULT_TAPE_SPLIT = 0.6


@dataclass(frozen=True)
class OptimizeSpec:
    """A study: the search space, the markets it is calibrated and evaluated on, how it runs.

    Parameters
    ----------
    profile
        The configuration the search starts from: parameters not searched keep its values,
        and its own values are the first trial (the baseline every constraint is anchored
        to).
    strategy
        The strategy whose parameters are searched (``legacy``: the engine's tunables).
    params
        Parameters to search (``None``: the strategy's tunable ones), each within its
        bounds in :data:`soakkit.config.params.PARAMS`.
    modes, market
        Synthetic market modes and the market profile (``default`` or a calibrated one,
        ``soakkit calibrate``); ``modes`` may be empty when ``tapes`` are given.
    tapes, tape_minutes, tape_split
        Recorded tapes replayed in windows of ``tape_minutes``; the first ``tape_split`` of
        each tape's windows calibrate, the rest evaluate (walk-forward: never earlier).
    eval_tapes
        Recorded tapes held back whole: every window evaluates, none calibrates (other
        captures of the market the search never sees).
    seeds, eval_seeds
        Calibration and evaluation seeds: disjoint (the evidence's named seed sets by
        default).
    iterations, sim_minutes, gate
        Each synthetic cell is a mini-soak of ``iterations`` iterations of ``sim_minutes``;
        ``gate`` judges every iteration and gives the constraints.
    trials
        Trials to finish (a rerun with more extends the study).
    sampler, seed
        ``tpe`` (constrained, multivariate TPE) or ``random``, and its seed.
    oos_top
        Trials evaluated out of sample, best in sample first (the winner among them).
    """

    profile: str = "steady_safe"
    strategy: str = DEFAULT_STRATEGY
    params: tuple[str, ...] | None = None
    modes: tuple[str, ...] = ("mixed",)
    market: str = "default"
    tapes: tuple[Path, ...] = ()
    eval_tapes: tuple[Path, ...] = ()
    tape_minutes: int = 1
    tape_split: float = DEFAULT_TAPE_SPLIT
    seeds: tuple[int, ...] = CALIBRATION_SEEDS
    eval_seeds: tuple[int, ...] = EVALUATION_SEEDS
    iterations: int = 12
    sim_minutes: int = 10
    gate: str = "production"
    sampler: str = "tpe"
    seed: int = 0
    oos_top: int = 5
    trials: int = 100
    artifacts: Path = DEFAULT_ARTIFACTS
    name: str | None = None
    write_profile: str = "supported"  #: supported | always | never
    # execution: how the study runs, never what a trial computes
    scheduler: str | None = None
    scheduler_file: Path | None = None
    workers: int | None = None
    window: int | None = None
    now: str | None = None
    connect_timeout_s: float = 10.0

    @classmethod
    def from_text(cls, *, modes: str, seeds: str, eval_seeds: str, params: str | None = None,
                  tapes: str | None = None, eval_tapes: str | None = None,
                  **options: object) -> OptimizeSpec:
        """A spec from the command line's text forms (``"1-20"``, ``"calm,volatile"``)."""
        if modes.strip() == "" and not tapes:
            raise UsageError('--modes "": give at least one market mode, or --tapes')
        return cls(modes=() if modes.strip() == "" else parse_list(modes, "--modes"),
                   seeds=parse_seeds(seeds, "--seeds"),
                   eval_seeds=parse_seeds(eval_seeds, "--eval-seeds"),
                   params=None if params is None else parse_params(params),
                   tapes=parse_tapes(tapes),
                   eval_tapes=parse_tapes(eval_tapes, "--eval-tapes"),
                   **options)  # type: ignore[arg-type]


def parse_params(text: str) -> tuple[str, ...]:
    """``"a,b"`` → ``("a", "b")`` (checked against the parameter table with the spec)."""
    return parse_list(text, "--params")


def parse_tapes(text: str | None, flag: str = "--tapes") -> tuple[Path, ...]:
    """``"dir1,dir2"`` → tape folders (checked with the spec)."""
    if text is None:
        return ()
    return tuple(Path(p) for p in parse_list(text, flag))
