"""The fidelity report's charts (altair): the facts against the real market, the fills ratio.

* :func:`facts_chart` – each stylized fact's synthetic 5–95 % interval and median relative
  to the real value (real = 1), on a symmetric-log axis, with the ±25 % band a fact must
  fall in;
* :func:`fills_chart` – each profile's synthetic fills per iteration relative to the
  replay's, with the 0.5–2× band a profile must fall in.
"""

from __future__ import annotations

from typing import cast

from soakkit.core.jsonschema_import import import_jsonschema

import_jsonschema()  # altair imports jsonschema: without its unused IRI parsers

import altair as alt  # noqa: E402
import polars as pl  # noqa: E402

from soakkit.evidence.sim_to_real import AGREE_FILLS_RATIO  # noqa: E402
from soakkit.report.charts import chart_records  # noqa: E402
from soakkit.report.palette import VERDICT_COLOURS  # noqa: E402
from soakkit.sim.fidelity import FACT_TOLERANCE  # noqa: E402

__all__ = ["facts_chart", "fills_chart"]

_WIDTH = 640
_GOOD, _BAD = VERDICT_COLOURS["PASS"], VERDICT_COLOURS["FAIL"]
#: Ratios are drawn on a log axis within these limits (a ratio outside, or of a sign other
#: than the real value's, is drawn at the limit; the tooltip and the table say the figure).
_CLIP = (0.05, 20.0)


def _verdicts(good: str, bad: str) -> alt.Scale:
    return alt.Scale(domain=[good, bad], range=[_GOOD, _BAD])


def _clipped(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    low, high = _CLIP
    return frame.with_columns(
        pl.col(c).fill_nan(None).clip(low, high).alias(f"{c}_drawn") for c in columns)


def _axis(field: str, title: str) -> alt.X:
    low, high = _CLIP
    return alt.X(f"{field}:Q", scale=alt.Scale(type="log", domain=[low, high], nice=False),
                 title=f"{title} (log axis, clipped to {low:g}-{high:g})")


def _band(low: float, high: float) -> alt.Chart:
    """The shaded range a value must fall in, the chart's whole height."""
    return cast(alt.Chart, alt.Chart(alt.Data(values=[{"low": low, "high": high}])).mark_rect(
        color="#d9f0d3", opacity=0.7).encode(x="low:Q", x2="high:Q"))


def facts_chart(normalised: pl.DataFrame) -> alt.LayerChart | str:
    """The synthetic interval and median of each fact relative to its real value."""
    data = normalised.filter(pl.col("synthetic").is_finite())
    if not data.height:
        return "No fact has a real value to compare with: nothing to draw."
    rows = data["fact"].to_list()
    values = chart_records(_clipped(data, ["synthetic", "p5", "p95"]), [
        "fact", "synthetic", "p5", "p95", "verdict", "synthetic_drawn", "p5_drawn",
        "p95_drawn"])
    base = alt.Chart(alt.Data(values=values))
    y = alt.Y("fact:N", sort=rows, title=None)
    interval = base.mark_rule(strokeWidth=2, color="#8c8c8c").encode(
        y=y, x=_axis("p5_drawn", "synthetic / real (1: the real value)"), x2="p95_drawn:Q")
    median = base.mark_point(filled=True, size=80, opacity=1).encode(
        y=y, x=alt.X("synthetic_drawn:Q"),
        color=alt.Color("verdict:N", scale=_verdicts("within", "outside"), title="verdict"),
        tooltip=["fact:N", "synthetic:Q", "p5:Q", "p95:Q", "verdict:N"])
    real = alt.Chart(alt.Data(values=[{"x": 1.0}])).mark_rule(color="black").encode(x="x:Q")
    chart = alt.layer(_band(1 - FACT_TOLERANCE, 1 + FACT_TOLERANCE), interval, median,
                      real).properties(
        width=_WIDTH, height=22 * len(rows), name="facts",
        title=f"Synthetic median (dot) and 5-95 % interval (line) relative to the real value; "
              f"green band: within {FACT_TOLERANCE:.0%}")
    return chart


def fills_chart(sim_to_real: pl.DataFrame | None) -> alt.LayerChart | str:
    """Each profile's synthetic fills per iteration relative to the replay's."""
    if sim_to_real is None:
        return "No sim-to-real table was asked for (profiles: none)."
    data = sim_to_real.filter(pl.col("fills_ratio").is_not_nan())  # inf: drawn at the limit
    if not data.height:
        return "No profile filled on the replay: no fills ratio to draw."
    rows = data["profile"].to_list()
    values = chart_records(_clipped(data, ["fills_ratio"]), [
        "profile", "fills_ratio", "fills_ratio_drawn", "fills_replay", "fills_synthetic",
        "pnl_sign", "verdict"])
    low, high = AGREE_FILLS_RATIO
    points = alt.Chart(alt.Data(values=values)).mark_point(filled=True, size=100,
                                                           opacity=1).encode(
        y=alt.Y("profile:N", sort=rows, title=None),
        x=_axis("fills_ratio_drawn", "synthetic fills / replay fills per iteration"),
        color=alt.Color("verdict:N", scale=_verdicts("agrees", "disagrees"), title="verdict"),
        shape=alt.Shape("pnl_sign:N", title="P&L sign",
                        scale=alt.Scale(domain=["same", "differs"],
                                        range=["circle", "cross"])),
        tooltip=["profile:N", "fills_replay:Q", "fills_synthetic:Q", "fills_ratio:Q",
                 "pnl_sign:N", "verdict:N"])
    one = alt.Chart(alt.Data(values=[{"x": 1.0}])).mark_rule(color="black").encode(x="x:Q")
    chart = alt.layer(_band(low, high), points, one).properties(
        width=_WIDTH, height=30 * len(rows), name="fills",
        title=f"Fills on the synthetic market relative to the replay; green band: "
              f"{low:g}-{high:g}x")
    return chart
