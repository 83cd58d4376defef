"""The fast loop (``pytest -m "not slow"``) leaves the goldens and the browser checks out;
without ``-m`` (the whole suite, what scripts/test.sh and CI run) nothing is deselected."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import REPO, subprocess_env


@pytest.mark.slow
def test_the_fast_loop_deselects_every_golden_cell_and_browser_check() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m",
                           "not slow", "tests/golden", "tests/test_browser.py"],
                          cwd=REPO, capture_output=True, text=True, env=subprocess_env(),
                          timeout=300, check=False)
    assert proc.returncode == 5, proc.stdout + proc.stderr  # 5: no test selected
    deselected = re.search(r"no tests collected \((\d+) deselected\)", proc.stdout)
    assert deselected and int(deselected.group(1)) > 50, proc.stdout  # 62 cells, 8 checks


def test_the_whole_suite_deselects_nothing() -> None:
    """No ``-m`` in the default options, and scripts/test.sh (what .ci/run runs) gives none."""
    import tomllib

    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]["addopts"]
    assert "-m" not in addopts and "--nbval" in addopts
    runs = [line for line in (REPO / "scripts" / "test.sh").read_text().splitlines()
            if "-m pytest" in line and "determinism" not in line]
    assert runs and all(" -m " not in line.split("-m pytest", 1)[1] for line in runs)
