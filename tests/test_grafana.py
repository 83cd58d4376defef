"""The Grafana dashboard (examples/grafana/soakkit.json), read as Grafana would read it.

No Grafana server can be installed here (Debian packages none; Grafana's own repository is
not reachable), so the board is checked against Grafana's dashboard schema
(tests/data/grafana_dashboard.schema.json, generated from ``@grafana/schema`` by
scripts/grafana_schema.py): an unknown or misspelt key anywhere is an error. Then its
meaning: verdicts and statuses are shown as words in their colours, and every KPI and
parameter panel plots the unit its title names. Its queries run against a real Prometheus
in tests/test_prometheus.py.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from soakkit.config.params import PARAMS, TUNABLE
from soakkit.kpi import KPIS
from soakkit.metrics import names as N

from .conftest import REPO

DASHBOARD = REPO / "examples" / "grafana" / "soakkit.json"
SCHEMA = REPO / "tests" / "data" / "grafana_dashboard.schema.json"
#: The colour each state must show in.
COLOURS = {"PASS": "green", "WARN": "orange", "FAIL": "red",
           "ok": "green", "over_budget": "orange", "error": "red"}
#: What a panel titled with a soakkit name must show: soakkit unit -> Grafana unit (Grafana's
#: "bps" is bits per second, so basis points need a custom suffix).
UNIT_OF = {"bps": "suffix: bps", "ms": "ms", "ratio": "none", "1/min": "suffix: /min",
           "USD": "currencyUSD", "USD/h": "currencyUSD"}


@pytest.fixture(scope="module")
def board() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panel(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in board["panels"] if p["title"] == title)


def test_the_dashboard_passes_grafanas_dashboard_schema(board: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(board)]
    assert errors == []
    # the schema is strict: a misspelt key is caught
    broken = json.loads(DASHBOARD.read_text())
    broken["panels"][1]["fieldConfig"]["defaults"]["unitt"] = "s"
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


@pytest.mark.parametrize(("title", "states"), [("Last verdict", N.VERDICTS),
                                                ("Last rotation status", N.ROTATION_STATUSES)])
def test_verdict_and_status_show_as_words_in_their_colours(board: dict[str, Any], title: str,
                                                           states: tuple[str, ...]) -> None:
    panel = _panel(board, title)
    defaults = panel["fieldConfig"]["defaults"]
    [mapping] = defaults["mappings"]
    assert mapping["type"] == "value"
    shown = {entry["text"]: (int(code), entry["color"])
             for code, entry in mapping["options"].items()}
    assert set(shown) == set(states)
    assert {state: colour for state, (_, colour) in shown.items()} == \
        {s: COLOURS[s] for s in states}
    # the query gives each state its code: `(gauge{label="STATE"} == 1) * 0 + CODE`
    expr = panel["targets"][0]["expr"]
    for state, (code, _) in shown.items():
        assert f'="{state}"}} == 1) * 0 + {code}' in expr
    # the thresholds colour the same codes the same way (a number never shows green for FAIL)
    steps = defaults["thresholds"]["steps"]
    colour_at = {code: next(s["color"] for s in reversed(steps)
                            if s["value"] is None or s["value"] <= code)
                 for code, _ in shown.values()}
    assert colour_at == {code: colour for code, colour in shown.values()}


def test_every_kpi_and_parameter_panel_plots_the_unit_of_its_title(
        board: dict[str, Any]) -> None:
    named = {**{k: KPIS[k].unit for k in N.GATED_KPIS},
             **{p: PARAMS[p].unit for p in TUNABLE}}
    for title, unit in named.items():
        panel = _panel(board, title)
        assert panel["fieldConfig"]["defaults"]["unit"] == UNIT_OF[unit], title
        factor = 1 / N.base_unit(unit).scale
        for target in panel["targets"]:
            if factor == 1:
                assert " * " not in target["expr"], (title, target["expr"])
            else:  # back from the exported base unit to the title's
                assert target["expr"].endswith(f" * {round(factor, 9):g}"), (title, target)
    assert _panel(board, "net_bps")["targets"][0]["expr"].endswith(" * 10000")
    assert _panel(board, "pnl_per_hour_usd")["targets"][0]["expr"].endswith(" * 3600")
