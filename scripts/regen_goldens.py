"""Regenerate the golden notebooks that nbval checks (tests/golden/*.ipynb).

    python scripts/regen_goldens.py

Builds the deterministic artifacts (tests/golden_support.py) in a temporary folder,
executes every template in notebooks/ with papermill in tests/golden (the folder nbval runs
them in) with the pinned parameters of GOLDEN_PARAMS and, as nbval will, with the kernel
finding its artifacts through SOAKKIT_ARTIFACTS; then drops papermill's timing metadata and
gives the injected-parameters cell an id made from its source (papermill draws a random one),
so a regenerated golden only differs where an output did. Review the diff before committing it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from golden_support import (  # noqa: E402
    GOLDEN,
    GOLDEN_PARAMS,
    build_golden_artifacts,
    golden_env,
)

from soakkit.notebooks.kernel import papermill_with_unions  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="soakkit-goldens-") as tmp:
        base = Path(tmp)
        os.environ["SOAKKIT_CACHE_DIR"] = str(base / "cache")  # nothing in the user's cache
        build_golden_artifacts(base)
        for name, params in GOLDEN_PARAMS.items():
            os.environ.update(golden_env(base, name))  # the kernel inherits it
            out = GOLDEN / f"{name}.ipynb"
            papermill_with_unions().execute_notebook(
                str(REPO / "notebooks" / f"{name}.ipynb"), str(out), parameters=params,
                cwd=str(GOLDEN), progress_bar=False, kernel_name="python3")
            nb = nbformat.read(out, as_version=4)
            nb.metadata.pop("papermill", None)
            for cell in nb.cells:
                cell.metadata.pop("papermill", None)
                cell.metadata.pop("execution", None)
                if "injected-parameters" in cell.metadata.get("tags", []):
                    cell.id = hashlib.sha256(cell.source.encode()).hexdigest()[:8]
            nbformat.write(nb, out)
            print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
