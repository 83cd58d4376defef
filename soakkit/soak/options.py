"""What a mini-soak runs: :class:`SoakOptions`, their bounds and validation, ``SOAK_SLEEP_SECONDS``.

:data:`NUMBER_OPTIONS` is the one table of the numeric options' bounds: the command line
parses its text with it (:func:`options_from_text`, the strict parser of
:mod:`soakkit.core.inputs`), and :func:`option_problems` checks typed values (the Python API,
the ``soak`` report's parameters) against it. Every problem is reported, one per line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from soakkit.artifacts.layout import market_profile_path, resolve_artifacts, resolve_run_dir
from soakkit.config.params import DEFAULT_STRATEGY
from soakkit.core.errors import SoakkitError, UsageError, fs_errors
from soakkit.core.inputs import (
    MAX_ITERATIONS,
    MAX_SEED,
    MAX_SIM_MINUTES,
    MAX_WAIT_S,
    choice_problem,
    parse_float,
    parse_int,
    show_value,
)
from soakkit.gate import gate_problem
from soakkit.sim.regimes import DEFAULT_MARKET, MODES, MarketProfile
from soakkit.strategy.registry import load_strategy

__all__ = ["MARKET_MODE", "NUMBER_OPTIONS", "RECORDED_DEFAULTS", "REPLAY_MODE",
           "RESUME_KEEPS", "SLEEP_ENV", "NumberOption", "SoakOptions", "default_mode",
           "load_market", "market_file", "option_defaults", "option_problems",
           "options_from_text",
           "resume_conflicts", "sleep_from_env",
           "strategy_problems", "validate_options"]

SLEEP_ENV = "SOAK_SLEEP_SECONDS"
#: The ``mode`` of a run that replays a recorded tape (``--market-data``).
REPLAY_MODE = "replay"


@dataclass(frozen=True)
class SoakOptions:
    """What to run (mirrors ``soakkit soak``'s flags)."""

    profile: str = "steady_safe"
    iterations: int = 3
    mode: str = "calm"
    seed: int = 1
    sim_minutes: int = 10
    gate: str = "smoke"
    sets: tuple[str, ...] = ()
    #: default: ``$SOAKKIT_ARTIFACTS``, else the nearest ``artifacts/soak`` (see
    #: :func:`soakkit.artifacts.layout.resolve_artifacts`), else ``./artifacts/soak``
    artifacts: Path = field(default_factory=lambda: resolve_artifacts(create=True))
    tune: bool = True
    sleep_seconds: float | None = None  #: None: take SOAK_SLEEP_SECONDS (default 0)
    now: str | None = None  #: freeze the clock (ISO-8601); also SOAKKIT_NOW
    market: str = "default"  #: synthetic market profile: a name or a JSON file
    market_data: Path | None = None  #: replay this recorded tape instead of a synthetic market
    #: the bot: a built-in name, module:Class, an entry point or exec:PROGRAM
    strategy: str = DEFAULT_STRATEGY
    #: the run this one is compared with (a run id under ``artifacts``), recorded in
    #: ``RUN.json``: the KPI and exploration reports compare with it by default
    baseline: str | None = None

    @property
    def run_mode(self) -> str:
        """``mode``, or ``replay`` when a recorded tape is replayed."""
        return REPLAY_MODE if self.market_data is not None else self.mode

    def to_json(self) -> dict[str, Any]:
        """The options that determine a run's results (stored in ``RUN.json``)."""
        return {"profile": self.profile, "iterations": self.iterations, "mode": self.run_mode,
                "seed": self.seed, "sim_minutes": self.sim_minutes, "gate": self.gate,
                "sets": list(self.sets), "tune": self.tune, "market": self.market,
                "market_data": str(self.market_data) if self.market_data else None,
                "strategy": self.strategy}


#: The mode of a run on a calibrated market (``--market NAME``) when ``--mode`` is not given:
#: the regime mix the market was fitted on (it stays in the regimes its tape showed).
MARKET_MODE = "mixed"


def default_mode(market: str) -> str:
    """The mode a run takes without ``--mode``: :data:`MARKET_MODE` on a named market, else
    :class:`SoakOptions`' default."""
    return MARKET_MODE if market != DEFAULT_MARKET.name else str(option_defaults()["mode"])


def option_defaults() -> dict[str, Any]:
    """Every option's default, as :class:`SoakOptions` declares it (``--help`` states them)."""
    return {f.name: f.default for f in fields(SoakOptions) if f.default is not MISSING}


def market_file(name: str, artifacts: Path) -> Path | None:
    """The file of the synthetic market ``name``: a JSON file, or ``<artifacts>/markets/``;
    ``None`` for ``default``."""
    if name == DEFAULT_MARKET.name:
        return None
    path = Path(name)
    if not (path.suffix == ".json" or path.is_file()):
        path = market_profile_path(artifacts, name)
    return path


def load_market(name: str, artifacts: Path) -> MarketProfile:
    """The synthetic market ``name``: ``default``, a JSON file, or ``<artifacts>/markets/``."""
    path = market_file(name, artifacts)
    if path is None:
        return DEFAULT_MARKET
    if not path.is_file():
        raise UsageError(f"--market {name}: no market profile at {path} (write one with "
                         f"`soakkit calibrate TAPE --name {name}`)")
    from soakkit.sim.calibrate import read_market_profile  # a named market's runs only

    return read_market_profile(path)


@dataclass(frozen=True)
class NumberOption:
    """Type and bounds of a numeric option."""

    flag: str
    kind: Literal["int", "float"]
    lo: float
    hi: float

    def parse(self, text: str) -> int | float:
        """Strictly parse command-line text (:mod:`soakkit.core.inputs`)."""
        if self.kind == "int":
            return parse_int(text, lo=int(self.lo), hi=int(self.hi))
        return parse_float(text, lo=self.lo, hi=self.hi)

    @property
    def bounds(self) -> str:
        """``1..1440``: the range as ``--help`` and the messages state it."""
        if self.kind == "int":
            return f"{int(self.lo)}..{int(self.hi)}"
        return f"{self.lo:g}..{self.hi:g}"

    def problem(self, value: Any, label: str | None = None) -> str | None:
        """Why a typed value is not valid, or ``None`` (``label`` replaces the flag)."""
        ints = isinstance(value, int) and not isinstance(value, bool)
        number = ints or (self.kind == "float" and isinstance(value, float))
        if not number or not self.lo <= value <= self.hi:
            kind = "an integer" if self.kind == "int" else "a number"
            return f"{label or self.flag} {value!r}: expected {kind} in {self.bounds}"
        return None


#: Every numeric option of a soak and its bounds (documented in docs/ERRORS.md).
NUMBER_OPTIONS: Mapping[str, NumberOption] = {
    "iterations": NumberOption("--iterations", "int", 1, MAX_ITERATIONS),
    "seed": NumberOption("--seed", "int", 0, MAX_SEED),
    "sim_minutes": NumberOption("--sim-minutes", "int", 1, MAX_SIM_MINUTES),
    "sleep_seconds": NumberOption("--sleep-seconds", "float", 0, MAX_WAIT_S),
}
#: Options a resumed run keeps from its ``RUN.json`` (asking for another value is refused).
RESUME_KEEPS = ("profile", "iterations", "mode", "seed", "sim_minutes", "gate", "sets", "tune",
                "market", "market_data", "strategy")
#: What a ``RUN.json`` written before an option existed means by leaving it out.
RECORDED_DEFAULTS: Mapping[str, Any] = {"market": "default", "market_data": None,
                                        "strategy": DEFAULT_STRATEGY}


def sleep_from_env(env: Mapping[str, str]) -> float:
    """``SOAK_SLEEP_SECONDS`` as a number of seconds (default 0); a bad value names the variable."""
    text = env.get(SLEEP_ENV)
    if text is None:
        return 0.0
    option = NUMBER_OPTIONS["sleep_seconds"]
    try:
        return float(option.parse(text))
    except ValueError as exc:
        raise UsageError(f"{SLEEP_ENV}={show_value(text)}: {exc}") from None


def options_from_text(raw: Mapping[str, str | None]) -> tuple[dict[str, Any], list[str]]:
    """Parse the numeric options given as text; returns (values, every problem)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in raw.items():
        if text is None:
            continue
        option = NUMBER_OPTIONS[name]
        try:
            values[name] = option.parse(text)
        except ValueError as exc:
            problems.append(f"{option.flag} {show_value(text)}: {exc}")
    return values, problems


def option_problems(options: SoakOptions, label: Callable[[str], str] | None = None
                    ) -> list[str]:
    """Every bad option of ``options``, one line each (empty when all are valid).

    ``label`` names an option in the messages (default: its flag, ``--sim-minutes``; the
    ``soak`` report passes ``-p sim_minutes``).
    """
    name_of = label or (lambda field: f"--{field.replace('_', '-')}")
    problems = []
    for name, option in NUMBER_OPTIONS.items():
        value = getattr(options, name)
        if value is not None and (why := option.problem(value, name_of(name))):
            problems.append(why)
    if options.market_data is None and (why := choice_problem(name_of("mode"), options.mode,
                                                              MODES)):
        problems.append(why)
    if why := gate_problem(options.gate, name_of("gate")):
        problems.append(why)
    if options.baseline is not None:
        try:
            resolve_run_dir(options.artifacts, options.baseline)
        except SoakkitError as exc:
            problems.append(f"{name_of('baseline')} {options.baseline}: {exc}")
    return problems + ([] if problems else _market_problems(options))


def strategy_problems(options: SoakOptions, env: Mapping[str, str]) -> list[str]:
    """Why ``options.strategy`` cannot be used (one line), or nothing."""
    try:
        load_strategy(options.strategy, env)
    except SoakkitError as exc:
        return str(exc).splitlines()
    return []


def _market_problems(options: SoakOptions) -> list[str]:
    """What is wrong with the market a run would use (its tape or profile file), if anything."""
    try:
        if options.market_data is None:
            load_market(options.market, options.artifacts)
            return []
        from soakkit.sim.replay import stream_tape, windows_available  # replays only

        with fs_errors(options.market_data, "cannot read the tape"):
            tape = stream_tape(options.market_data)  # a bad tape: TapeError naming file and row
    except SoakkitError as exc:
        return str(exc).splitlines()
    have = windows_available(tape, options.sim_minutes)
    if have >= options.iterations:
        return []
    return [f"--market-data {options.market_data}: the tape covers "
            f"{tape.duration_s / 60:.1f} minutes: {have} window(s) of --sim-minutes "
            f"{options.sim_minutes}, fewer than --iterations {options.iterations}"]


def validate_options(options: SoakOptions) -> None:
    """Raise :class:`UsageError` listing every bad option (before anything runs)."""
    problems = option_problems(options)
    if problems:
        raise UsageError("\n".join(problems))


def resume_conflicts(run_id: str, recorded: Mapping[str, Any],
                     requested: Mapping[str, Any]) -> list[str]:
    """Options asked for on ``--resume`` that differ from the run's own, one line each."""
    out = []
    for name, asked in requested.items():
        have = recorded.get(name, RECORDED_DEFAULTS.get(name))
        value = list(asked) if name == "sets" else asked
        if name == "sets":
            have = list(have or [])
        if value != have:
            flag = "--no-tune" if name == "tune" else \
                f"--{'set' if name == 'sets' else name.replace('_', '-')} {value!r}"
            out.append(f"--resume {run_id}: {flag} conflicts with the run's own "
                       f"{name} {have!r}; a resumed run keeps its options (leave the flag "
                       "out, or start a new run)")
    return out
