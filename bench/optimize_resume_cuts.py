"""Cut a study at every write it makes, resume it, and compare with the uninterrupted one.

`soakkit optimize` promises that a study killed at any moment and rerun concludes as the
uninterrupted study does (docs/OPTIMIZE.md, "Deterministic"). A SIGKILL lands between two
of the study's writes: the records Optuna appends to its journal (one per trial created,
parameter, attribute, constraint, tell), the rows soakkit stores per configuration and the
study's ``result.json``.
This runs one small study in this process (one worker: no cluster) counting those writes,
then for each cut ``k`` runs it again dying just before write ``k`` (an exception nothing
catches, the in-process stand-in for SIGKILL: no later write happens), reruns it to the end
and compares the trials and ``result.json`` (the profile's path aside) with the reference.

    python bench/optimize_resume_cuts.py --trials 20 --cuts all --out cuts.json
    python bench/optimize_resume_cuts.py --cuts 9,13,17     # the cuts that diverged before e1609fb
    python bench/optimize_resume_cuts.py --cuts 1-80,81-342/3   # ranges, every third
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import load_average, make_parser, save
from optuna.storages.journal import JournalFileBackend

from soakkit.optimize import OptimizeSpec, run_optimize
from soakkit.optimize.search import open_study
from soakkit.optimize.store import StudyStore, studies_root

NOW = "2026-01-01T00:00:00Z"
NAME = "cuts"


class Killed(BaseException):
    """The client dies here."""


class Writes:
    """Counts the study's writes and dies before write ``cut`` and every later one (None:
    never), so nothing a dying client's clean-up would write reaches the study."""

    def __init__(self) -> None:
        self.count, self.cut, self.what = 0, None, ""

    def wrap(self, write: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            if self.cut is not None and self.count >= self.cut:
                if self.count == self.cut:
                    op = args[1][0].get("op_code") if kind == "journal" else None
                    self.what = getattr(op, "name", kind).lower()
                raise Killed
            return write(*args, **kwargs)
        return counted


def parse_cuts(text: str, total: int) -> list[int]:
    """``all``, or comma-separated cuts: ``9``, ``1-80`` (a range), ``81-342/3`` (every
    third); those above ``total`` are dropped."""
    if text == "all":
        return list(range(1, total + 1))
    cuts: list[int] = []
    for item in text.split(","):
        span, _, step = item.partition("/")
        first, _, last = span.partition("-")
        cuts += range(int(first), int(last or first) + 1, int(step or 1))
    return sorted({c for c in cuts if 1 <= c <= total})


def _spec(art: Path, trials: int) -> OptimizeSpec:
    return OptimizeSpec(modes=("calm",), seeds=(1, 2, 3), eval_seeds=(101, 102, 103),
                        iterations=4, sim_minutes=1,
                        params=("base_spread_bps_delta", "max_delta_ratio"), trials=trials,
                        name=NAME, artifacts=art, now=NOW, workers=1, write_profile="never")


def _outcome(art: Path) -> tuple[list[Any], dict[str, Any]]:
    folder = studies_root(art) / NAME
    trials = [(t.number, t.state.name, t.params, t.values, t.constraints)
              for t in open_study(StudyStore(folder), read_only=True).trials]
    result = json.loads((folder / "result.json").read_text())
    result.pop("profile", None)
    return trials, result


def main() -> int:
    ap = make_parser(__doc__)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--cuts", default="all", help="all, or cuts: 9,13,17 or 1-80,81-342/3")
    args = ap.parse_args()
    writes = Writes()
    JournalFileBackend.append_logs = writes.wrap(  # type: ignore[method-assign]
        JournalFileBackend.append_logs, "journal")
    StudyStore.write_rows = writes.wrap(StudyStore.write_rows, "rows")  # type: ignore[method-assign]
    StudyStore.write_result = writes.wrap(  # type: ignore[method-assign]
        StudyStore.write_result, "result")
    root = Path(tempfile.mkdtemp(prefix="soakkit-cuts-"))
    try:
        started, load = time.perf_counter(), load_average()
        run_optimize(_spec(root / "ref", args.trials))
        reference, total = _outcome(root / "ref"), writes.count
        cuts = parse_cuts(args.cuts, total)
        diverged: list[dict[str, Any]] = []
        for cut in cuts:
            art = root / f"cut{cut}"
            writes.count, writes.cut = 0, cut
            with contextlib.suppress(Killed):
                run_optimize(_spec(art, args.trials))
            writes.cut = None
            run_optimize(_spec(art, args.trials))
            if _outcome(art) != reference:
                diverged.append({"cut": cut, "write": writes.what})
            shutil.rmtree(art)
            print(f"cut {cut}/{total} ({writes.what}): "
                  f"{'diverged' if diverged and diverged[-1]['cut'] == cut else 'same'}",
                  file=sys.stderr, flush=True)
        data = {"trials": args.trials, "writes": total, "cuts": len(cuts),
                "diverged": diverged, "seconds": round(time.perf_counter() - started, 1),
                "load_before": load}
        print(json.dumps(data))
        save(args.out, data)
        return 1 if diverged else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
