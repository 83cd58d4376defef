"""The precedence matrix: one key set in every subset of the layers → right winner and chain."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soakkit.config.layers import Layer, resolve
from soakkit.config.params import PARAMS, TUNABLE
from soakkit.config.runtime import write_runtime_overrides
from soakkit.core.digests import sha256_bytes

KEY = "min_interval_ms"
VALUES = {Layer.DEFAULTS: PARAMS[KEY].default, Layer.PROFILE: 71, Layer.RUNTIME: 72,
          Layer.ENV: 73, Layer.CLI: 74}


def _setup(root: Path, key: str, layers: dict[Layer, object]) -> tuple[dict[str, str], list[str],
                                                                      Path]:
    """Write a user profile and a runtime file; return env, --set list, runtime path."""
    profiles = root / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    params = {key: layers[Layer.PROFILE]} if Layer.PROFILE in layers else {}
    doc = {"schema_version": 1, "description": "matrix", "params": params}
    (profiles / "matrix.json").write_text(json.dumps(doc))
    runtime = root / "runtime_overrides.json"
    if runtime.exists():
        runtime.unlink()
    write_runtime_overrides(runtime, expected_revision=None, base_profile="matrix",
                            base_profile_sha256=sha256_bytes(json.dumps(doc).encode()),
                            values={key: layers[Layer.RUNTIME]} if Layer.RUNTIME in layers
                            else {}, applied=None)
    env = {f"SOAKKIT_PARAM_{key.upper()}": str(layers[Layer.ENV])} if Layer.ENV in layers else {}
    sets = [f"{key}={layers[Layer.CLI]}"] if Layer.CLI in layers else []
    return env, sets, runtime


def test_every_subset_of_layers(tmp_path: Path) -> None:
    optional = [Layer.PROFILE, Layer.RUNTIME, Layer.ENV, Layer.CLI]
    for r in range(len(optional) + 1):
        for subset in itertools.combinations(optional, r):
            present = [Layer.DEFAULTS, *subset]
            layers = {layer: VALUES[layer] for layer in present}
            env, sets, runtime = _setup(tmp_path, KEY, layers)
            cfg = resolve("matrix", artifacts=tmp_path, sets=sets, env=env, runtime_path=runtime)
            chain = cfg.chains[KEY]
            assert [s.origin.layer for s in chain] == present, subset
            assert [s.value for s in chain] == [VALUES[layer] for layer in present]
            assert cfg.values[KEY] == VALUES[present[-1]]
            assert (KEY in cfg.pinned) == bool({Layer.ENV, Layer.CLI} & set(subset))
            # every other key comes from defaults or the (empty) profile, never leaks
            assert all(cfg.values[k] == PARAMS[k].default for k in cfg.specs if k != KEY)


def test_env_sources_order_within_the_env_layer(tmp_path: Path) -> None:
    sources = {"MM_RUNTIME_OVERRIDES_JSON": 81, "SOAKKIT_OVERRIDES_JSON": 82,
               "SOAKKIT_PARAM_MIN_INTERVAL_MS": 83}
    for r in range(1, 4):
        for subset in itertools.combinations(sources, r):
            env = {name: (json.dumps({KEY: sources[name]}) if name.endswith("JSON")
                          else str(sources[name])) for name in subset}
            cfg = resolve("steady_safe", env=env)
            envs = [s for s in cfg.chains[KEY] if s.origin.layer == Layer.ENV]
            assert [s.origin.source for s in envs] == [f"env:{n}" for n in subset]
            assert cfg.values[KEY] == sources[subset[-1]]
            if "MM_RUNTIME_OVERRIDES_JSON" in subset:
                assert any("deprecated" in w for w in cfg.warnings)


def test_later_cli_set_wins_and_earlier_is_shadowed() -> None:
    cfg = resolve("steady_safe", sets=[f"{KEY}=90", f"{KEY}=91"], env={})
    assert cfg.values[KEY] == 91
    assert [s.value for s in cfg.chains[KEY]] == [65, 75, 90, 91]


_TUNABLE_INT = [k for k in TUNABLE if PARAMS[k].kind == "int"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(_TUNABLE_INT), mask=st.lists(st.booleans(), min_size=4, max_size=4),
       data=st.data())
def test_precedence_property(tmp_path: Path, key: str, mask: list[bool], data: st.DataObject) -> None:
    spec = PARAMS[key]
    optional = [Layer.PROFILE, Layer.RUNTIME, Layer.ENV, Layer.CLI]
    layers: dict[Layer, object] = {Layer.DEFAULTS: spec.default}
    for layer, on in zip(optional, mask, strict=True):
        if on:
            layers[layer] = data.draw(st.integers(int(spec.lo), int(spec.hi)), label=layer.label)
    env, sets, runtime = _setup(tmp_path, key, layers)
    cfg = resolve("matrix", artifacts=tmp_path, sets=sets, env=env, runtime_path=runtime)
    present = sorted(layers)
    assert cfg.values[key] == layers[present[-1]]
    assert [s.origin.layer for s in cfg.chains[key]] == present
    assert [s.value for s in cfg.chains[key]] == [layers[layer] for layer in present]


def test_done_when_show_json(cli) -> None:  # type: ignore[no-untyped-def]
    """The issue's acceptance command: 78 from the CLI, the rest from profile:steady_safe."""
    result = cli("config", "show", "--profile", "steady_safe", "--set", "min_interval_ms=78",
                 "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    profile_sha = sha256_bytes(Path(doc["profile"]["path"]).read_bytes())
    assert doc["profile"]["sha256"] == profile_sha
    params = doc["params"]
    assert params[KEY]["value"] == 78
    assert params[KEY]["origin"] == {"layer": "cli", "source": "cli:--set min_interval_ms=78"}
    assert [s["origin"]["layer"] for s in params[KEY]["shadowed"]] == ["defaults", "profile"]
    in_profile = json.loads(Path(doc["profile"]["path"]).read_text())["params"]
    for key, entry in params.items():
        if key == KEY:
            continue
        if key not in in_profile:  # a parameter newer than the profile: its default
            assert entry["origin"] == {"layer": "defaults", "source": "defaults"}, key
            continue
        assert entry["origin"]["source"] == "profile:steady_safe", key
        assert entry["origin"]["sha256"] == profile_sha
    assert "_sources" not in json.dumps(doc)
