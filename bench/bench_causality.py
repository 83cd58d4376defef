"""The causality table of docs/SIMULATOR.md: each tunable parameter, low bound → high bound.

For every mode, parameter and metric: the mean paired difference (high − low, same seeds,
``steady_safe`` otherwise) and how many seeds moved in the predicted direction. Cells the
economics predicts are marked ▲ (up) or ▼ (down); ``tests/test_causality.py`` asserts them.
``--tape`` measures the table on a recorded tape instead (seed ``s`` replays window ``s``
mod the tape's windows; ``--l1`` leaves an L2 tape's depth out).

    python bench/bench_causality.py --seeds 8 --out bench/out/causality.json
    python bench/bench_causality.py --tape examples/tapes/binance-spot-btcusdt --minutes 1 \
        --set base_spread_bps=0.5
"""

from __future__ import annotations

import sys

from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.config.params import TUNABLE
from soakkit.evidence.causality import METRICS, measure_effects, predicted, replay_effects
from soakkit.sim.replay import load_tape


def _short(x: float) -> str:
    return f"{x:+.3g}" if abs(x) < 1e4 else f"{x:+.2e}"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["calm", "volatile", "spike"])
    parser.add_argument("--tape", help="a recorded tape to replay instead")
    parser.add_argument("--l1", action="store_true", help="--tape: leave its depth out")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="NAME=VALUE", help="override a steady_safe parameter")
    args = parser.parse_args(argv)
    values = dict(resolve("steady_safe", env={}).values)
    for item in args.sets:
        name, _, value = item.partition("=")
        values[name] = float(value)
    effects = (replay_effects(values, load_tape(args.tape), range(args.seeds), args.minutes,
                              l2=not args.l1) if args.tape else
               measure_effects(values, args.modes, range(args.seeds), args.minutes))
    table: dict[str, dict[str, dict[str, dict[str, float | int | None]]]] = {}
    for e in effects:
        direction = predicted(e.param, e.metric, e.mode)
        cell = {"mean": e.mean, "predicted": direction,
                "agree": e.agreement(direction) if direction else None}
        table.setdefault(e.mode, {}).setdefault(e.param, {})[e.metric] = cell
    for mode, rows in table.items():
        print(f"\n{mode} ({args.seeds} seeds x {args.minutes} min): mean(high - low), "
              "▲/▼ predicted, (seeds agreeing)")
        print("| parameter | " + " | ".join(METRICS) + " |")
        print("|---" * (len(METRICS) + 1) + "|")
        for param in TUNABLE:
            cells = []
            for metric in METRICS:
                c = rows[param][metric]
                mark = {1: "▲ ", -1: "▼ ", 0: ""}[int(c["predicted"])]
                agree = (f" ({round(c['agree'] * args.seeds)}/{args.seeds})"
                         if c["predicted"] else "")
                cells.append(f"{mark}{_short(c['mean'])}{agree}")
            print(f"| `{param}` | " + " | ".join(cells) + " |")
    save(args.out, {"seeds": args.seeds, "minutes": args.minutes, "table": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
