"""Earlier values of the built-in profiles, and why they changed.

A built-in profile changes only with a reason and evidence (docs/CONFIG.md). Its earlier
values stay here, so that

* ``soakkit config migrate`` recognises a legacy file that holds a built-in's earlier values
  and says so (it keeps them as a user profile: runs behave as they did), and
* the gate's activity floor measures against a reference whose values do not move when a
  profile is re-tuned (:data:`soakkit.gate.REFERENCE_PROFILE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from soakkit.config.params import Value

__all__ = ["PROFILE_HISTORY", "ProfileRevision", "earlier_revision", "revision_values"]


@dataclass(frozen=True)
class ProfileRevision:
    """The values a built-in profile shipped with until ``until`` (an ISO date)."""

    profile: str
    revision: str  #: the name of these values, ``<profile>@<date they were first shipped>``
    until: str
    reason: str  #: why they changed
    params: Mapping[str, Value]


_RETUNE_25 = ("issue 25: on the realism engine the legacy sizes quote too small; a smaller "
              "limit with larger quotes earned more in every market at the same pass rate or "
              "better on calibration seeds (docs/TUNING.md)")

#: Every earlier revision of a built-in profile, oldest first.
PROFILE_HISTORY: tuple[ProfileRevision, ...] = (
    ProfileRevision("steady_safe", "steady_safe@2025-10-15", "2026-12-06", _RETUNE_25, {
        "base_spread_bps": 2.5, "base_spread_bps_delta": 0.16, "concurrency_limit": 10,
        "impact_cap_ratio": 0.08, "max_delta_ratio": 0.12, "min_interval_ms": 75,
        "position_limit_notional": 6000.0, "replace_rate_per_min": 260,
        "risk_budget_notional": 10000.0, "tail_age_ms": 740}),
    ProfileRevision("ultra_safe", "ultra_safe@2025-10-15", "2026-12-06", _RETUNE_25, {
        "base_spread_bps": 3.0, "base_spread_bps_delta": 0.16, "concurrency_limit": 10,
        "impact_cap_ratio": 0.08, "max_delta_ratio": 0.12, "min_interval_ms": 80,
        "position_limit_notional": 4500.0, "replace_rate_per_min": 240,
        "risk_budget_notional": 10000.0, "tail_age_ms": 700}),
    ProfileRevision("aggressive", "aggressive@2025-10-15", "2026-12-06", _RETUNE_25, {
        "base_spread_bps": 2.0, "base_spread_bps_delta": 0.1, "concurrency_limit": 10,
        "impact_cap_ratio": 0.12, "max_delta_ratio": 0.16, "min_interval_ms": 50,
        "position_limit_notional": 8000.0, "replace_rate_per_min": 320,
        "risk_budget_notional": 10000.0, "tail_age_ms": 500}),
    ProfileRevision("join_touch", "join_touch@2026-12-06", "2026-12-07",
                    "issue 25: join_touch is steady_safe at the touch; it follows steady_safe's "
                    "re-tuned limit and sizes", {
        "base_spread_bps": 2.5, "base_spread_bps_delta": 0.16, "concurrency_limit": 10,
        "impact_cap_ratio": 0.08, "max_delta_ratio": 0.12, "min_interval_ms": 75,
        "position_limit_notional": 6000.0, "quote_from_touch": 1, "replace_rate_per_min": 260,
        "risk_budget_notional": 10000.0, "tail_age_ms": 740, "touch_offset_ticks": 0}),
)


def revision_values(revision: str) -> dict[str, Value] | None:
    """The parameters of ``revision`` (``steady_safe@2025-10-15``), or ``None``."""
    found = next((r for r in PROFILE_HISTORY if r.revision == revision), None)
    return None if found is None else dict(found.params)


def earlier_revision(profile: str, params: Mapping[str, Value]) -> ProfileRevision | None:
    """The earlier revision of built-in ``profile`` whose values ``params`` all equal."""
    for rev in reversed(PROFILE_HISTORY):
        if rev.profile == profile and params and all(
                k in rev.params and rev.params[k] == v for k, v in params.items()):
            return rev
    return None
