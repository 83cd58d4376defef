"""``reports/index.html``: one offline table of every report folder, newest first.

Regenerated (atomically) by :func:`soakkit.notebooks.runner.run_template` after every report, so
after every ``soakkit report`` and ``soakkit demo``. Each row: the report's name, the soak
run it is about, that run's profile, mode and tuner, its verdict, when the report ran, a link to
``report.html``; a failed report (``….failed``) shows its reason, an unfinished one
(``….partial``: running, or killed) says so. No script, no CDN: a plain HTML table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from soakkit.artifacts.layout import REPORT_INDEX_FILE
from soakkit.artifacts.runid import parse_run_id, tuner_label
from soakkit.core.errors import SoakkitError, filesystem_error
from soakkit.core.io import atomic_write_text
from soakkit.core.json_strict import load_json_file

__all__ = ["ReportEntry", "list_reports", "render_index", "write_index"]

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NONE = "—"


@dataclass(frozen=True)
class ReportEntry:
    """One report folder as the index lists it."""

    folder: str  #: relative to the reports root, POSIX
    name: str
    status: str  #: ok | error | timeout | dead_kernel | incomplete | unreadable
    run: str
    profile: str
    mode: str
    tuner: str  #: tuned | untuned, from the run id
    verdict: str
    when: str
    href: str | None  #: relative link to report.html, when there is one
    reason: str  #: why it failed, "" for a good report


def _record(folder: Path) -> Mapping[str, Any]:
    """The report's own record (``kpis.json``: ``{"soak"|"kpi"|"disk": {...}}``)."""
    try:
        doc = load_json_file(folder / "kpis.json")
    except SoakkitError:
        return {}
    values = [v for v in doc.values() if isinstance(v, dict)]
    return values[0] if len(values) == 1 else {}


def _verdict(record: Mapping[str, Any]) -> str:
    if isinstance(record.get("verdict"), str):
        return str(record["verdict"])
    if isinstance(record.get("over_budget"), bool):
        return "over budget" if record["over_budget"] else "within budget"
    return _NONE


def _reason(status: str, manifest: Mapping[str, Any]) -> str:
    if status == "ok":
        return ""
    error = manifest.get("error")
    if not isinstance(error, dict):
        return status
    cell = f" in cell {error['cell_index']}" if error.get("cell_index") is not None else ""
    what = ": ".join(str(error[k]) for k in ("ename", "evalue") if error.get(k))
    return f"{status}{cell}" + (f": {what}" if what else "")


def _entry(root: Path, folder: Path) -> ReportEntry:
    rel = folder.relative_to(root).as_posix()
    base = folder.name.removesuffix(".failed").removesuffix(".partial")
    manifest: Mapping[str, Any] = {}
    try:
        manifest = load_json_file(folder / "manifest.json")
        status = str(manifest.get("status", "unreadable"))
        reason = _reason(status, manifest)
    except (SoakkitError, OSError) as exc:
        if folder.name.endswith(".partial"):
            status, reason = "incomplete", "incomplete: still running, or interrupted"
        else:
            status, reason = "unreadable", f"unreadable manifest: {exc}"
    name = str(manifest.get("name") or base.split("-", 1)[0])
    record = _record(folder) if status == "ok" else {}
    run = str(record.get("run_id") or _NONE)
    parts = parse_run_id(run)
    profile, mode = (parts.profile, parts.mode) if parts is not None else (_NONE, _NONE)
    tuner = tuner_label(parts.tune) if parts is not None and parts.tune is not None else _NONE
    href = f"{quote(rel)}/report.html" if (folder / "report.html").is_file() else None
    return ReportEntry(rel, name, status, run, profile, mode, tuner, _verdict(record),
                       str(manifest.get("started_utc") or _NONE), href, reason)


def list_reports(root: Path) -> list[ReportEntry]:
    """Every report folder under ``root`` (``<day>/<name>-<id>[.failed]``), newest first."""
    root = Path(root)
    entries = []
    for day in sorted(p for p in root.iterdir() if p.is_dir() and _DAY_RE.fullmatch(p.name)):
        for folder in sorted(p for p in day.iterdir() if p.is_dir() and not p.is_symlink()):
            entries.append(_entry(root, folder))
    return sorted(entries, key=lambda e: (e.when, e.folder), reverse=True)


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr.failed td { background: #fdecea; }
tr.incomplete td { background: #fff8e1; }
.verdict-FAIL { color: #b00020; font-weight: bold; }
.verdict-WARN { color: #a05a00; font-weight: bold; }
.verdict-PASS { color: #1b7a1b; font-weight: bold; }
"""


def render_index(entries: list[ReportEntry]) -> str:
    """The index page for ``entries`` (no timestamps of its own: same reports, same bytes)."""
    e = html.escape
    good = sum(1 for x in entries if x.status == "ok")
    rows = []
    for x in entries:
        cls = "ok" if x.status == "ok" else ("incomplete" if x.status == "incomplete"
                                             else "failed")
        link = f'<a href="{e(x.href)}">report.html</a>' if x.href else _NONE
        verdict = f' class="verdict-{x.verdict}"' if x.verdict in ("PASS", "WARN", "FAIL") else ""
        rows.append(
            f'<tr class="{cls}" data-folder="{e(x.folder)}"><td>{e(x.name)}</td>'
            f"<td>{e(x.run)}</td><td>{e(x.profile)}</td><td>{e(x.mode)}</td>"
            f"<td>{e(x.tuner)}</td>"
            f"<td{verdict}>{e(x.verdict)}</td><td>{e(x.when)}</td>"
            f"<td>{link}</td><td>{e(x.status)}</td><td>{e(x.reason)}</td></tr>")
    body = "\n".join(rows) if rows else '<tr><td colspan="10">no reports yet</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>soakkit reports</title>
<style>{_CSS}</style>
</head>
<body>
<h1>soakkit reports</h1>
<p>{len(entries)} report folder(s), {good} good, {len(entries) - good} failed or unfinished.
Newest first; <code>latest/&lt;name&gt;</code> points at the newest good report of each name.</p>
<table id="reports">
<thead><tr><th>report</th><th>run</th><th>profile</th><th>mode</th><th>tuner</th><th>verdict</th>
<th>when (UTC)</th><th>link</th><th>status</th><th>reason</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""


def write_index(root: Path) -> Path:
    """Regenerate ``<root>/index.html`` atomically; returns its path."""
    root = Path(root)
    path = root / REPORT_INDEX_FILE
    try:
        atomic_write_text(path, render_index(list_reports(root)))
    except OSError as exc:
        raise filesystem_error(exc, path, "cannot write the report index") from None
    return path
