"""Vega-Lite in notebooks and reports, without altair: the MIME type, the PNG, the HTML.

What the report runner needs to put a chart into ``report.html`` (:func:`embed_html`,
:func:`vega_script`) and what a notebook needs to show one (:func:`spec`,
:func:`static_png`), kept apart from :mod:`soakkit.report.charts` (which builds the charts
with altair) so that the runner's process never imports altair: importing it costs
0.4–0.8 s of CPU even with jsonschema's IRI parsers left out.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import threading
from importlib import metadata
from typing import Any

from soakkit.catalog.cache import cache_root
from soakkit.core.io import atomic_write_text

__all__ = ["CHART_META", "VEGALITE_MIME", "embed_html", "spec", "start_engine", "static_png",
           "vega_script"]

#: MIME type of a chart in a notebook (the Vega-Lite major version JupyterLab renders).
VEGALITE_MIME = "application/vnd.vegalite.v5+json"
#: Output metadata key naming a chart (as ``soakkit_figure`` names a PNG figure).
CHART_META = "soakkit_chart"
#: Vega-Lite version of the bundle in the HTML reports (the one altair 5 writes).
_VL_VERSION = "5.20"
_EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False,
                                                 "compiled": False, "editor": False}}


def spec(chart: Any) -> dict[str, Any]:
    """The chart's Vega-Lite specification, as plain JSON data.

    altair's validation against the Vega-Lite schema is left out: the same dictionary,
    without the 0.15 s of CPU that validating the KPI report's three charts costs its kernel.
    Every chart the reports build (:mod:`soakkit.report.charts`) is validated by the tests
    instead (tests/test_catalog_view.py).
    """
    result: dict[str, Any] = json.loads(json.dumps(chart.to_dict(validate=False),
                                                   sort_keys=True))
    return result


def static_png(chart_spec: dict[str, Any]) -> bytes:
    """The chart as a PNG, rendered from its Vega-Lite specification by vl-convert."""
    import vl_convert

    png: bytes = vl_convert.vegalite_to_png(chart_spec, vl_version=_VL_VERSION)
    return png


#: The least chart: what :func:`start_engine` renders to start vl-convert's engine.
_TINY = {"data": {"values": [{"x": 0}]}, "mark": "point",
         "encoding": {"x": {"field": "x", "type": "quantitative"}}}


@functools.cache
def start_engine() -> threading.Thread:
    """Start vl-convert's engine in the background (once per process).

    Its first conversion starts a JavaScript engine and loads Vega-Lite: about 0.5 s of CPU
    that vl-convert spends without holding the GIL. :mod:`soakkit.report.charts` calls this
    when it is imported, so the engine starts while the notebook goes on importing and
    loading; the first :func:`static_png` then only renders (vl-convert serialises calls).
    """
    def render() -> None:
        with contextlib.suppress(Exception):  # a failure shows in the real conversion
            static_png(_TINY)

    thread = threading.Thread(target=render, name="soakkit-vl-convert-start", daemon=True)
    thread.start()
    return thread


@functools.lru_cache(maxsize=1)
def vega_script() -> str:
    """``<script>`` with Vega, Vega-Lite and vega-embed (defines ``window.vegaEmbed``).

    vl-convert bundles it in about 1.4 s; the bundle is kept in soakkit's cache folder
    (:func:`soakkit.catalog.cache.cache_root`), one file per vl-convert and Vega-Lite
    version, so only a machine's first report pays for it.
    """
    import vl_convert

    version = metadata.version("vl-convert-python")
    kept = cache_root() / f"vega-embed-{version}-vl{_VL_VERSION}.js"
    try:
        bundle = kept.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        # the stub says snippet is required; None (the default) exposes window.vegaEmbed
        bundle = vl_convert.javascript_bundle(vl_version=_VL_VERSION)  # type: ignore[call-arg]
        with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
            kept.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(kept, bundle)
    bundle = bundle.replace("</script", "<\\/script")
    return f'<script type="text/javascript">{bundle}</script>'


def embed_html(spec: dict[str, Any], element_id: str, *, with_library: bool,
               png: str | None = None) -> str:
    """A chart as HTML: a container, its specification and the call to ``vegaEmbed``;
    ``png`` (base64), the static image a printed page shows instead."""
    payload = json.dumps(spec, sort_keys=True).replace("</", "<\\/")
    options = json.dumps(_EMBED_OPTIONS, sort_keys=True)
    ident = html.escape(element_id, quote=True)
    library = (vega_script() + "<style>.soakkit-print{display:none}@media print{"
               ".soakkit-chart{display:none}.soakkit-print{display:block}}</style>"
               if with_library else "")
    printed = (f'<img class="soakkit-print" alt="{ident}" src="data:image/png;base64,{png}">'
               if png else "")
    return (library + printed
            + f'<div class="soakkit-chart" id="{ident}"></div>'
            + f'<script type="application/json" id="{ident}-spec">{payload}</script>'
            + "<script>(function(){var spec=JSON.parse(document.getElementById("
            + f'"{ident}-spec").textContent);vegaEmbed("#{ident}",spec,{options})'
            + ".catch(function(e){console.error(e);});})();</script>")
