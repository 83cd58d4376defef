"""Interactive charts: Vega-Lite specifications built with altair, rendered offline.

A chart is one figure: :func:`soakkit.report.display.show` displays it once, as its
Vega-Lite specification (:data:`VEGALITE_MIME`, which JupyterLab, Notebook 7 and VS Code
render natively, with no network) together with a static PNG rendered from the same
specification by vl-convert (:func:`static_png`), which is what nbconvert's HTML, PDF and
Markdown exports, GitHub and other viewers show. The HTML report runner replaces the chart
with :func:`embed_html` and puts the Vega, Vega-Lite and vega-embed JavaScript bundle
(:func:`vega_script`, ~0.9 MB, from ``vl-convert-python``) once in the page, so a report
works from a file or an air-gapped share; a printed report shows the PNG. Hovering a point
shows its details, dragging pans and the mouse wheel zooms (double-click resets). Times are
UTC on a 24-hour clock.

Specifications are deterministic: explicit parameter and view names, data rounded to the
4 significant digits the tables show (goldens compare them; the last float digits depend
on the CPU), datasets named by a hash of their content.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from soakkit.core.jsonschema_import import import_jsonschema

import_jsonschema()  # altair imports jsonschema: without its unused IRI parsers (1.5 s of CPU)

import altair as alt  # noqa: E402
import polars as pl  # noqa: E402

from soakkit.config.params import PARAMS, TUNABLE  # noqa: E402
from soakkit.report.kpi_report import GATED_KPIS, thresholds  # noqa: E402
from soakkit.report.palette import (  # noqa: E402
    BAD,
    GUARD_COLOURS,
    NEAR,
    REGIME_COLOURS,
    VERDICT_COLOURS,
    WARMUP,
)
from soakkit.report.vega import (  # noqa: E402  (re-exported: the charts' public names)
    CHART_META,
    VEGALITE_MIME,
    embed_html,
    spec,
    start_engine,
    static_png,
    vega_script,
)

__all__ = ["CHART_META", "VEGALITE_MIME", "chart_records", "embed_html", "kpi_trends_chart",
           "param_trajectories", "runs_chart", "spec", "static_png", "tuner_action",
           "tuning_events", "vega_script"]

start_engine()  # a chart's PNG follows soon: vl-convert's engine starts meanwhile

_WIDTH = 820


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


def chart_records(frame: pl.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of ``frame``'s ``columns`` as a chart's data: floats to the 4 significant
    digits the tables show (NaN as null), times as UTC text."""
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


#: One legend for every background of a KPI panel: regimes, warm-up, the gate's bands.
_SHADES = {**REGIME_COLOURS, "warm-up": WARMUP, "fails the gate": BAD, "warn margin": NEAR}


def _shade(field: str) -> alt.Fill:
    return alt.Fill(field, title="background", scale=alt.Scale(
        domain=list(_SHADES), range=list(_SHADES.values())))


def _extent(values: list[Any], limit: float | None) -> tuple[float, float]:
    """The y domain of a KPI panel: its values and its threshold, padded by 12 %."""
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if limit is not None:
        finite.append(limit)
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = 0.12 * ((hi - lo) or abs(hi) or 1.0)
    return _round(lo - pad), _round(hi + pad)


def _bands(op: str, limit: float, margin: float, lo: float, hi: float) -> list[dict[str, Any]]:
    """The failing side of a threshold and its warn margin, as rectangles within [lo, hi]."""
    if op in ("<=", "<"):  # too high fails
        bad, near = (max(limit, lo), hi), (max(limit - margin, lo), max(limit, lo))
    else:
        bad, near = (lo, min(limit, hi)), (min(limit, hi), min(limit + margin, hi))
    return [{"y0": _round(a), "y1": _round(b), "band": band}
            for (a, b), band in ((bad, "fails the gate"), (near, "warn margin")) if b > a]


def kpi_trends_chart(frame: pl.DataFrame, gate: str) -> alt.VConcatChart:
    """The gated KPIs per iteration, one panel each, sharing one zoomable iteration axis.

    Each panel shades the failing side of the gate threshold (red) and its warn margin
    (amber) and draws the threshold as a dashed line; warm-up iterations of a
    ``production`` gate are grey, the regime of each iteration colours the background.
    Hovering a point shows that iteration's KPI values, regime, verdict and the tuner's
    action.
    """
    verdicts = frame["gate_verdict"] if "gate_verdict" in frame.columns else frame["verdict"]
    actions = [tuner_action(row) for row in frame.iter_rows(named=True)]
    data = frame.with_columns(verdicts.alias("verdict"), pl.Series("tuner", actions))
    fields = ["iteration", "regime", "phase", "verdict", *GATED_KPIS, "pnl_usd", "tuner"]
    values = chart_records(data, fields)
    limits = thresholds(gate)
    warmup = [{"x0": row["iteration"] - 0.5, "x1": row["iteration"] + 0.5, "band": "warm-up"}
              for row in values if row["phase"] == "warmup"] if gate == "production" else []
    numbers = [row["iteration"] for row in values] or [1]
    # every iteration drawn whole, its regime band included
    x_scale = alt.Scale(domain=[min(numbers) - 0.5, max(numbers) + 0.5], nice=False, zero=False)
    zoom = alt.selection_interval(name="zoom", bind="scales", encodings=["x"])
    tooltip = [alt.Tooltip("iteration:Q"), alt.Tooltip("regime:N"), alt.Tooltip("verdict:N"),
               alt.Tooltip("phase:N"), *[alt.Tooltip(f"{k}:Q") for k in GATED_KPIS],
               alt.Tooltip("pnl_usd:Q", title="P&L (USD)"),
               alt.Tooltip("tuner:N", title="tuner action")]
    panels = []
    for kpi in GATED_KPIS:
        op, limit, margin = limits.get(kpi, ("", None, 0.0))
        lo, hi = _extent([row[kpi] for row in values], limit)
        x = alt.X("iteration:Q", title="iteration", scale=x_scale,
                  axis=alt.Axis(tickMinStep=1, format="d"))
        y = alt.Y(f"{kpi}:Q", title=kpi, scale=alt.Scale(domain=[lo, hi], nice=False))
        base = alt.Chart(alt.Data(name="iterations")).encode(x=x, y=y)
        points = base.mark_point(filled=True, size=55, clip=True).encode(
            color=_verdict_colour(), shape=alt.Shape("verdict:N", title="verdict", scale=alt.Scale(
                domain=list(VERDICT_COLOURS), range=["circle", "cross", "cross"])),
            tooltip=tooltip).properties(name=f"points_{kpi}")
        regimes = (alt.Chart(alt.Data(name="iterations"))
                   .transform_calculate(x0="datum.iteration - 0.5", x1="datum.iteration + 0.5")
                   .mark_rect(opacity=0.22, clip=True)
                   .encode(x=alt.X("x0:Q", scale=x_scale, title="iteration"), x2="x1:Q",
                           fill=_shade("regime:N")))
        layers: list[Any] = [regimes]
        if warmup:
            layers.append(alt.Chart(alt.Data(values=warmup)).mark_rect(opacity=0.8, clip=True)
                          .encode(x=alt.X("x0:Q", scale=x_scale, title="iteration"),
                                  x2="x1:Q", fill=_shade("band:N")))
        if limit is not None:
            layers.append(alt.Chart(alt.Data(values=_bands(op, limit, margin, lo, hi)))
                          .mark_rect(opacity=0.45, clip=True)
                          .encode(y=alt.Y("y0:Q", scale=alt.Scale(domain=[lo, hi], nice=False),
                                          title=kpi), y2="y1:Q", fill=_shade("band:N")))
            rule = [{"limit": limit, "gate": f"{kpi} {op} {limit:g}"}]
            layers.append(alt.Chart(alt.Data(values=rule))
                          .mark_rule(color="#b2182b", strokeDash=[5, 3], clip=True)
                          .encode(y="limit:Q", tooltip=[alt.Tooltip("gate:N", title="gate")]))
        layers += [base.mark_line(color="#2c3e50", strokeWidth=1.4, clip=True),
                   points.add_params(zoom) if kpi == GATED_KPIS[0] else points]
        panels.append(alt.layer(*layers).properties(width=_WIDTH, height=120))
    chart = alt.vconcat(*panels, spacing=8).resolve_scale(x="shared").properties(
        datasets={"iterations": values},
        title=f"KPI trends against the {gate} gate (red: fails the gate, amber: warn margin, "
              f"grey: warm-up; hover a point, drag or wheel on the top panel to zoom)")
    return cast(alt.VConcatChart, chart)


def _time_format(times: pl.Series) -> str:
    """A 24-hour d3 time format for an axis over ``times`` (Vega's default mixes a 12-hour
    clock and fractions of seconds); a time scale of type ``utc`` formats it in UTC, in any
    browser's time zone."""
    first, last = times.min(), times.max()
    seconds = (last - first).total_seconds() \
        if isinstance(first, datetime) and isinstance(last, datetime) else 0.0
    if seconds <= 600:
        return "%H:%M:%S"
    return "%H:%M" if seconds <= timedelta(days=2).total_seconds() else "%b %d %H:%M"


def runs_chart(runs: pl.DataFrame) -> alt.Chart:
    """One point per run: start time (UTC, 24-hour clock) against total P&L, coloured by
    verdict, hollow when the tuner was off; zoomable, nothing clipped at the edges."""
    data = runs.with_columns(
        pl.when(pl.col("tune")).then(pl.lit("on")).when(~pl.col("tune")).then(pl.lit("off"))
        .alias("tuner"),
        pl.col("started_utc").dt.strftime("%Y-%m-%d %H:%M:%S UTC").alias("start"))
    fields = ["run_id", "started_utc", "start", "profile", "tuner", "strategy", "market",
              "mode", "iterations", "verdict", "pnl_usd", "risk_ratio_max", "duration_s"]
    values = chart_records(data, fields)
    zoom = alt.selection_interval(name="zoom", bind="scales")
    hollow = alt.condition("datum.tuner === 'off'", alt.value(0.0), alt.value(0.9))
    chart = (alt.Chart(alt.Data(values=values))
             .mark_point(size=90, strokeWidth=2, clip=True)
             .encode(x=alt.X("started_utc:T", title="run start (UTC, 24-hour clock)",
                             scale=alt.Scale(type="utc", padding=24),
                             axis=alt.Axis(format=_time_format(data["started_utc"]),
                                           labelOverlap=True, labelFlush=False)),
                     y=alt.Y("pnl_usd:Q", title="P&L (USD)",
                             scale=alt.Scale(zero=False, padding=16)),
                     color=_verdict_colour(),
                     fill=alt.Fill("verdict:N", title="verdict", scale=alt.Scale(
                         domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values()))),
                     fillOpacity=hollow,
                     shape=alt.Shape("profile:N", title="profile"),
                     tooltip=[alt.Tooltip("run_id:N"), alt.Tooltip("start:N"),
                              *[alt.Tooltip(f) for f in (
                         "profile:N", "tuner:N", "strategy:N", "market:N", "mode:N",
                         "iterations:Q", "verdict:N", "pnl_usd:Q", "risk_ratio_max:Q",
                         "duration_s:Q")]])
             .add_params(zoom)
             .properties(width=_WIDTH, height=300, name="runs",
                         title="Runs: P&L by start time, UTC (filled: tuner on, hollow: "
                               "tuner off; hover a run, drag or wheel to zoom)"))
    return cast(alt.Chart, chart)


def _span(frame: pl.DataFrame) -> str:
    numbers = frame["iteration"].to_list()
    return f"iterations {min(numbers)}-{max(numbers)}" if numbers else "no iteration"


def _iteration_scale(iterations: list[Any]) -> alt.Scale:
    """An iteration axis drawing every iteration whole (from the first - 0.5 to the last + 0.5)."""
    numbers = [n for n in iterations if n is not None] or [1]
    return alt.Scale(domain=[min(numbers) - 0.5, max(numbers) + 0.5], nice=False, zero=False)


def tuning_events(frame: pl.DataFrame) -> alt.LayerChart | str:
    """Applied deltas per iteration, in units of each parameter's maximum step per
    iteration (one bar per changed parameter), and the guards that acted (triangles above);
    a sentence instead when the tuner changed nothing and no guard acted."""
    iterations = frame["iteration"].to_list()
    steps = [{"iteration": it, "parameter": name, "delta": _round(float(delta)),
              "step": _round(float(delta) / float(PARAMS[name].max_step))}
             for name in TUNABLE
             for it, delta in zip(iterations, frame[f"delta_{name}"].to_list(), strict=True)
             if delta]
    guards = [{"iteration": it, "guard": label, "y": _round(1.35 + 0.12 * row)}
              for row, (column, (label, _)) in enumerate(GUARD_COLOURS.items())
              if column in frame.columns
              for it, hit in zip(iterations, frame[column].to_list(), strict=True)
              if hit is not None and hit > 0]
    if not steps and not guards:
        why = "the tuner was off" if frame.height and not frame["tune"].fill_null(True).any() \
            else "the tuner changed no parameter and no guard acted"
        return f"No tuning events in {_span(frame)}: {why}."
    changed = [name for name in TUNABLE if any(row["parameter"] == name for row in steps)]
    x_scale = _iteration_scale(iterations)
    y_scale = alt.Scale(domain=[-1.3, 2.1], nice=False)
    width = 0.8 / max(len(changed), 1)
    offsets = {name: _round(-0.4 + (k + 0.5) * width) for k, name in enumerate(changed)}
    bars = [{**row, "x0": _round(row["iteration"] + offsets[row["parameter"]] - width / 2),
             "x1": _round(row["iteration"] + offsets[row["parameter"]] + width / 2)}
            for row in steps]
    x_axis = alt.Axis(tickMinStep=1, format="d")
    layers: list[Any] = [
        alt.Chart(alt.Data(values=[{"y": 0}])).mark_rule(color="black", strokeWidth=0.6)
        .encode(y=alt.Y("y:Q", scale=y_scale)),
        alt.Chart(alt.Data(name="deltas")).mark_rect(clip=True).encode(
            x=alt.X("x0:Q", title="iteration", scale=x_scale, axis=x_axis), x2="x1:Q",
            y=alt.Y("step:Q", title="applied delta / max step", scale=y_scale), y2=alt.datum(0),
            color=alt.Color("parameter:N", title="parameter", sort=changed,
                            scale=alt.Scale(domain=changed, scheme="tableau10")),
            tooltip=[alt.Tooltip("iteration:Q"), alt.Tooltip("parameter:N"),
                     alt.Tooltip("delta:Q", title="applied delta"),
                     alt.Tooltip("step:Q", title="delta / max step")])]
    if guards:
        labels = [label for label, _ in GUARD_COLOURS.values()]
        layers.append(alt.Chart(alt.Data(name="guards"))
                      .mark_point(shape="triangle-down", filled=True, size=70, clip=True)
                      .encode(x=alt.X("iteration:Q", scale=x_scale, title="iteration", axis=x_axis),
                              y=alt.Y("y:Q", scale=y_scale),
                              fill=alt.Fill("guard:N", title="guard", scale=alt.Scale(
                                  domain=labels,
                                  range=[colour for _, colour in GUARD_COLOURS.values()])),
                              tooltip=[alt.Tooltip("iteration:Q"), alt.Tooltip("guard:N")]))
    chart = alt.layer(*layers).resolve_scale(color="independent").properties(
        datasets={"deltas": bars, "guards": guards}, width=_WIDTH, height=260,
        name="tuning_events",
        title="Tuning events (bars: applied delta / max step per iteration; triangles: "
              "guards that acted; hover for values)")
    return cast(alt.LayerChart, chart)


#: Panels per row of :func:`param_trajectories`.
_TRAJECTORY_COLUMNS = 4


def param_trajectories(frame: pl.DataFrame) -> alt.VConcatChart:
    """Every tunable parameter per iteration (steps), against its hard bounds (dotted)."""
    iterations = frame["iteration"].to_list()
    values = [{"iteration": it, "parameter": name, "value": _round(value)}
              for name in TUNABLE
              for it, value in zip(iterations, frame[f"param_{name}"].to_list(), strict=True)]
    x_scale = _iteration_scale(iterations)
    panels = []
    for name in TUNABLE:
        param = PARAMS[name]
        pad = 0.05 * param.span
        y_scale = alt.Scale(domain=[_round(float(param.lo) - pad),
                                    _round(float(param.hi) + pad)], nice=False)
        line = (alt.Chart(alt.Data(name="trajectories"))
                .transform_filter(alt.datum.parameter == name)
                .mark_line(interpolate="step", color="#2166ac", strokeWidth=1.5,
                           point=alt.OverlayMarkDef(size=14, color="#2166ac"))
                .encode(x=alt.X("iteration:Q", title="iteration", scale=x_scale,
                                axis=alt.Axis(tickMinStep=1, format="d")),
                        y=alt.Y("value:Q", title=None, scale=y_scale),
                        tooltip=[alt.Tooltip("iteration:Q"), alt.Tooltip("parameter:N"),
                                 alt.Tooltip("value:Q")]))
        bounds = (alt.Chart(alt.Data(values=[{"bound": "lower", "value": _round(float(param.lo))},
                                             {"bound": "upper", "value": _round(float(param.hi))}]))
                  .mark_rule(color="#888888", strokeDash=[2, 2], strokeWidth=0.8)
                  .encode(y=alt.Y("value:Q", scale=y_scale),
                          tooltip=[alt.Tooltip("bound:N", title="hard bound"),
                                   alt.Tooltip("value:Q")]))
        panels.append(alt.layer(bounds, line).properties(
            width=175, height=150, title=alt.TitleParams(f"{name} ({param.unit})", fontSize=11)))
    rows = [alt.hconcat(*panels[i:i + _TRAJECTORY_COLUMNS], spacing=12)
            for i in range(0, len(panels), _TRAJECTORY_COLUMNS)]
    return alt.vconcat(*rows, spacing=12).properties(
        datasets={"trajectories": values},
        title="Parameter trajectories (dotted: hard bounds; hover a step for its value)")
