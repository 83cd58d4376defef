"""`soakkit config migrate` on a tree of legacy files, run twice."""

from __future__ import annotations

import json
from pathlib import Path

from soakkit.config.layers import resolve
from soakkit.config.runtime import read_runtime_overrides


def _legacy_tree(root: Path) -> dict[str, bytes]:
    files = {
        # the built-in steady_safe's values until its issue-25 re-tune: kept, and said so
        "steady_safe_overrides.json": {"base_spread_bps_delta": 0.16, "impact_cap_ratio": 0.08,
                                       "max_delta_ratio": 0.12, "min_interval_ms": 75,
                                       "replace_rate_per_min": 260, "tail_age_ms": 740},
        # a user's own tuned values
        "ultra_safe_overrides.json": {"base_spread_bps_delta": 0.2, "impact_cap_ratio": 0.07,
                                      "max_delta_ratio": 0.1, "min_interval_ms": 90,
                                      "replace_rate_per_min": 220, "tail_age_ms": 760},
        # nested legacy sections
        "steady_overrides.json": {"engine": {"min_interval_ms": 70, "tail_age_ms": 650},
                                  "risk": {"impact_cap_ratio": 0.09}},
        "applied_profile.json": {"profile": "S1", "applied_at": "2025-10-15T00:00:00Z",
                                 "risk": {"base_spread_bps_delta": 0.35,
                                          "impact_cap_ratio": 0.1, "max_delta_ratio": 0.15},
                                 "engine": {"min_interval_ms": 60, "replace_rate_per_min": 300,
                                            "tail_age_ms": 700}},
        # the corrupted live file: flat values plus deltas written as values, and _sources
        "runtime_overrides.json": {"base_spread_bps_delta": 0.14, "min_interval_ms": 75,
                                   "tail_age_ms": 740, "_sources": {"min_interval_ms": "cli"},
                                   "engine": {"min_interval_ms": 5, "tail_age_ms": 30},
                                   "risk": {"impact_cap_ratio": -0.01}},
        # a HEAD-era profile with metadata mixed into the values
        "profiles/aggressive_old.json": {"base_spread_bps_delta": 0.1, "impact_cap_ratio": 0.12,
                                         "max_delta_ratio": 0.16, "min_interval_ms": 50,
                                         "replace_rate_per_min": 320, "tail_age_ms": 500,
                                         "risk_limit": 0.4, "description": "old aggressive",
                                         "version": "1.0"},
    }
    out = {}
    for rel, doc in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))
        out[rel] = path.read_bytes()
    return out


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_dry_run_prints_a_diff_and_changes_nothing(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    _legacy_tree(artifacts)
    before = _snapshot(artifacts)
    result = cli("config", "migrate", "--path", str(artifacts), "--dry-run")
    assert result.code == 0, result.err
    assert _snapshot(artifacts) == before
    out = result.out
    assert "convert ultra_safe_overrides.json -> profiles/ultra_safe.json" in out
    assert "+++ b/profiles/ultra_safe.json" in out and '+  "schema_version": 1' in out
    assert ("values equal the built-in profile 'steady_safe' as it was until 2026-12-06 "
            "(steady_safe@2025-10-15); kept as a user profile") in out
    assert "mapped legacy engine.min_interval_ms -> min_interval_ms" in out
    assert "dropped nested engine.min_interval_ms=5: a delta written as a value" in out
    assert "dropped metadata '_sources'" in out
    assert "dropped 'risk_limit': not a soakkit parameter" in out
    assert "convert applied_profile.json -> profiles/s1.json" in out


def test_migrate_converts_backs_up_and_is_idempotent(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    originals = _legacy_tree(artifacts)
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == 0, result.err
    backups = list((artifacts / "migration-backup").iterdir())
    assert len(backups) == 1
    for rel, data in originals.items():  # every replaced or removed file is backed up
        assert (backups[0] / rel).read_bytes() == data
    for legacy in ("steady_safe_overrides.json", "ultra_safe_overrides.json",
                   "steady_overrides.json", "applied_profile.json"):
        assert not (artifacts / legacy).exists()
    kept = json.loads((artifacts / "profiles" / "steady_safe.json").read_text())
    assert kept["params"]["impact_cap_ratio"] == 0.08  # the 2025-10-15 values, not today's

    ultra = json.loads((artifacts / "profiles" / "ultra_safe.json").read_text())
    assert ultra["schema_version"] == 1 and ultra["params"]["min_interval_ms"] == 90
    steady = json.loads((artifacts / "profiles" / "steady.json").read_text())
    assert steady["params"] == {"impact_cap_ratio": 0.09, "min_interval_ms": 70,
                                "tail_age_ms": 650}
    old = json.loads((artifacts / "profiles" / "aggressive_old.json").read_text())
    assert old["description"] == "old aggressive"
    assert "risk_limit" not in old["params"] and "version" not in old["params"]
    runtime = read_runtime_overrides(artifacts / "runtime_overrides.json")
    assert runtime.values == {"base_spread_bps_delta": 0.14, "min_interval_ms": 75,
                              "tail_age_ms": 740}
    assert runtime.base_profile == "steady_safe"
    # the migrated files load through the normal, strict path
    cfg = resolve("steady_safe", artifacts=artifacts, env={},
                  runtime_path=artifacts / "runtime_overrides.json")  # based on the kept one
    assert cfg.values["min_interval_ms"] == 75 and cfg.values["impact_cap_ratio"] == 0.08
    assert resolve("ultra_safe", artifacts=artifacts, env={}).values["replace_rate_per_min"] == 220
    resolve("s1", artifacts=artifacts, env={})

    snapshot = _snapshot(artifacts)
    second = cli("config", "migrate", "--path", str(artifacts))
    assert second.code == 0
    assert "nothing to migrate" in second.out
    assert _snapshot(artifacts) == snapshot


def test_conflicting_existing_profile_refuses_everything(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    _legacy_tree(artifacts)
    (artifacts / "profiles" / "ultra_safe.json").write_text(json.dumps(
        {"schema_version": 1, "description": "mine", "params": {"min_interval_ms": 120}}))
    before = _snapshot(artifacts)
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == 2
    assert "conflict: ultra_safe_overrides.json: profiles/ultra_safe.json exists with " \
           "different values" in result.err
    assert "migration refused, nothing changed" in result.err
    assert _snapshot(artifacts) == before


def test_legacy_value_out_of_bounds_blocks_migration(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    (artifacts / "ultra_safe_overrides.json").write_text(json.dumps({"min_interval_ms": 5}))
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == 2
    assert "min_interval_ms: 5 is out of bounds" in result.err
    assert (artifacts / "ultra_safe_overrides.json").exists()


def test_values_equal_to_todays_built_in_need_no_profile(cli, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    today = resolve("steady_safe", env={}).values
    legacy = {k: today[k] for k in ("base_spread_bps_delta", "impact_cap_ratio",
                                    "max_delta_ratio", "min_interval_ms",
                                    "replace_rate_per_min", "tail_age_ms")}
    (artifacts / "steady_safe_overrides.json").write_text(json.dumps(legacy))
    result = cli("config", "migrate", "--path", str(artifacts))
    assert result.code == 0, result.err
    assert "values equal the built-in profile 'steady_safe': no user profile written" \
        in result.out
    assert not (artifacts / "profiles" / "steady_safe.json").exists()
