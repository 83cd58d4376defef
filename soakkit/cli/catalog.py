"""`soakkit catalog`: a per-run summary sized to the terminal, or every run x iteration."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import (
    add_artifacts,
    formatter,
    int_arg,
    path_arg,
    terminal_columns,
)
from soakkit.core.errors import ExitCode, exit_codes_help
from soakkit.core.messages import note, warning

#: Per-run view: catalog summary column → header, in display order.
RUN_VIEW = {"run_id": "run", "tune": "tuner", "iterations": "iter", "verdict": "verdict",
            "pnl_usd": "pnl_usd", "risk_ratio_max": "risk", "duration_s": "time_s",
            "started_utc": "started", "profile": "profile", "mode": "mode",
            "strategy": "strategy", "market": "market"}
#: Per-iteration view: catalog column → header, in display order.
ITERATION_VIEW = {"run_id": "run", "tune": "tuner", "iteration": "iter", "regime": "regime",
                  "verdict": "verdict", "pnl_usd": "pnl_usd", "net_bps": "net_bps",
                  "risk_ratio": "risk", "maker_taker_ratio": "m/t",
                  "p95_latency_ms": "p95_ms", "rules_fired": "rules"}
#: Headers hidden first when a view does not fit (run ids carry profile, market, seed and
#: tuner; the tuner column stays, so a glance down one column tells tuned runs apart).
HIDE_ORDER = {"runs": ("started", "strategy", "market", "profile", "mode", "time_s", "risk"),
              "iterations": ("rules", "p95_ms", "m/t", "regime", "net_bps", "risk")}


def _width(args: argparse.Namespace) -> int:
    """``--width``, else the terminal's (``$COLUMNS``; 80 when stdout is not a terminal)."""
    return int(args.width) if args.width is not None else terminal_columns()



#: ``--json``'s times: ISO-8601 UTC, fractions of a second only where there are some.
JSON_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def _write_json(frame: Any) -> None:
    """Every row as one compact JSON array of objects, the bytes of polars' ``write_json``.

    polars writes the rows as NDJSON (about half the CPU of ``write_json``), streamed
    (:func:`soakkit.cli._stream.piped`) with each object's newline turned into the comma
    between two objects: a raw newline only ever ends an object (JSON escapes the ones
    inside strings). No row becomes a Python dict.

    Times are ISO-8601 UTC strings; a NaN or infinite number is ``null`` (JSON has none)."""
    import polars as pl

    from soakkit.cli._stream import piped, stdout_writer

    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    frame = frame.with_columns(pl.col(c).dt.strftime(JSON_TIME_FORMAT) for c in times)
    write = stdout_writer()
    held = b"["  # written before the next text: "[" first, then the comma a newline became
    with piped(frame.write_ndjson, "soakkit-json") as chunks:
        for chunk in chunks:
            text = memoryview(chunk.replace(b"\n", b","))
            write(held)
            write(text[:-1])
            held = bytes(text[-1:])
    if held not in (b"[", b","):  # polars ends every object with a newline; if not, keep it
        write(held)
    write(b"[]\n" if held == b"[" else b"]\n")  # the last object's comma is dropped
    sys.stdout.flush()


def _write_csv(frame: Any) -> None:
    """Every row as CSV with a header, list columns joined by ``;``, streamed
    (:func:`soakkit.cli._stream.piped`)."""
    import polars as pl

    from soakkit.cli._stream import piped, stdout_writer

    flat = frame.with_columns(pl.col(c).list.join(";") for c, t in frame.schema.items()
                              if isinstance(t, pl.List))
    write = stdout_writer()
    with piped(flat.write_csv, "soakkit-csv") as chunks:
        for chunk in chunks:
            write(chunk)
    sys.stdout.flush()


def _report(problems: tuple[str, ...], notes: tuple[str, ...]) -> int:
    """The catalog's problems and notes on stderr; the exit code they make."""
    for problem in problems:
        warning(problem)
    for line in notes:  # where a run's iteration log could not be used, and why
        note(line)
    return ExitCode.PROBLEMS if problems else ExitCode.OK


def _print_table(names: list[str], rows: Any, args: argparse.Namespace, kind: str) -> None:
    """``rows`` under ``names``, fitted to the width, then a footer naming what was hidden."""
    from soakkit.core.tables import fit_text_rows

    width = _width(args)
    text, hidden = fit_text_rows(names, rows, width, whole=("run",),
                                 optional=HIDE_ORDER[kind])
    print(text)
    footer = f"{len(rows)} {'iteration(s)' if kind == 'iterations' else 'run(s)'}"
    if hidden:
        footer += (f"; hidden at {width} columns: {', '.join(hidden)} (--width N, --json, "
                   "--csv or --parquet show everything)")
    if len(footer) > max(width, 20):
        import textwrap  # only for a footer that needs wrapping

        footer = textwrap.fill(footer, max(width, 20))
    print(footer)


def _tuner(value: bool | None) -> str | None:
    """The tuner column's text: on, off, or None (the legacy layout did not record it)."""
    return None if value is None else "on" if value else "off"


def _cmd_runs(args: argparse.Namespace) -> int:
    """The default view: one line per run, read ready from the cache when nothing changed
    (no polars import then: :mod:`soakkit.catalog.runs_view`)."""
    from soakkit.catalog.runs_view import runs_view

    view = runs_view(args.artifacts, cache=not args.no_cache, refresh=args.refresh,
                     need=(*RUN_VIEW, "tune"))
    code = _report(view.problems, view.notes)
    at = [view.columns.index(c) for c in RUN_VIEW]
    tune = view.columns.index("tune")
    rows = [tuple(_tuner(row[i]) if i == tune else row[i] for i in at) for row in view.rows]
    _print_table(list(RUN_VIEW.values()), rows, args, "runs")
    return code


def _cmd_catalog(args: argparse.Namespace) -> int:
    from soakkit.core.errors import UsageError

    if args.width is not None and args.width < 20:
        raise UsageError(f"--width {args.width}: expected at least 20 characters")
    replacing = args.parquet is not None and os.path.lexists(args.parquet)
    if replacing and not args.force:
        raise UsageError(f"--parquet {args.parquet}: a file is already there; --force "
                         "replaces it")
    if not (args.csv or args.json or args.iterations or args.parquet is not None):
        return _cmd_runs(args)

    from soakkit.catalog.entry import load_catalog
    from soakkit.core.errors import fs_errors

    # polars is imported once the load has started listing the files (soakkit.catalog.entry)
    catalog = load_catalog(args.artifacts, cache=not args.no_cache, refresh=args.refresh)
    code = _report(catalog.problems, catalog.notes)
    frame = catalog.frame
    if args.csv:
        _write_csv(frame)
    elif args.json:
        _write_json(frame)
    elif args.parquet is not None:
        from soakkit.core.io import atomic_writer

        with fs_errors(args.parquet, "cannot write the Parquet file"), \
                atomic_writer(args.parquet) as out:
            frame.write_parquet(out)
        print(f"{frame.height} iteration row(s) of {frame['run_id'].n_unique()} run(s) "
              f"-> {args.parquet}" + (" (replaced)" if replacing else ""))
    else:
        table = frame.sort(["run_id", "iteration"]).select(list(ITERATION_VIEW))
        rows = [tuple(_tuner(v) if c == "tune" else v for c, v in zip(table.columns, row,
                                                                     strict=True))
                for row in table.iter_rows()]
        _print_table(list(ITERATION_VIEW.values()), rows, args, "iterations")
    return code


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "catalog", help=COMMANDS["catalog"],
        formatter_class=formatter,
        description="Loads new-layout runs, the legacy latest/ folder, compressed iteration files "
                    "and rotated\nhistory, with an incremental cache (see soakkit.catalog.load). "
                    "Prints one line per run\n(run, tuner on/off, iterations, verdict, P&L, worst "
                    "risk ratio, time, start,\nprofile, mode, strategy, market) sized to the "
                    "terminal, never wrapped; the tuner column\nis never hidden. "
                    "--iterations prints one line per iteration. --json, --csv and\n--parquet "
                    "give every column of every iteration, for scripts. Corrupt files are\n"
                    "reported on stderr and skipped.",
        epilog="examples:\n  soakkit catalog\n  soakkit catalog --iterations --width 120\n"
               "  soakkit catalog --parquet runs.parquet\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.USAGE, ExitCode.PROBLEMS], {
                   ExitCode.USAGE: "usage error or an artifacts folder that does not exist",
                   ExitCode.PROBLEMS: "table printed, but files were skipped (one "
                                      "`soakkit: warning:` line each on stderr)"}))
    add_artifacts(p, "artifacts root")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--iterations", action="store_true", help="one line per run x iteration")
    fmt.add_argument("--json", action="store_true",
                     help="every row and column as one JSON array of objects (compact; "
                          "NaN as null)")
    fmt.add_argument("--csv", action="store_true", help="CSV (list columns joined with ';')")
    fmt.add_argument("--parquet", type=path_arg, metavar="OUT",
                     help="write a Parquet file (an existing OUT needs --force)")
    p.add_argument("--force", action="store_true",
                   help="with --parquet: replace the file already at OUT")
    p.add_argument("--width", type=int_arg(20, 10_000), metavar="N",
                   help="characters per line (default: the terminal's, 80 when not a terminal)")
    p.add_argument("--refresh", action="store_true", help="re-read every file")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=_cmd_catalog)
