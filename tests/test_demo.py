"""`soakkit demo`, the README's main job, end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import run_subprocess


@pytest.mark.slow
def test_demo_produces_browsable_reports(tmp_path: Path) -> None:
    result = run_subprocess("demo", "--iterations", "6", cwd=tmp_path,
                            env={"SOAKKIT_CACHE_DIR": os.environ["SOAKKIT_CACHE_DIR"]})
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    assert len(lines) == 3, lines  # one line per report, with its verdict
    verdicts = ("verdict PASS", "verdict WARN", "verdict FAIL", "within budget",
                "OVER BUDGET")
    for line, name in zip(lines, ("soak", "kpi", "disk"), strict=True):
        html = tmp_path / "reports" / "latest" / name / "report.html"
        assert html.is_file() and html.stat().st_size > 50_000, name
        assert line.endswith(f" -> reports/latest/{name}/report.html"), line
        assert any(line.startswith(f"report {name}: {v} ->") for v in verdicts), line
    root = tmp_path / "artifacts" / "soak"
    runs = sorted(p.name for p in (root / "runs").iterdir())
    assert len(runs) == 2 and runs[0].endswith("-untuned") and runs[1].endswith("-tuned")
    # latest is the tuned run the demo reports on, linked to its baseline
    assert (root / "latest").resolve().name == runs[1]
    meta = json.loads((root / "runs" / runs[1] / "RUN.json").read_text())
    assert meta["baseline"] == runs[0] and meta["options"]["tune"] is True
    assert meta["options"]["strategy"] == "legacy"
    kpi = json.loads((tmp_path / "reports/latest/kpi/kpis.json").read_text())["kpi"]
    assert (kpi["run_id"], kpi["baseline"]) == (runs[1], runs[0])
    assert (root / "rotation/ROTATION_LOG.jsonl").is_file()


def test_demo_rejects_a_bad_flag_before_starting_a_kernel(tmp_path: Path) -> None:
    result = run_subprocess("demo", "--iterations", "0", cwd=tmp_path)
    assert result.code == 2
    assert result.err.strip() == ("soakkit: error: soakkit demo: argument --iterations: 0: "
                                  "expected a value 1..100000 (see --help)")
    assert not (tmp_path / "reports").exists() and not (tmp_path / "artifacts").exists()
