"""The causality table of docs/SIMULATOR.md: each tunable parameter, low bound → high bound.

For every mode, parameter and metric: the mean paired difference (high − low, same seeds,
``steady_safe`` otherwise) and how many seeds moved in the predicted direction. Cells the
economics predicts are marked ▲ (up) or ▼ (down); ``tests/test_causality.py`` asserts them.

    python bench/bench_causality.py --seeds 8 --out bench/out/causality.json
"""

from __future__ import annotations

import sys

from _common import make_parser, save

from soakkit.config.layers import resolve
from soakkit.config.params import TUNABLE
from soakkit.evidence.causality import METRICS, measure_effects, predicted


def _short(x: float) -> str:
    return f"{x:+.3g}" if abs(x) < 1e4 else f"{x:+.2e}"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["calm", "volatile", "spike"])
    args = parser.parse_args(argv)
    values = dict(resolve("steady_safe", env={}).values)
    effects = measure_effects(values, args.modes, range(args.seeds), args.minutes)
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
