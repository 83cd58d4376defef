"""`soakkit catalog`: every run x iteration as one table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from soakkit.cli._common import DEFAULT_ARTIFACTS, formatter

#: One line for ``soakkit --help`` (lets it list this command without building it).
HELP = "every run x iteration as one table (JSON or CSV for scripts)"


def _cmd_catalog(args: argparse.Namespace) -> int:
    from soakkit.catalog import load_catalog, to_records

    catalog = load_catalog(args.artifacts, cache=not args.no_cache, refresh=args.refresh)
    for problem in catalog.problems:
        print(f"soakkit: warning: {problem}", file=sys.stderr)
    for note in catalog.notes:  # where a run's iteration log could not be used, and why
        print(f"soakkit: note: {note}", file=sys.stderr)
    frame = catalog.frame
    if args.csv:
        import polars as pl

        flat = frame.with_columns(pl.col(c).list.join(";") for c, t in frame.schema.items()
                                  if isinstance(t, pl.List))
        sys.stdout.write(flat.write_csv())
    elif args.json:
        sys.stdout.write(json.dumps(to_records(frame), indent=1, default=str) + "\n")
    else:
        import polars as pl

        with pl.Config(tbl_rows=40, tbl_cols=10):
            print(frame.select("run_id", "iteration", "source", "profile", "mode", "verdict",
                               "net_bps", "risk_ratio", "maker_taker_ratio", "p95_latency_ms"))
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "catalog", help=HELP,
        formatter_class=formatter,
        description="Loads new-layout runs, the legacy latest/ folder, compressed iteration files "
                    "and rotated\nhistory into one table, with an incremental cache (see "
                    "soakkit.catalog). Corrupt files\nare reported on stderr and skipped.")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, metavar="DIR",
                   help="artifacts root (default: artifacts/soak)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array of rows")
    fmt.add_argument("--csv", action="store_true", help="CSV (list columns joined with ';')")
    p.add_argument("--refresh", action="store_true", help="re-read every file")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=_cmd_catalog)


