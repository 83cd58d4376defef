"""The tables ``fill_anatomy.py`` prints (markdown), and its JSON made canonical."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from soakkit.sim.fidelity import finite_or_none

#: why an excursion ended as it did (``fill_anatomy_measure.excursion_rows``)
OUTCOMES = ("filled", "moved away", "short", "queue", "no quote", "through, no fill")


def nan_as_null(value: Any) -> Any:
    """``value`` with every non-finite float as None (canonical JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: nan_as_null(v) for k, v in value.items()}
    if isinstance(value, float):
        return finite_or_none(value)
    return value


def num(x: float, digits: int = 2) -> str:
    return "—" if math.isnan(x) else f"{x:.{digits}f}"


def pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.0f} %"


FILL_ROWS = (
    ("maker fills per minute", "maker_fills_per_minute", num),
    ("quote age at the fill, median / p10 (ms)", ("age_ms_p50", "age_ms_p10"), None),
    ("mid move towards the quote in the last 50 / 200 / 1000 ms (× d), median",
     ("move_50_p50", "move_200_p50", "move_1000_p50"), None),
    ("quote's distance from the mid one reaction before / just before the fill (× d)",
     ("dist_reaction_p50", "dist_fill_p50"), None),
    ("sweep: the quote still stood d from the mid the instant before", "sweep_share", pct),
    ("walk inside one reaction (mid closer than d for ≤ 1 reaction)", "inside_reaction_share",
     pct),
    ("slow walk (mid closer than d for longer than a reaction)", "slow_share", pct),
    ("walk length when there was one: median ms / loop ticks", ("walk_ms_p50_if_walked",
                                                                 "walk_ticks_p50"), None),
    ("quote still ≥ d from the mid one reaction before the fill", "far_at_reaction_share", pct),
    ("the requote that would have moved it was already decided", "in_flight_share", pct),
    ("printed through the price / at it / opposite best crossed", ("through_share",
                                                                    "at_share", "cross_share"),
     "pct"),
    ("that instant also printed short of the quote (one order, several levels)",
     "same_instant_sweep_share", pct),
    ("fills inside an excursion", "in_excursion_share", pct),
    ("fills per filled order / at distinct instants", ("fills_per_order",
                                                       "instants_per_order"), None),
)


def _cell(block: Mapping[str, float], key: Any, fmt: Any) -> str:
    if isinstance(key, tuple):
        one = pct if fmt == "pct" else num
        return " / ".join(one(block[k]) for k in key)
    return str(fmt(block[key]))


def tables(name: str, profile: str, result: Mapping[str, Any]) -> str:
    """The markdown tables of one profile on one capture."""
    r, s = result["replay"], result["synthetic"]
    lines = [f"### {name} — {profile} (d = {r['d_bps']:.2f} bps, reaction ≈ "
             f"{num(r['reaction_ms'], 0)} ms replay / {num(s['reaction_ms'], 0)} ms synthetic, "
             f"loop {num(r['loop_ms'], 0)} ms; {r['iterations']} iterations each)", "",
             "| per fill | replay | synthetic |", "|---|---|---|"]
    for label, key, fmt in FILL_ROWS:
        lines.append(f"| {label} | {_cell(r['fills'], key, fmt)} | "
                     f"{_cell(s['fills'], key, fmt)} |")
    lines += ["", "| per excursion | replay | synthetic | synthetic / replay |",
              "|---|---|---|---|"]
    re_, se = r["excursions"], s["excursions"]
    for label, key in (("excursions per minute (both sides)", "per_minute"),
                       ("a print reached the quote resting at the start (or d)", "reached"),
                       ("× a quote of ours was there when the prints came", "there_if_reached"),
                       ("× the quote filled (not stuck behind the queue)", "filled_if_there"),
                       ("× fills per filled excursion", "fills_per_filled"),
                       ("= fills per excursion", "fills_per_excursion")):
        a, b = re_[key], se[key]
        ratio = b / a if a else float("inf") if b else float("nan")
        fmt = num if key in ("per_minute", "fills_per_filled", "fills_per_excursion") else pct
        lines.append(f"| {label} | {fmt(a)} | {fmt(b)} | {num(ratio)}× |")
    lines.append(f"| quoted when the move started | {pct(re_['quoted_at_start'])} | "
                 f"{pct(se['quoted_at_start'])} | |")
    lines.append(f"| the mid's fastest d move (from its last point d away), median ms | "
                 f"{num(re_['moved_ms_p50'], 0)} | "
                 f"{num(se['moved_ms_p50'], 0)} | |")
    lines.append(f"| ... within one reaction (the bot cannot move away) | "
                 f"{pct(re_['moved_fast'])} | {pct(se['moved_fast'])} | |")
    lines.append(f"| reached, and the mid had crossed a requote-grid line towards the quote one "
                 f"reaction before the print | {pct(re_['announced'])} | "
                 f"{pct(se['announced'])} | |")
    lines.append(f"| a quote there: when announced / when not | "
                 f"{pct(re_['there_if_announced'])} / {pct(re_['there_if_sudden'])} | "
                 f"{pct(se['there_if_announced'])} / {pct(se['there_if_sudden'])} | |")
    lines.append(f"| announced and filled: the fill was of the quote resting at the start "
                 f"(not a re-priced one) | {pct(re_['start_quote_if_announced'])} | "
                 f"{pct(se['start_quote_if_announced'])} | |")
    lines.append(f"| deepest print or crossing quote from the start mid, reached ones (× d), "
                 f"median / p75 | {num(re_['reach_p50'])} / {num(re_['reach_p75'])} | "
                 f"{num(se['reach_p50'])} / {num(se['reach_p75'])} | |")
    lines.append(f"| the first print (or cross) at the start quote came no later than the mid got "
                 f"d away (the print was the move) / more than a reaction after | "
                 f"{pct(re_['print_first'])} / {pct(re_['print_late'])} | "
                 f"{pct(se['print_first'])} / {pct(se['print_late'])} | |")
    for o in OUTCOMES:
        lines.append(f"| outcome: {o} | {pct(re_['outcomes'][o])} | "
                     f"{pct(se['outcomes'][o])} | |")
    lines += ["", "| print instants per minute reaching d beyond the mid ... (market only) "
              "| replay | synthetic | synthetic / replay |", "|---|---|---|---|"]
    for label, key in (("as it stood just before (one order sweeping there)", "instant"),
                       ("one reaction before", "reaction"), ("one second before", "second")):
        a, b = r["reach_per_minute"][key], s["reach_per_minute"][key]
        lines.append(f"| {label} | {num(a)} | {num(b)} | "
                     f"{num(b / a) if a else '—'}× |")
    lines.append(f"| mid crossings of a requote-grid line per minute | "
                 f"{num(r['grid_crossings_per_minute'])} | {num(s['grid_crossings_per_minute'])} "
                 f"| |")
    lines.append(f"| ... after which prints reached d beyond the mid of one reaction later "
                 f"(within the window) | {pct(r['went_on_share'])} | "
                 f"{pct(s['went_on_share'])} | |")
    return "\n".join(lines)


SUMMARY_HEAD = ("| profile | fills per iteration | excursions per minute | print reached | "
                "announced a reaction ahead | a quote there | fills per filled excursion | "
                "fills per excursion | fastest d move, median ms (≤ 1 reaction) | "
                "fills per filled order |")


def summary(result: Mapping[str, Any]) -> str:
    """One row per profile: replay / synthetic (synthetic ÷ replay) of each factor."""
    lines = [SUMMARY_HEAD, "|" + "---|" * SUMMARY_HEAD.count(" | ") + "---|"]
    for profile, cell in result.items():
        r, s = cell["replay"], cell["synthetic"]
        re_, se = r["excursions"], s["excursions"]

        def pair(a: float, b: float, fmt: Any = num) -> str:
            ratio = f" ({num(b / a)}×)" if a else ""
            return f"{fmt(a)} / {fmt(b)}{ratio}"

        lines.append(" | ".join((
            f"| {profile}", pair(r["fills_per_iteration"], s["fills_per_iteration"]),
            pair(re_["per_minute"], se["per_minute"]), pair(re_["reached"], se["reached"], pct),
            f"{pct(re_['announced'])} / {pct(se['announced'])}",
            pair(re_["there_if_reached"], se["there_if_reached"], pct),
            pair(re_["fills_per_filled"], se["fills_per_filled"]),
            pair(re_["fills_per_excursion"], se["fills_per_excursion"]),
            f"{num(re_['moved_ms_p50'], 0)} ({pct(re_['moved_fast'])}) / "
            f"{num(se['moved_ms_p50'], 0)} ({pct(se['moved_fast'])})",
            f"{num(r['fills']['fills_per_order'])} / {num(s['fills']['fills_per_order'])} |")))
    return "\n".join(lines)
