"""Interactive charts: Vega-Lite specifications built with altair, rendered offline.

In a notebook, :func:`soakkit.report.display.show_chart` displays a chart as the MIME type
:data:`VEGALITE_MIME`, which JupyterLab, Notebook 7 and VS Code render natively (no
network); the HTML report runner replaces it with :func:`embed_html`, and puts the Vega,
Vega-Lite and vega-embed JavaScript bundle (:func:`vega_script`, ~0.9 MB, from
``vl-convert-python``) once in the page, so a report works from a file or an air-gapped
share. Hovering a point shows its details, dragging pans and the mouse wheel zooms
(double-click resets).

Specifications are deterministic: explicit parameter and view names, data rounded to the
4 significant digits the tables show (goldens compare them; the last float digits depend
on the CPU), datasets named by a hash of their content.
"""

from __future__ import annotations

import functools
import html
import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import altair as alt
import polars as pl

from soakkit.config.params import TUNABLE
from soakkit.report.figures import REGIME_COLOURS, VERDICT_COLOURS
from soakkit.report.kpi_report import GATED_KPIS, thresholds

__all__ = ["CHART_META", "VEGALITE_MIME", "embed_html", "kpi_trends_chart", "runs_chart",
           "tuner_action", "vega_script"]

#: MIME type of a chart in a notebook (the Vega-Lite major version JupyterLab renders).
VEGALITE_MIME = "application/vnd.vegalite.v5+json"
#: Output metadata key naming a chart (as ``soakkit_figure`` names a PNG figure).
CHART_META = "soakkit_chart"
#: Vega-Lite version of the bundle in the HTML reports (the one altair 5 writes).
_VL_VERSION = "5.20"
_WIDTH = 820
_EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False,
                                                 "compiled": False, "editor": False}}


def _round(value: Any, digits: int = 4) -> Any:
    """Floats to ``digits`` significant digits (what the tables show); NaN → None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def _records(frame: pl.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    return [{k: _round(v) for k, v in row.items()}
            for row in frame.select(list(columns)).iter_rows(named=True)]


def tuner_action(row: dict[str, Any]) -> str:
    """What the tuner did after an iteration, in words (applied deltas, rules, guards)."""
    deltas = [f"{k} {row[f'delta_{k}']:+.4g}" for k in TUNABLE
              if row.get(f"delta_{k}") not in (None, 0, 0.0)]
    guards = [k.removeprefix("guard_") for k, v in row.items()
              if k.startswith("guard_") and isinstance(v, int) and v > 0]
    if row.get("tuning_applied") and deltas:
        text = "applied " + ", ".join(deltas)
    else:
        text = "no change" + (f" ({row['skip_reason']})" if row.get("skip_reason") else "")
    rules = row.get("rules_fired") or []
    if rules:
        text += "; rules: " + ", ".join(rules)
    if guards:
        text += "; guards: " + ", ".join(guards)
    return text


def _verdict_colour() -> alt.Color:
    return alt.Color("verdict:N", title="verdict",
                     scale=alt.Scale(domain=list(VERDICT_COLOURS),
                                     range=list(VERDICT_COLOURS.values())))


def kpi_trends_chart(frame: pl.DataFrame, gate: str) -> alt.VConcatChart:
    """The gated KPIs per iteration, one panel each, sharing one zoomable iteration axis.

    Hovering a point shows that iteration's KPI values, regime, verdict and the tuner's
    action; the gate thresholds are dashed red lines.
    """
    verdicts = frame["gate_verdict"] if "gate_verdict" in frame.columns else frame["verdict"]
    actions = [tuner_action(row) for row in frame.iter_rows(named=True)]
    data = frame.with_columns(verdicts.alias("verdict"), pl.Series("tuner", actions))
    fields = ["iteration", "regime", "phase", "verdict", *GATED_KPIS, "pnl_usd", "tuner"]
    values = _records(data, fields)
    limits = thresholds(gate)
    zoom = alt.selection_interval(name="zoom", bind="scales", encodings=["x"])
    tooltip = [alt.Tooltip("iteration:Q"), alt.Tooltip("regime:N"), alt.Tooltip("verdict:N"),
               alt.Tooltip("phase:N"), *[alt.Tooltip(f"{k}:Q") for k in GATED_KPIS],
               alt.Tooltip("pnl_usd:Q", title="P&L (USD)"),
               alt.Tooltip("tuner:N", title="tuner action")]
    panels = []
    for kpi in GATED_KPIS:
        x = alt.X("iteration:Q", title="iteration", scale=alt.Scale(zero=False, nice=False),
                  axis=alt.Axis(tickMinStep=1, format="d"))
        base = alt.Chart(alt.Data(name="iterations")).encode(
            x=x, y=alt.Y(f"{kpi}:Q", title=kpi, scale=alt.Scale(zero=False)))
        points = base.mark_point(filled=True, size=55, clip=True).encode(
            color=_verdict_colour(), tooltip=tooltip).properties(name=f"points_{kpi}")
        regimes = (alt.Chart(alt.Data(name="iterations"))
                   .transform_calculate(x0="datum.iteration - 0.5", x1="datum.iteration + 0.5")
                   .mark_rect(opacity=0.25, clip=True)
                   .encode(x="x0:Q", x2="x1:Q",
                           fill=alt.Fill("regime:N", title="regime", scale=alt.Scale(
                               domain=list(REGIME_COLOURS), range=list(REGIME_COLOURS.values())))))
        layers: list[Any] = [regimes,
                             base.mark_line(color="#2c3e50", strokeWidth=1.4, clip=True),
                             points.add_params(zoom) if kpi == GATED_KPIS[0] else points]
        if kpi in limits:
            op, limit, _ = limits[kpi]
            rule = [{"limit": limit, "gate": f"{op} {limit:g}"}]
            layers.append(alt.Chart(alt.Data(values=rule))
                          .mark_rule(color="#b2182b", strokeDash=[5, 3], clip=True)
                          .encode(y="limit:Q", tooltip=[alt.Tooltip("gate:N", title="gate")]))
        panels.append(alt.layer(*layers).properties(width=_WIDTH, height=120))
    chart = alt.vconcat(*panels, spacing=8).resolve_scale(x="shared").properties(
        datasets={"iterations": values},
        title=f"KPI trends against the {gate} gate (hover a point; drag or wheel on the top "
              "panel to zoom, double-click to reset)")
    return cast(alt.VConcatChart, chart)


def runs_chart(runs: pl.DataFrame) -> alt.Chart:
    """One point per run: start time against total P&L, coloured by verdict, zoomable."""
    fields = ["run_id", "started_utc", "profile", "mode", "iterations", "verdict",
              "pnl_usd", "risk_ratio_max", "duration_s"]
    values = _records(runs, fields)
    zoom = alt.selection_interval(name="zoom", bind="scales")
    chart = (alt.Chart(alt.Data(values=values))
            .mark_point(filled=True, size=90, clip=True)
            .encode(x=alt.X("started_utc:T", title="run start (UTC)"),
                    y=alt.Y("pnl_usd:Q", title="P&L (USD)"),
                    color=_verdict_colour(),
                    shape=alt.Shape("profile:N", title="profile"),
                    tooltip=[alt.Tooltip(f) for f in (
                        "run_id:N", "started_utc:T", "profile:N", "mode:N", "iterations:Q",
                        "verdict:N", "pnl_usd:Q", "risk_ratio_max:Q", "duration_s:Q")])
            .add_params(zoom)
            .properties(width=_WIDTH, height=300, name="runs",
                        title="Runs: P&L by start time (hover a run; drag or wheel to zoom)"))
    return cast(alt.Chart, chart)


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite specification (validated by altair), as plain JSON data."""
    result: dict[str, Any] = json.loads(json.dumps(chart.to_dict(), sort_keys=True))
    return result


@functools.lru_cache(maxsize=1)
def vega_script() -> str:
    """``<script>`` with Vega, Vega-Lite and vega-embed (defines ``window.vegaEmbed``)."""
    import vl_convert

    # the stub says snippet is required; None (the default) exposes window.vegaEmbed
    bundle: str = vl_convert.javascript_bundle(vl_version=_VL_VERSION)  # type: ignore[call-arg]
    bundle = bundle.replace("</script", "<\\/script")
    return f'<script type="text/javascript">{bundle}</script>'


def embed_html(spec: dict[str, Any], element_id: str, *, with_library: bool) -> str:
    """A chart as HTML: a container, its specification and the call to ``vegaEmbed``."""
    payload = json.dumps(spec, sort_keys=True).replace("</", "<\\/")
    options = json.dumps(_EMBED_OPTIONS, sort_keys=True)
    ident = html.escape(element_id, quote=True)
    library = (vega_script() + "<style>@media print{.soakkit-chart{display:none}}</style>"
               if with_library else "")  # printed pages show the PNG figures instead
    return (library
            + f'<div class="soakkit-chart" id="{ident}"></div>'
            + f'<script type="application/json" id="{ident}-spec">{payload}</script>'
            + "<script>(function(){var spec=JSON.parse(document.getElementById("
            + f'"{ident}-spec").textContent);vegaEmbed("#{ident}",spec,{options})'
            + ".catch(function(e){console.error(e);});})();</script>")

