"""What a mini-soak runs: :class:`SoakOptions`, their validation, and ``SOAK_SLEEP_SECONDS``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soakkit.artifacts import market_profile_path, resolve_artifacts
from soakkit.errors import UsageError
from soakkit.gate import check_gate_name
from soakkit.sim.calibrate import read_market_profile
from soakkit.sim.regimes import DEFAULT_MARKET, MODES, MarketProfile
from soakkit.sim.replay import load_tape, windows_available

__all__ = ["REPLAY_MODE", "SLEEP_ENV", "SoakOptions", "load_market", "sleep_from_env",
           "validate_options"]

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
    #: :func:`soakkit.artifacts.resolve_artifacts`), else ``./artifacts/soak``
    artifacts: Path = field(default_factory=lambda: resolve_artifacts(create=True))
    tune: bool = True
    sleep_seconds: float | None = None  #: None: take SOAK_SLEEP_SECONDS (default 0)
    now: str | None = None  #: freeze the clock (ISO-8601); also SOAKKIT_NOW
    market: str = "default"  #: synthetic market profile: a name or a JSON file
    market_data: Path | None = None  #: replay this recorded tape instead of a synthetic market

    @property
    def run_mode(self) -> str:
        """``mode``, or ``replay`` when a recorded tape is replayed."""
        return REPLAY_MODE if self.market_data is not None else self.mode

    def to_json(self) -> dict[str, Any]:
        """The options that determine a run's results (stored in ``RUN.json``)."""
        return {"profile": self.profile, "iterations": self.iterations, "mode": self.run_mode,
                "seed": self.seed, "sim_minutes": self.sim_minutes, "gate": self.gate,
                "sets": list(self.sets), "tune": self.tune, "market": self.market,
                "market_data": str(self.market_data) if self.market_data else None}


def load_market(name: str, artifacts: Path) -> MarketProfile:
    """The synthetic market ``name``: ``default``, a JSON file, or ``<artifacts>/markets/``."""
    if name == DEFAULT_MARKET.name:
        return DEFAULT_MARKET
    path = Path(name)
    if not (path.suffix == ".json" or path.is_file()):
        path = market_profile_path(artifacts, name)
    if not path.is_file():
        raise UsageError(f"--market {name}: no market profile at {path} (write one with "
                         f"`soakkit calibrate TAPE --name {name}`)")
    return read_market_profile(path)


def sleep_from_env(env: Mapping[str, str]) -> float:
    """``SOAK_SLEEP_SECONDS`` as a float >= 0 (default 0); a bad value names the variable."""
    text = env.get(SLEEP_ENV)
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{SLEEP_ENV}={text!r}: expected a number of seconds >= 0") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{SLEEP_ENV}={text!r}: expected a finite number of seconds >= 0")
    return value


def validate_options(options: SoakOptions) -> None:
    """Raise :class:`UsageError` naming the first bad option (before anything runs)."""
    if options.iterations < 1:
        raise UsageError(f"--iterations {options.iterations}: expected an integer >= 1")
    if options.mode not in MODES and options.market_data is None:
        raise UsageError(f"--mode {options.mode!r}: expected one of {', '.join(MODES)}")
    if not 1 <= options.sim_minutes <= 1440:
        raise UsageError(f"--sim-minutes {options.sim_minutes}: expected 1..1440")
    if options.sleep_seconds is not None and (not math.isfinite(options.sleep_seconds)
                                              or options.sleep_seconds < 0):
        raise UsageError(f"--sleep-seconds {options.sleep_seconds}: expected a number >= 0")
    if options.seed < 0:
        raise UsageError(f"--seed {options.seed}: expected an integer >= 0")
    check_gate_name(options.gate)
    if options.market_data is not None:
        tape = load_tape(options.market_data)  # a bad tape is a TapeError naming file and row
        have = windows_available(tape, options.sim_minutes)
        if have < options.iterations:
            raise UsageError(
                f"--market-data {options.market_data}: the tape covers "
                f"{tape.duration_s / 60:.1f} minutes: {have} window(s) of --sim-minutes "
                f"{options.sim_minutes}, fewer than --iterations {options.iterations}")
    else:
        load_market(options.market, options.artifacts)
