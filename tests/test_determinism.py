"""What holds across machines: artifact precision, and agreement between numpy's SIMD kernels.

Same inputs give the same bytes on one machine (tests/test_soak.py, tests/test_sim.py).
Across CPUs numpy may pick other SIMD kernels (AVX-512 or AVX2), whose ``exp``, ``log``
and sums differ in the last ulps; the artifacts therefore carry ``FLOAT_DIGITS``
significant digits, and these tests pin down what a user can rely on (docs/ARTIFACTS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soakkit.core.json_canonical import FLOAT_DIGITS, canonical_json, round_floats
from soakkit.soak import SoakOptions, run_soak

#: numpy's dispatch targets that carry the AVX-512 kernels (a no-op on CPUs without them).
NO_AVX512 = "AVX512_ICL X86_V4"
NOW = "2026-11-24T12:00:00Z"


def _leaves(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(doc, dict):
        for key in sorted(doc):
            yield from _leaves(doc[key], f"{path}.{key}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, doc


def test_round_floats_is_idempotent_and_keeps_ints() -> None:
    doc = {"a": 1 / 3, "b": [2.0000000000000004, 7], "c": True, "d": None, "e": 1e-300}
    once = round_floats(doc)
    assert round_floats(once) == once
    assert once["b"][1] == 7 and once["c"] is True and once["d"] is None
    assert canonical_json(doc) == canonical_json(once)
    assert json.loads(canonical_json(doc))["a"] == 0.3333333333
    assert json.loads(canonical_json(doc, digits=None))["a"] == 1 / 3  # lossless copies


@pytest.mark.determinism
def test_artifacts_carry_at_most_float_digits(tmp_path: Path) -> None:
    result = run_soak(SoakOptions(iterations=2, mode="mixed", sim_minutes=2, artifacts=tmp_path,
                                  now=NOW), env={})
    files = sorted(result.run_dir.glob("*.json"))
    assert len(files) >= 4
    for path in files:
        for where, value in _leaves(json.loads(path.read_text())):
            if isinstance(value, float):
                assert float(f"{value:.{FLOAT_DIGITS}g}") == value, (path.name, where, value)


SYNTHETIC = ("--iterations", "3", "--mode", "mixed", "--seed", "11", "--sim-minutes", "5")
#: the real L2 sample (receive times, 25 depth levels), replayed
REAL_L2 = ("--iterations", "3", "--sim-minutes", "1", "--seed", "11", "--market-data",
           str(Path(__file__).resolve().parent.parent / "examples" / "tapes"
               / "binance-spot-btcusdt"))


def _soak_in_child(artifacts: Path, npy_disable: str, market: tuple[str, ...] = SYNTHETIC
                   ) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    if npy_disable:
        env["NPY_DISABLE_CPU_FEATURES"] = npy_disable
    subprocess.run([sys.executable, "-m", "soakkit", "soak", *market, "--gate", "production",
                    "--artifacts", str(artifacts), "--now", NOW, "--quiet"],
                   env=env, check=False, capture_output=True, text=True)
    run = next((artifacts / "runs").iterdir())
    return {p.name: json.loads(p.read_text()) for p in sorted(run.glob("ITER_SUMMARY_*.json"))}


@pytest.mark.determinism
@pytest.mark.parametrize("market", [SYNTHETIC, REAL_L2], ids=["synthetic", "real-L2-replay"])
def test_values_agree_across_simd_kernels(tmp_path: Path, market: tuple[str, ...]) -> None:
    """With and without the AVX-512 kernels, every non-float is equal and every float agrees
    to within one unit in its last kept digit (relative 1e-9)."""
    default = _soak_in_child(tmp_path / "default", "", market)
    no_avx512 = _soak_in_child(tmp_path / "no-avx512", NO_AVX512, market)
    assert sorted(default) == sorted(no_avx512) == [f"ITER_SUMMARY_{n}.json" for n in (1, 2, 3)]
    for name, doc in default.items():
        other = dict(_leaves(no_avx512[name]))
        mine = dict(_leaves(doc))
        assert sorted(mine) == sorted(other), name
        for where, value in mine.items():
            if where.endswith(".duration_s"):
                continue  # wall-clock time, not a result
            if isinstance(value, float):
                assert value == pytest.approx(other[where], rel=1e-9, abs=1e-12), (name, where)
            else:
                assert value == other[where], (name, where)
