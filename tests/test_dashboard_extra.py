"""bokeh is an extra (``soakkit[dashboard]``): a local sweep runs without it, with no
dashboard line, and nothing in soakkit imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, subprocess_env

SCRIPT = """\
import sys

sys.modules["bokeh"] = None  # as if soakkit[dashboard] were not installed

if __name__ == "__main__":
    from soakkit.cli import main

    code = main(sys.argv[1:])
    print("bokeh imported:", sys.modules.get("bokeh") is not None, file=sys.stderr)
    raise SystemExit(code)
"""


def test_nothing_in_soakkit_imports_bokeh() -> None:
    for path in (REPO / "soakkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                    else [node.module or ""]
                assert not any(n.split(".")[0] == "bokeh" for n in names), path


@pytest.mark.slow
def test_a_local_sweep_runs_without_bokeh(tmp_path: Path) -> None:
    script = tmp_path / "no_bokeh.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), "sweep", "--profiles", "steady_safe", "--modes", "calm",
         "--seeds", "1-2", "--tune", "on", "--iterations", "1", "--sim-minutes", "1",
         "--workers", "2", "--artifacts", str(tmp_path / "art"), "--now",
         "2026-01-01T00:00:00Z"],
        capture_output=True, text=True, env=subprocess_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 cells: 0 done earlier, 2 run now, 0 failed, 0 missing" in proc.stdout
    assert "local cluster, 2 worker process(es)" in proc.stderr  # one worker: no cluster
    assert "dashboard:" not in proc.stderr
    assert "bokeh imported: False" in proc.stderr
