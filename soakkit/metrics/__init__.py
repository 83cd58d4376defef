"""Prometheus metrics for the node_exporter textfile collector (see ``docs/METRICS.md``).

* :mod:`soakkit.metrics.names` – every metric's name, type, HELP, unit and labels;
* :mod:`soakkit.metrics.textfile` – the text format, atomic writes, the folder check;
* :mod:`soakkit.metrics.soak` – :class:`SoakMetrics`, the soak observer
  (``soakkit soak --metrics-dir``);
* :mod:`soakkit.metrics.rotation` – :func:`export_rotation` (``soakkit rotate --metrics-dir``);
* :mod:`soakkit.metrics.catalog` – :func:`export_catalog` (``soakkit metrics``).
"""

from soakkit.metrics.catalog import CatalogExport, export_catalog
from soakkit.metrics.names import METRICS, Metric
from soakkit.metrics.rotation import export_rotation, export_rotation_failure
from soakkit.metrics.soak import SoakMetrics, soak_snapshot
from soakkit.metrics.textfile import check_metrics_dir

__all__ = ["METRICS", "CatalogExport", "Metric", "SoakMetrics", "check_metrics_dir",
           "export_catalog", "export_rotation", "export_rotation_failure", "soak_snapshot"]
