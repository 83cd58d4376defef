"""How one rotation action is printed and logged.

An action is ``(phase, verb, path, reason, bytes)``: a dry run prints it as
``  would delete    runs/r1/ITER_SUMMARY_3.json  delete:beyond_keep_latest(...)``, a real
run adds ``  -> <outcome>``, and ``rotation/ROTATION_LOG.jsonl`` records it as an entry.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["Action", "action_entry", "action_lines", "human_bytes", "mib"]

#: (phase, verb, path, reason, bytes) of one action: what a log entry and a printed line hold.
Action = tuple[str, str, str, str, int]


def action_entry(phase: str, verb: str, path: str, reason: str, size: int) -> dict[str, Any]:
    """The log entry of one action (a path that is not UTF-8 also goes base64-encoded)."""
    entry: dict[str, Any] = {"phase": phase, "action": verb, "path": path, "reason": reason,
                             "bytes": size}
    if not path.isascii():
        _add_b64(entry, path)
    return entry


def action_lines(label: str, paths: list[str], reasons: list[str],
                 outcomes: list[str] | None = None) -> str:
    """Printed actions, one line each:
    ``  would delete    runs/r1/ITER_SUMMARY_3.json  delete:beyond_keep_latest(...)``, and
    ``  -> <outcome>`` after a real run's."""
    head = f"  {label:<15} "
    if outcomes is None:
        return "".join([f"{head}{path}  {reason}\n"
                        for path, reason in zip(paths, reasons, strict=True)])
    return "".join([f"{head}{path}  {reason}  -> {outcome}\n"
                    for path, reason, outcome in zip(paths, reasons, outcomes, strict=True)])


def mib(n: int) -> str:
    """Bytes as printed: ``2.1 MiB``."""
    return f"{n / 1048576:.1f} MiB"


def human_bytes(n: int) -> str:
    """Bytes in the largest binary unit that keeps a digit before the point: ``812 B``,
    ``12.3 KiB``, ``4.1 MiB`` (a dry run's summary, where sizes span many magnitudes)."""
    size, unit = float(n), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"


def _add_b64(entry: dict[str, Any], path: str) -> None:
    """A path that is not valid UTF-8 (an undecodable file name) also goes base64-encoded."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        import base64

        entry["path_b64"] = base64.b64encode(os.fsencode(path)).decode("ascii")
