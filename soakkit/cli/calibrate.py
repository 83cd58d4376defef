"""`soakkit calibrate`: fit the synthetic market's constants to a recorded tape."""

from __future__ import annotations

import argparse

from soakkit.cli._commands import COMMANDS
from soakkit.cli._common import add_artifacts, formatter, path_arg
from soakkit.core.errors import ExitCode, UsageError, exit_codes_help


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from soakkit.artifacts.layout import market_profile_path
    from soakkit.sim.calibrate import calibrate, write_market_profile
    from soakkit.sim.regimes import REGIME_NAMES
    from soakkit.sim.replay import load_tape

    # a bad --name is refused before any work
    out = args.out or market_profile_path(args.artifacts, args.name)
    replacing = out.exists()
    if replacing and not args.force:
        raise UsageError(f"{out}: a market profile is already there; --force replaces it")
    profile = calibrate(load_tape(args.tape), args.name)
    write_market_profile(out, profile)
    seen = profile.fit.get("observed_minutes", {})
    assert isinstance(seen, dict)
    print(f"wrote {out}: market profile {args.name!r} from {args.tape} "
          f"({profile.fit.get('minutes')} minutes)" + (f"; replaced {out}" if replacing else ""))
    for r in REGIME_NAMES:
        spec = profile.regimes[r]
        fitted = f"{seen.get(r, 0)} minutes" if seen.get(r) else "not seen: default kept"
        print(f"  {r:<8} {fitted:<22} orders {spec.order_rate_per_s:6.1f}/s, median "
              f"{spec.order_median_usd:8.1f}, vol {spec.vol_bps_per_sqrt_s:5.2f} bps/sqrt(s), "
              f"half-spread {spec.half_spread_bps:5.2f} bps, jumps "
              f"{spec.jump_rate_per_min:4.2f}/min")
    lat, load = profile.latency, profile.fit.get("load", {})
    measured = isinstance(load, dict) and load.get("gain") is not None
    print(f"  latency: activity 1 = {lat.activity_ref_per_s:g} messages/s (the tape's median), "
          f"load response gain {lat.activity_gain:.2f} "
          + (f"(fitted from its feed latency), feed {lat.feed_ms:.2f} ms" if measured
             else "(default: the tape has no receive times)"))
    print(f"use it: soakkit soak --market {args.name if args.out is None else out} "
          "--mode mixed")
    return 0


def build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "calibrate", help=COMMANDS["calibrate"],
        formatter_class=formatter,
        description="Labels every minute of TAPE (calm, volatile, spike: from realised\n"
                    "volatility and jumps), fits each regime's constants on its minutes\n"
                    "(order arrivals and sizes, spread, depth, impact, volatility, bursts,\n"
                    "jumps, regime switching) and writes them as a named market profile\n"
                    "that synthetic soaks use with --market NAME (docs/SIMULATOR.md).",
        epilog="examples:\n  soakkit calibrate tape/ --name binance-btc\n"
               "  soakkit soak --market binance-btc --mode mixed --iterations 6\n\n"
               "An existing market profile is never overwritten without --force.\n\n"
               + exit_codes_help([ExitCode.OK, ExitCode.USAGE], {
                   ExitCode.USAGE: "bad arguments or a bad tape"}))
    p.add_argument("tape", type=path_arg, metavar="TAPE",
                   help="a tape folder (soakkit tape --help)")
    p.add_argument("--name", required=True, metavar="NAME", help="the market profile's name")
    add_artifacts(p, "writes DIR/markets/NAME.json", create=True)
    p.add_argument("--out", type=path_arg, metavar="FILE", help="write here instead")
    p.add_argument("--force", action="store_true",
                   help="replace the market profile already at the destination")
    p.set_defaults(func=_cmd_calibrate)
