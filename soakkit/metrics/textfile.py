"""The Prometheus text format, as the node_exporter textfile collector reads it.

The only code in soakkit that writes (or reads back) Prometheus text. An
:class:`Exposition` collects samples of metrics defined in :mod:`soakkit.metrics.names`
and renders them: ``# HELP`` and ``# TYPE`` once per family, families in definition
order, samples sorted by labels, no timestamps (the collector skips a file that has
any). :func:`write_textfile` writes it atomically (temp file in the same folder, then
rename), so the collector sees the old file or the new one, never a torn one; the temp
name does not end in ``.prom``, so the collector never reads it.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from soakkit.core.errors import UsageError
from soakkit.core.io import atomic_write_bytes, tmp_name_for
from soakkit.core.json_canonical import FLOAT_DIGITS
from soakkit.metrics.names import METRICS, Metric

__all__ = ["Exposition", "SampleKey", "check_metrics_dir", "format_value", "read_samples",
           "write_textfile"]

#: (metric name, sorted (label, value) pairs): one series.
SampleKey = tuple[str, tuple[tuple[str, str], ...]]
_ORDER = {m.name: i for i, m in enumerate(METRICS)}
_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def format_value(value: float, *, exact: bool = False) -> str:
    """A sample value as Prometheus reads it (``NaN``, ``+Inf``); ``FLOAT_DIGITS`` digits.

    ``exact`` keeps every digit (timestamps: ten significant digits would drop the
    milliseconds of an epoch time).
    """
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if not exact:
        value = float(f"{value:.{FLOAT_DIGITS}g}")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class Exposition:
    """Samples of soakkit metrics, rendered as one textfile."""

    def __init__(self) -> None:
        self._samples: dict[str, dict[tuple[tuple[str, str], ...], str]] = {}
        self._metrics: dict[str, Metric] = {}

    def add(self, metric: Metric, value: float, labels: Mapping[str, str] | None = None, *,
            exact: bool = False) -> None:
        """Set one sample; ``labels`` must name exactly the metric's labels."""
        labels = dict(labels or {})
        if set(labels) != set(metric.labels):
            raise ValueError(f"{metric.name}: labels {sorted(labels)}, expected "
                             f"{sorted(metric.labels)}")
        if metric.kind == "counter" and not value >= 0:
            raise ValueError(f"{metric.name}: a counter cannot be {value!r}")
        key = tuple((name, str(labels[name])) for name in metric.labels)
        self._metrics[metric.name] = metric
        self._samples.setdefault(metric.name, {})[key] = format_value(value, exact=exact)

    def render(self) -> str:
        """The file's text: HELP, TYPE and samples of each family, no timestamps."""
        lines: list[str] = []
        for name in sorted(self._samples, key=lambda n: _ORDER.get(n, len(_ORDER))):
            metric = self._metrics[name]
            lines.append(f"# HELP {name} {_help(metric.help)}")
            lines.append(f"# TYPE {name} {metric.kind}")
            for key, value in sorted(self._samples[name].items()):
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
                lines.append(f"{name}{{{labels}}} {value}" if labels else f"{name} {value}")
        return "\n".join(lines) + "\n" if lines else ""


def read_samples(path: Path) -> dict[SampleKey, float]:
    """The samples of a textfile soakkit wrote (to carry counters over); ``{}`` if unreadable.

    Only soakkit's own output is parsed; a line that does not parse is ignored (a file
    edited by hand starts the counters again, which Prometheus' ``rate`` and ``increase``
    treat as a counter reset).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    out: dict[SampleKey, float] = {}
    for line in text.splitlines():
        m = _SAMPLE_RE.match(line)
        if not m or line.startswith("#"):
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = tuple(sorted((k, _unescape(v)) for k, v in _LABEL_RE.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = value
    return out


def check_metrics_dir(path: Path, flag: str = "--metrics-dir") -> Path:
    """``path`` if it is an existing, writable real folder; else a one-line :class:`UsageError`.

    Writability is proven by creating and removing a temp file (permission bits do not
    tell: root ignores them, and a read-only mount shows ``rwx``).
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such directory (create it first)") from None
    except OSError as exc:
        raise UsageError(f"{flag} {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{flag} {path}: is a file, not a directory")
    probe = tmp_name_for(path / "soakkit-probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def write_textfile(directory: Path, filename: str, exposition: Exposition, *,
                   mtime: float | None = None) -> Path:
    """Write ``exposition`` to ``directory/filename`` atomically; returns the path.

    ``mtime`` (the writer's clock) becomes the file's modification time, which node_exporter
    exports as ``node_textfile_mtime_seconds``. ``OSError`` propagates; the old file is
    then untouched.
    """
    if not filename.endswith(".prom"):
        raise ValueError(f"{filename}: the textfile collector reads only *.prom files")
    path = Path(directory) / filename
    atomic_write_bytes(path, exposition.render().encode("utf-8"), mtime=mtime)
    return path
