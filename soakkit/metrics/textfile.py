"""The Prometheus text format, as the node_exporter textfile collector reads it.

The only code in soakkit that writes (or reads back) Prometheus text, through
``prometheus_client``: an :class:`Exposition` collects samples of metrics defined in
:mod:`soakkit.metrics.names` and is the collector ``prometheus_client.generate_latest``
renders: ``# HELP`` and ``# TYPE`` once per family, families in definition order, samples
sorted by labels, no timestamps (the collector skips a file that has any), and no
``_created`` samples. :func:`read_samples` parses a file back with
``prometheus_client.parser``. :func:`write_textfile` writes it atomically (temp file in the
same folder, then rename), so the collector sees the old file or the new one, never a torn
one; the temp name does not end in ``.prom``, so the collector never reads it.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric as MetricFamily
from prometheus_client.parser import text_string_to_metric_families

from soakkit.core.errors import UsageError
from soakkit.core.io import atomic_write_bytes, tmp_name_for
from soakkit.core.json_canonical import FLOAT_DIGITS
from soakkit.metrics.names import METRICS, Metric

__all__ = ["Exposition", "SampleKey", "check_metrics_dir", "read_samples", "write_textfile"]

#: (metric name, sorted (label, value) pairs): one series.
SampleKey = tuple[str, tuple[tuple[str, str], ...]]
_ORDER = {m.name: i for i, m in enumerate(METRICS)}
_FAMILIES = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily}


def _value(value: float, exact: bool) -> float:
    """``FLOAT_DIGITS`` significant digits (``exact``: every digit, for timestamps, whose
    milliseconds ten digits would drop); ``NaN`` and infinities as they are."""
    value = float(value)
    if exact or not math.isfinite(value):
        return value
    return float(f"{value:.{FLOAT_DIGITS}g}")


class Exposition:
    """Samples of soakkit metrics, rendered as one textfile (a ``prometheus_client``
    collector: :meth:`collect` yields one family per metric)."""

    def __init__(self) -> None:
        self._samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
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
        self._samples.setdefault(metric.name, {})[key] = _value(value, exact)

    def collect(self) -> Iterator[MetricFamily]:
        """One family per metric, in definition order, its samples sorted by labels."""
        for name in sorted(self._samples, key=lambda n: _ORDER.get(n, len(_ORDER))):
            metric = self._metrics[name]
            family = _FAMILIES[metric.kind](name, metric.help, labels=list(metric.labels))
            for key, value in sorted(self._samples[name].items()):
                family.add_metric([v for _, v in key], value)
            yield family

    def render(self) -> str:
        """The file's text (``prometheus_client.generate_latest``)."""
        return generate_latest(self).decode("utf-8")


def read_samples(path: Path) -> dict[SampleKey, float]:
    """The samples of a textfile soakkit wrote (to carry counters over); ``{}`` if unreadable.

    A file that does not parse (edited by hand) starts the counters again, which
    Prometheus' ``rate`` and ``increase`` treat as a counter reset.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        return {(sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
                for family in text_string_to_metric_families(text)
                for sample in family.samples}
    except (OSError, UnicodeDecodeError, ValueError):
        return {}


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
