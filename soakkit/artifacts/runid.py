"""What a run is, in its id and in every run table: profile, market, seed, tuner, strategy.

A run id reads ``20261124T042913Z-steady_safe-mixed-s7-tuned``: start time (UTC, sortable),
profile, market, seed, and whether the live tuner was on (``tuned``) or off (``untuned``).
The market part is the synthetic market's mode (``calm``, ``volatile``, ``spike``,
``mixed``), followed by the market profile's name when it is not the default synthetic
market (``mixed.my-venue``, written by ``soakkit calibrate``), or ``replay.<tape>`` for a
recorded tape. A strategy other than :data:`~soakkit.config.params.DEFAULT_STRATEGY`
comes after the tuner (``-tuned-<strategy>``). A second run with the same id gets ``-2``.
A sweep cell's run id is the same body (:func:`run_id_body`) followed by the cell's key
instead of preceded by a start time (``steady_safe-mixed-s7-tuned-glft-1a2b3c4d5e6f``).

Run tables (the catalog, :func:`soakkit.catalog.load.run_summary`, the reports, the sweep
results) carry the same facts as columns: ``tune`` (bool), ``strategy`` and ``market``
(:func:`market_label`: ``synthetic``, ``calibrated:<name>`` or ``tape:<name>``) beside
``mode``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from soakkit.config.params import BUILTIN_STRATEGIES, DEFAULT_STRATEGY, strategy_id_part
from soakkit.core.errors import UsageError
from soakkit.core.io import MAX_UTC, MIN_UTC

__all__ = ["DEFAULT_MARKET_NAME", "RunIdParts", "make_run_id", "market_label", "market_tag",
           "parse_run_id", "run_facts", "run_id_body", "tuner_label"]

#: The synthetic market a run uses when it names none (``soakkit soak --market``).
DEFAULT_MARKET_NAME = "default"
#: The tuner's state, as a run id and the tables say it.
_TUNER = {True: "tuned", False: "untuned"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_CHARS = 32


def tuner_label(tune: bool | None) -> str:
    """``tuned``, ``untuned``, or ``?`` when a run did not record it (the legacy layout)."""
    return "?" if tune is None else _TUNER[bool(tune)]


def _short_name(text: str) -> str:
    """A market profile or tape as a short name: its file or folder name, safe in an id."""
    path = PurePath(text)
    name = path.name
    for suffix in (".gz", ".json", ".parquet", ".csv"):
        name = name.removesuffix(suffix)
    return _UNSAFE.sub("_", name)[:_NAME_CHARS] or "market"


def market_tag(mode: str, market: str | None = DEFAULT_MARKET_NAME,
               market_data: str | None = None) -> str:
    """The market part of a run id: ``mixed``, ``mixed.my-venue`` or ``replay.sample``."""
    if market_data:
        return f"{mode}.{_short_name(market_data)}"
    if market and market != DEFAULT_MARKET_NAME:
        return f"{mode}.{_short_name(market)}"
    return mode


def market_label(market: str | None = DEFAULT_MARKET_NAME,
                 market_data: str | None = None) -> str:
    """What a run traded on, for tables: ``synthetic``, ``calibrated:<name>`` or
    ``tape:<name>`` (the regime mode is a column of its own)."""
    if market_data:
        return f"tape:{_short_name(market_data)}"
    if market and market != DEFAULT_MARKET_NAME:
        return f"calibrated:{_short_name(market)}"
    return "synthetic"


def run_facts(options: Mapping[str, Any]) -> dict[str, Any]:
    """``tune``, ``strategy`` and ``market`` of a run from its ``RUN.json`` options.

    A run recorded before an option existed ran with its default: the tuner on, the
    default strategy, the default synthetic market. No options at all (the legacy layout)
    gives ``None`` for each.
    """
    if not options:
        return {"tune": None, "strategy": None, "market": None}
    tune = options.get("tune", True)
    strategy = options.get("strategy") or DEFAULT_STRATEGY
    market = options.get("market")
    data = options.get("market_data")
    return {"tune": tune if isinstance(tune, bool) else None,
            "strategy": strategy if isinstance(strategy, str) else None,
            "market": market_label(market if isinstance(market, str) else None,
                                   data if isinstance(data, str) else None)}


def run_id_body(profile: str, market: str, seed: int, *, tune: bool,
                strategy: str = DEFAULT_STRATEGY) -> str:
    """``steady_safe-volatile-s7-tuned``: what a run is, in the one order every id says it.

    Profile, market, seed, tuner, then a strategy other than the default
    (``-tuned-glft``). A soak run's id puts its start time before it
    (:func:`make_run_id`), a sweep cell's its key after it
    (:func:`soakkit.sweep.task.cell_run_id`).
    """
    body = f"{profile}-{market}-s{seed}-{tuner_label(tune)}"
    return body if strategy == DEFAULT_STRATEGY else f"{body}-{strategy_id_part(strategy)}"


def make_run_id(started: datetime, profile: str, market: str, seed: int, *, tune: bool,
                strategy: str = DEFAULT_STRATEGY) -> str:
    """``20261124T042913Z-steady_safe-volatile-s7-tuned``: sortable by start time, readable.

    ``market`` is :func:`market_tag`'s; the rest is :func:`run_id_body`.
    ``started`` must lie in :data:`~soakkit.core.io.MIN_UTC`..``MAX_UTC`` (a four-digit
    year; ``--now`` is checked against the same window), else :class:`UsageError`.
    """
    if not MIN_UTC <= started <= MAX_UTC:
        raise UsageError(f"the clock says {started.isoformat()}, outside "
                         f"{MIN_UTC:%Y-%m-%d}..{MAX_UTC:%Y-%m-%d}: no run id can be made")
    body = run_id_body(profile, market, seed, tune=tune, strategy=strategy)
    return f"{started.strftime('%Y%m%dT%H%M%SZ')}-{body}"


@dataclass(frozen=True)
class RunIdParts:
    """What a run id made by :func:`make_run_id` says (``tune`` is None in older ids)."""

    profile: str
    mode: str
    tune: bool | None


@functools.cache
def _made_run_id_re() -> re.Pattern[str]:
    from soakkit.sim.regimes import MODES  # numpy: not on the light commands' path

    modes = "|".join((*MODES, "replay"))
    # the strategy part is strategy_id_part's: a built-in name (some hold a hyphen) or
    # custom-<8 hex digits>
    strategies = "|".join((*map(re.escape, BUILTIN_STRATEGIES), "custom-[0-9a-f]{8}"))
    return re.compile(rf"^\d{{8}}T\d{{6}}Z-(?P<profile>.+?)-(?P<mode>{modes})(?:\.[A-Za-z0-9_-]+)?"
                      rf"-s\d+(?:-(?P<tuner>tuned|untuned))?(?:-(?:{strategies}))?(?:-\d+)?$")


def parse_run_id(run_id: str) -> RunIdParts | None:
    """The profile, mode and tuner of a :func:`make_run_id` id (``-2`` suffix allowed)."""
    m = _made_run_id_re().match(run_id)
    if m is None:
        return None
    tuner = m.group("tuner")
    return RunIdParts(m.group("profile"), m.group("mode"),
                      None if tuner is None else tuner == "tuned")
