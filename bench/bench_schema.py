"""The ITER_SUMMARY schema check: soakkit's compiled subset against fastjsonschema.

The catalog's bulk path reads thousands of ITER_SUMMARY files; the documents its polars
screen flags (and every document of a batch that falls back to the tolerant path) get the
full schema check (soakkit.core.schema). This times that check per document on real
documents (a seeded mini-soak's, renumbered), valid and with one fault each, against
fastjsonschema's generated validator and, as the same-run baseline, the JSON parse of the
same documents (orjson, which every checked file pays anyway). jsonschema's validator is
timed too, for scale.

    python bench/bench_schema.py --docs 20000 --reps 5 --out bench/out/schema.json

fastjsonschema comes with nbformat, not as soakkit's own dependency: without it only
soakkit's side and the baseline run.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import make_parser, save

import soakkit.core.schema as schema_module
from soakkit.artifacts.layout import (
    ITER_SUMMARY_SCHEMA,
    iter_summary_name,
    read_json_maybe_gz,
)
from soakkit.catalog.parse import Task, frame_from_files, parse_files
from soakkit.core.schema import Checker, compile_schema
from soakkit.soak import SoakOptions, run_soak


def _documents(count: int) -> list[dict[str, Any]]:
    """``count`` real ITER_SUMMARY documents: a short soak's, renumbered."""
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(SoakOptions(iterations=6, sim_minutes=2, mode="mixed", seed=3,
                                      gate="production", artifacts=Path(tmp),
                                      now="2026-01-01T00:00:00Z"), env={})
        docs = [read_json_maybe_gz(p) for p in sorted(result.run_dir.glob("ITER_SUMMARY_*"))]
    out = []
    for i in range(count):
        doc = copy.deepcopy(docs[i % len(docs)])
        doc["iteration"] = i + 1
        out.append(doc)
    return out


#: One fault per broken document: what a damaged or hand-edited file looks like.
FAULTS: list[Callable[[dict[str, Any]], None]] = [
    lambda d: d.pop("tuning"),
    lambda d: d["summary"].update(net_bps="2.1"),
    lambda d: d["gate"].update(verdict="MAYBE"),
    lambda d: d.update(surprise=1),
]


def _broken(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, doc in enumerate(docs):
        bad = copy.deepcopy(doc)
        FAULTS[i % len(FAULTS)](bad)
        out.append(bad)
    return out


def _best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fast_validator(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    try:
        import fastjsonschema
    except ImportError:
        return None
    validate = fastjsonschema.compile(schema)

    def ok(doc: Any) -> bool:
        try:
            validate(doc)
        except fastjsonschema.JsonSchemaException:
            return False
        return True
    return ok


def _bulk(docs: list[dict[str, Any]], fast: Callable[[Any], bool] | None,
          reps: int) -> dict[str, float]:
    """The catalog's bulk path over the documents written as files: the fast path (a polars
    screen; valid files never reach the schema check) against the tolerant path, which
    checks every file, with soakkit's checker and with fastjsonschema in its place."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tasks: list[Task] = []
        for doc in docs:
            path = Path(tmp) / iter_summary_name(doc["iteration"])
            path.write_bytes(orjson.dumps(doc))
            tasks.append((str(path), str(doc["run_id"]), "runs", "file", {},
                          doc["iteration"]))
        per = 1e6 / len(tasks)
        out["fast_path_us"] = _best(lambda: frame_from_files(tasks), reps) * per
        out["tolerant_soakkit_us"] = _best(lambda: parse_files(tasks), reps) * per
        if fast is not None:
            def gate(path: Path) -> Checker:
                def check(v: Any, where: str, problems: list[str]) -> None:
                    if not fast(v):
                        problems.append(f"{where}: does not match the schema")
                return check

            original = schema_module.schema_checker
            schema_module.schema_checker = gate  # type: ignore[assignment]
            try:
                out["tolerant_fastjsonschema_us"] = _best(lambda: parse_files(tasks),
                                                          reps) * per
            finally:
                schema_module.schema_checker = original
            out["tolerant_soakkit_over_fastjsonschema"] = (
                out["tolerant_soakkit_us"] / out["tolerant_fastjsonschema_us"])
        out["tolerant_soakkit_over_fast_path"] = out["tolerant_soakkit_us"] / out["fast_path_us"]
    return out


def main() -> int:
    p = make_parser(__doc__)
    p.add_argument("--docs", type=int, default=20_000, help="documents per pass")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--files", type=int, default=5_000, help="files of the bulk-path part")
    args = p.parse_args()
    schema = json.loads(ITER_SUMMARY_SCHEMA.read_text(encoding="utf-8"))
    ours = compile_schema(schema)
    fast = _fast_validator(schema)
    docs = _documents(args.docs)
    broken = _broken(docs)
    blobs = [orjson.dumps(d) for d in docs]

    def check_ours(batch: list[dict[str, Any]]) -> list[int]:
        found = []
        for doc in batch:
            problems: list[str] = []
            ours(doc, "$", problems)
            found.append(len(problems))
        return found

    # the two checkers agree on every document before anything is timed
    assert not any(check_ours(docs)) and all(check_ours(broken))
    if fast is not None:
        assert all(fast(d) for d in docs) and not any(fast(d) for d in broken)
    n = len(docs)
    us = 1e6 / n
    result: dict[str, Any] = {"args": vars(args) | {"out": str(args.out)}, "docs": n,
                              "load": os.getloadavg()[0]}
    parse_s = _best(lambda: [orjson.loads(b) for b in blobs], args.reps)
    ours_s = _best(lambda: check_ours(docs), args.reps)
    ours_bad_s = _best(lambda: check_ours(broken), args.reps)
    timing: dict[str, Any] = {
        "parse_us": parse_s * us, "soakkit_us": ours_s * us, "soakkit_broken_us": ours_bad_s * us,
        "soakkit_over_parse": ours_s / parse_s}
    if fast is not None:
        fast_s = _best(lambda: [fast(d) for d in docs], args.reps)
        fast_bad_s = _best(lambda: [fast(d) for d in broken], args.reps)
        timing |= {"fastjsonschema_us": fast_s * us, "fastjsonschema_broken_us": fast_bad_s * us,
                   "fastjsonschema_over_parse": fast_s / parse_s,
                   "soakkit_over_fastjsonschema": ours_s / fast_s,
                   "soakkit_over_fastjsonschema_broken": ours_bad_s / fast_bad_s}
    try:
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
        sample = docs[: max(1, n // 10)]
        js_s = _best(lambda: [validator.is_valid(d) for d in sample], max(1, args.reps // 2))
        timing["jsonschema_us"] = js_s * 1e6 / len(sample)
    except ImportError:
        pass
    result["timing"] = timing
    result["bulk"] = _bulk(docs[:args.files], fast, args.reps)
    print(f"per document ({n} documents, median of {args.reps}; bulk: {args.files} files; "
          f"load {result['load']:.1f}):")
    for key, value in (timing | result["bulk"]).items():
        print(f"  {key:<40} {value:10.2f}")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
