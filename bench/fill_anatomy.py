"""Fill anatomy: how a profile's fills come about on a replayed tape against its calibrated market.

Runs each profile exactly as ``soakkit fidelity`` does for its sim-to-real table
(:func:`soakkit.soak.memory.run_in_memory`: untuned, one-minute iterations, replayed on the
tape and on the synthetic market in mixed mode, the same seeds), records every iteration's
market and :class:`~soakkit.sim.strategy.StrategyResult` (what the engine returns; nothing
in ``soakkit/sim`` is changed) and prints, per side (replay / synthetic):

* **per fill** — how old the filled quote was; how far the mid moved towards it in the
  last 50, 200 and 1000 ms and how far it still stood one reaction earlier (in units of the
  quote distance d: 1 = the quote sat d from the mid); how long the mid had been closer
  than d (0 = a sweep: the quote stood at its full distance the instant before) in loop
  ticks; whether the bot had already decided the requote that would have moved the quote
  (in flight when it filled); and whether a trade printed through the quote's price, at
  it, or the opposite best crossed it, and whether that instant also printed short of it
  (one taker order walking through several levels);
* **per excursion** (the mid moving at least d towards one side's quote within
  ``--window-ms`` of a start on a ``--grid-ms`` grid, contiguous starts merged): filled;
  not filled because the quote had been moved away in time, the print stopped short of
  the quote, the queue ahead was not consumed, or no quote rested when the print came;
* the factors whose product is the fills per excursion: a print (or the opposite best)
  reached the quote resting when the move started; a quote of ours was there when it came
  (split by whether the move *announced* itself: the mid had crossed a line of the
  quoter's requote grid towards the quote one reaction before that print); it filled;
  fills per filled excursion;
* the market alone: print instants per minute reaching d beyond the mid as it stood just
  before, one reaction before and one second before; requote-grid crossings of the mid and
  the share after which prints went on to d beyond the mid of one reaction later;
* with several profiles, one summary row per profile.

A reaction is the feed delay (a replay's own receive times), one whole loop period and
the cancel delay (medians).

    python bench/fill_anatomy.py /tmp/tapes/usdm --market usdm --artifacts /tmp/art \\
        --profiles steady_safe --seeds 8

exit codes: 0 ok, 2 bad arguments or a bad tape or market.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import make_parser, save
from fill_anatomy_measure import (
    Settings,
    Traded,
    continuation,
    excursion_rows,
    fill_rows,
    reach_rows,
)
from fill_anatomy_tables import OUTCOMES, nan_as_null, num, summary, tables

from soakkit.core.errors import SoakkitError
from soakkit.core.inputs import MAX_SEED
from soakkit.evidence.sim_to_real import GATE, ITERATION_MINUTES, check_profiles
from soakkit.sim.calibrate import calibrate, write_market_profile
from soakkit.sim.fidelity import MAX_FIDELITY_SEEDS, fidelity_span
from soakkit.sim.replay import load_tape
from soakkit.soak import iteration
from soakkit.soak.memory import run_in_memory
from soakkit.soak.options import MARKET_MODE, SoakOptions, load_market

SIDES = ("replay", "synthetic")


@contextlib.contextmanager
def recording(sink: list[Traded]) -> Iterator[None]:
    """Inside the block every iteration's market and result are appended to ``sink``."""
    original = iteration.trade_schedule

    def traced(tape: Any, segments: Any, rng: Any, start: Any = iteration.FLAT,
               run: Any = None) -> Any:
        traded = original(tape, segments, rng, start, run)
        sink.append(Traded(tape, traded.result, traded.segments[0].params))
        return traded

    iteration.trade_schedule = traced  # type: ignore[assignment]
    try:
        yield
    finally:
        iteration.trade_schedule = original


def run_side(profile: str, side: str, tape_path: Path, market_json: Path, minutes: int,
             seeds: Sequence[int], artifacts: Path) -> tuple[list[Traded], int]:
    """Every iteration of ``profile`` on one side, as ``sim_to_real`` runs it, and the
    KPIs' total ``fill_count`` (to check the recording saw the same fills)."""
    traded: list[Traded] = []
    kpi_fills = 0
    with recording(traded):
        for seed in seeds:
            options = SoakOptions(
                profile=profile, iterations=minutes, sim_minutes=ITERATION_MINUTES, seed=seed,
                gate=GATE, tune=False, artifacts=artifacts,
                **({"market_data": tape_path} if side == "replay"
                   else {"market": str(market_json), "mode": MARKET_MODE}))
            kpi_fills += sum(int(r.kpis["fill_count"]) for r in run_in_memory(options, env={}))
    return traded, kpi_fills


def _cat(rows: Sequence[Mapping[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([r[key] for r in rows]) if rows else np.zeros(0)


def _ratio(part: np.ndarray, whole: np.ndarray) -> float:
    return float(part.sum() / whole.sum()) if whole.any() else math.nan


def summarise(runs: list[Traded], settings: Settings) -> dict[str, Any]:
    """Per fill and per excursion figures of one side, pooled over its iterations."""
    fills = [fill_rows(t) for t in runs]
    exc = [excursion_rows(t, settings, f) for t, f in zip(runs, fills, strict=True)]
    minutes = sum(t.tape.duration_s for t in runs) / 60
    f = {k: _cat(fills, k) for k in fills[0]} if fills else {}
    e = {k: _cat(exc, k) for k in exc[0]} if exc else {}
    n = f["ns"].size
    reaction = float(np.median([t.reaction_ms for t in runs]))
    loop = float(np.median([t.loop_ms for t in runs]))

    def share(mask: np.ndarray) -> float:
        return float(np.mean(mask)) if n else math.nan

    def med(x: np.ndarray) -> float:
        return float(np.median(x)) if np.size(x) else math.nan

    outcome = e["outcome"]
    count = outcome.size
    reached = e["reached"].astype(bool)
    filled = outcome == "filled"
    there = reached & np.isin(outcome, ["filled", "queue", "through, no fill"])
    fills_in = float(e["fills"].astype(float).sum())
    lag = e["lag_ms"].astype(float)
    announced = e["announced"].astype(bool)
    reach = [reach_rows(t) for t in runs]
    went_on = np.array([continuation(t, settings.window_ms) for t in runs])
    orders_filled = sum(np.unique(r["order"]).size for r in fills)
    instants = sum(np.unique(np.stack((r["order"], r["ns"])), axis=1).shape[1] for r in fills)
    return {
        "iterations": len(runs), "minutes": minutes, "reaction_ms": reaction, "loop_ms": loop,
        "d_bps": runs[0].d_bps if runs else float("nan"),
        "fills": {
            "maker_fills_per_minute": n / minutes,
            "age_ms_p50": med(f["age_ms"]), "age_ms_p10": float(np.quantile(f["age_ms"], 0.1))
            if n else float("nan"),
            "move_50_p50": med(f["move_50"]), "move_200_p50": med(f["move_200"]),
            "move_1000_p50": med(f["move_1000"]),
            "dist_reaction_p50": med(f["dist_reaction"]), "dist_fill_p50": med(f["dist_fill"]),
            "sweep_share": share(f["walk_ms"] == 0),
            "inside_reaction_share": share((f["walk_ms"] > 0) & (f["walk_ms"] <= reaction)),
            "slow_share": share(f["walk_ms"] > reaction),
            "walk_ticks_p50": med(f["walk_ticks"][f["walk_ms"] > 0]),
            "walk_ms_p50_if_walked": med(f["walk_ms"][f["walk_ms"] > 0]),
            "far_at_reaction_share": share(f["dist_reaction"] >= 1),
            "in_flight_share": share(f["in_flight"].astype(bool)),
            "through_share": share(f["kind"] == "through"), "at_share": share(f["kind"] == "at"),
            "cross_share": share(f["kind"] == "cross"),
            "same_instant_sweep_share": share(f["sweep"].astype(bool)),
            "in_excursion_share": fills_in / n if n else math.nan,
            "fills_per_order": n / orders_filled if orders_filled else math.nan,
            "instants_per_order": instants / orders_filled if orders_filled else math.nan,
        },
        "reach_per_minute": {k: float(np.mean([r[k] for r in reach])) for k in reach[0]},
        "grid_crossings_per_minute": float(went_on[:, 0].mean()),
        "went_on_share": float(np.average(went_on[:, 1], weights=went_on[:, 0]))
        if went_on[:, 0].sum() else math.nan,
        "excursions": {
            "per_minute": count / minutes,
            "outcomes": {o: float(np.mean(outcome == o)) if count else 0.0 for o in OUTCOMES},
            "quoted_at_start": float(np.mean(e["quoted"].astype(bool))) if count else 0.0,
            "moved_ms_p50": med(e["moved_ms"].astype(float)),
            "announced": float(np.mean(announced[reached]))
            if reached.any() else 0.0,
            "start_quote_if_announced": _ratio(
                e["start_quote_filled"].astype(bool) & filled & announced, filled & announced),
            "there_if_announced": _ratio(there & announced, reached & announced),
            "there_if_sudden": _ratio(there & ~announced, reached & ~announced),
            "reach_p50": med(e["reach"][reached].astype(float)),
            "reach_p75": float(np.quantile(e["reach"][reached].astype(float), 0.75))
            if reached.any() else math.nan,
            "moved_fast": float(np.mean(e["moved_ms"].astype(float) <= reaction))
            if count else 0.0,
            "lag_ms_p50": med(lag[np.isfinite(lag)]),
            "print_first": float(np.mean(lag[np.isfinite(lag)] <= 0)) if reached.any() else 0.0,
            "print_late": float(np.mean(lag[np.isfinite(lag)] > reaction))
            if reached.any() else 0.0,
            # the product: reached × still there | reached × filled | there × fills | filled
            "reached": float(np.mean(reached)) if count else 0.0,
            "there_if_reached": float(there.sum() / reached.sum()) if reached.any() else 0.0,
            "filled_if_there": float(filled.sum() / there.sum()) if there.any() else 0.0,
            "fills_per_filled": fills_in / filled.sum() if filled.any() else 0.0,
            "fills_per_excursion": fills_in / count if count else 0.0,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = make_parser(__doc__)
    p.add_argument("tape", type=Path, help="a tape folder (soakkit tape import ...)")
    p.add_argument("--market", help="a calibrated market (name or file, as soak --market "
                   "resolves it); default: the tape calibrated on its whole minutes, as "
                   "soakkit fidelity does")
    p.add_argument("--artifacts", type=Path, help="where --market names and user profiles are "
                   "looked up (nothing is written there)")
    p.add_argument("--profiles", default="steady_safe",
                   help="comma-separated profiles, 1 to 8 (default steady_safe)")
    p.add_argument("--seeds", type=int, default=8,
                   help=f"seeds per side, 1 to {MAX_FIDELITY_SEEDS} (default 8)")
    p.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    p.add_argument("--minutes", type=int, help="one-minute iterations per seed (default: the "
                   "tape's whole minutes, at most soakkit fidelity's bound)")
    p.add_argument("--window-ms", type=int, default=1000,
                   help="an excursion's window, 100 to 10000 ms (default 1000)")
    p.add_argument("--grid-ms", type=int, default=100,
                   help="its starts' grid, 10 to 1000 ms (default 100)")
    args = p.parse_args(argv)
    if not 1 <= args.seeds <= MAX_FIDELITY_SEEDS or not 0 <= args.seed <= MAX_SEED - args.seeds:
        p.error(f"--seeds {args.seeds} from --seed {args.seed}: expected 1 to "
                f"{MAX_FIDELITY_SEEDS} seeds, the last at most {MAX_SEED}")
    if not 100 <= args.window_ms <= 10_000 or not 10 <= args.grid_ms <= 1000:
        p.error("--window-ms must be 100..10000 and --grid-ms 10..1000")
    settings = Settings(args.window_ms, args.grid_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="soakkit-fill-anatomy-") as tmp:
            artifacts = args.artifacts or Path(tmp)
            profiles = check_profiles(args.profiles.split(","), artifacts)
            tape = load_tape(args.tape)
            minutes = fidelity_span(tape, args.minutes)
            market = (load_market(args.market, artifacts) if args.market
                      else calibrate(tape, args.tape.name or "tape", window=(0, minutes)))
            market_json = write_market_profile(Path(tmp) / "market.json", market)
            seeds = range(args.seed, args.seed + args.seeds)
            out: dict[str, Any] = {"tape": str(args.tape), "market": market.name,
                                   "minutes": minutes, "seeds": list(seeds),
                                   "window_ms": args.window_ms, "grid_ms": args.grid_ms,
                                   "profiles": {}}
            for profile in profiles:
                result: dict[str, Any] = {}
                for side in SIDES:
                    runs, kpi_fills = run_side(profile, side, tape.path, market_json, minutes,
                                               seeds, artifacts)
                    seen = sum(t.result.fills.t.size for t in runs)
                    if seen != kpi_fills:
                        raise SystemExit(f"fill_anatomy: error: recorded {seen} fills, the "
                                         f"KPIs count {kpi_fills} ({profile}, {side})")
                    result[side] = summarise(runs, settings)
                    result[side]["fills_per_iteration"] = kpi_fills / max(len(runs), 1)
                out["profiles"][profile] = result
                print(tables(args.tape.name, profile, result), flush=True)
                print(f"\nfills per iteration (KPI fill_count): replay "
                      f"{num(result['replay']['fills_per_iteration'], 3)}, synthetic "
                      f"{num(result['synthetic']['fills_per_iteration'], 3)}\n", flush=True)
            print(f"### {args.tape.name}: replay / synthetic (synthetic ÷ replay)\n")
            print(summary(out["profiles"]))
    except SoakkitError as exc:
        print(f"fill_anatomy: error: {exc}", file=sys.stderr)
        return 2
    save(args.out, nan_as_null(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
