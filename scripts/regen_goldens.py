"""Regenerate the golden notebooks that nbval checks (tests/golden/*.ipynb).

    python scripts/regen_goldens.py

Rebuilds the deterministic artifacts (tests/golden_support.py), executes every template in
notebooks/ with papermill in tests/golden (the folder nbval runs them in) with the pinned
parameters of GOLDEN_PARAMS, and drops papermill's timing metadata so a regenerated golden
only differs where an output did. Review the diff before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import papermill

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from golden_support import GOLDEN, GOLDEN_PARAMS, build_golden_artifacts  # noqa: E402


def main() -> int:
    build_golden_artifacts()
    for name, params in GOLDEN_PARAMS.items():
        out = GOLDEN / f"{name}.ipynb"
        papermill.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(out),
                                   parameters=params, cwd=str(GOLDEN), progress_bar=False,
                                   kernel_name="python3")
        nb = nbformat.read(out, as_version=4)
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nbformat.write(nb, out)
        print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
