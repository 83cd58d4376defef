"""``exec:PROGRAM``: a strategy that is a separate program, spoken to in JSON lines, in lockstep.

The engine starts ``PROGRAM`` (split like a shell command line) once per simulated window
and writes one JSON object per line to its stdin; the program answers each with one JSON
line on its stdout before the engine goes on, so a run is as deterministic as the program.
Its stderr goes to a temporary file whose last line the engine quotes if the program fails.
The protocol (``docs/STRATEGIES.md`` has it in full, with ``examples/exec_bot.py``):

* ``{"type": "describe", "protocol": 1}`` → ``{"type": "describe", "name": ..., "params":
  [spec, ...]}``: the program's own parameters (:func:`spec_from_json`); asked once when the
  strategy is selected, in a process of its own;
* ``{"type": "start", ...}`` (instrument, every parameter's value, window length, loop
  period, prior, carried state) → ``{"type": "ready"}``, optionally with ``"feed": [...]``:
  the row streams the program subscribes to, ``"trades"`` and/or ``"updates"`` (default
  both; ``[]`` for a program that reads only the book, its reports and its position);
* ``{"type": "step", "now", "seen", "book", "trades", "updates", "reports", "position"}`` →
  ``{"actions": [...]}`` with ``["quote", side, price, lots]``, ``["place", side, price,
  lots]``, ``["cancel", order_id]``, ``["take", side, lots]``; order ids are 1, 2, 3, … in
  the order the window's quote, place and take actions were sent; an optional ``"wake":
  {"at": ns, "bid": [lo, hi], "ask": [lo, hi]}`` lets the program sleep until a venue
  answer arrives, the time reaches ``at`` or the best bid or ask seen leaves its band (the
  next step message then carries every trade and update since the last one); with
  ``"orders": [id, ...]`` only answers about those orders wake it, and not an
  ``accepted`` or a partial fill, or (with ``"position": [lo, hi]``) a known position
  outside the band: the other answers come first in the next message, whose ``"held":
  n`` says how many of its reports are such (the key is absent when none are); a stream
  the program did not subscribe to is left out of every step message;
* ``{"type": "end"}``, after which the engine closes the program's stdin.

A program that exits, does not answer within the deadline (``SOAKKIT_EXEC_TIMEOUT_S``,
default :data:`DEFAULT_TIMEOUT_S` seconds) or writes anything but the expected JSON ends the
run with one :class:`~soakkit.core.errors.StrategyError` line naming what it did and when.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from soakkit.config.params import ParamSpec, spec_problems
from soakkit.core.errors import StrategyError, UsageError
from soakkit.strategy.api import (
    Action,
    Cancel,
    Place,
    Quote,
    Report,
    Step,
    Strategy,
    StrategyContext,
    Take,
)
from soakkit.strategy.program import (
    DEFAULT_TIMEOUT_S,
    TIMEOUT_ENV,
    Program,
    exec_timeout,
    shown,
)

__all__ = ["DEFAULT_TIMEOUT_S", "FEEDS", "PROTOCOL", "TIMEOUT_ENV", "ExternalStrategy",
           "describe", "exec_timeout", "spec_from_json"]

PROTOCOL = 1
#: The row streams of a step message a program may subscribe to (``ready``'s ``feed``).
FEEDS = ("trades", "updates")


def spec_from_json(item: Any, label: str) -> ParamSpec:
    """One parameter a program declares: name, kind, unit, default, lo, hi, max_step,
    tunable, description (``ParamSpec`` fields; numbers as JSON numbers)."""
    if not isinstance(item, dict):
        raise StrategyError(f"strategy {label}: describe: a parameter must be a JSON object, "
                            f"got {item!r}"[:300])
    try:
        spec = ParamSpec(name=str(item["name"]), kind=item.get("kind", "float"),
                         unit=str(item.get("unit", "")), default=item["default"],
                         lo=item["lo"], hi=item["hi"], max_step=item.get("max_step", 1),
                         tunable=bool(item.get("tunable", True)),
                         description=str(item.get("description", "")))
    except KeyError as exc:
        raise StrategyError(f"strategy {label}: describe: parameter {item.get('name')!r} "
                            f"has no {exc.args[0]!r}") from None
    problems = spec_problems(spec)
    if problems:
        raise StrategyError(f"strategy {label}: describe: parameter {spec.name!r}: "
                            + "; ".join(problems))
    return spec


def describe(argv: Sequence[str], label: str, timeout: float) -> tuple[ParamSpec, ...]:
    """Ask a program for its own parameters (a process of its own, stopped after)."""
    program = Program(argv, label, timeout)
    program.where = "when asked to describe itself"
    try:
        program.send({"type": "describe", "protocol": PROTOCOL})
        answer = program.receive()
        if not isinstance(answer, dict) or answer.get("type") != "describe" \
                or not isinstance(answer.get("params", []), list):
            raise program.fail(f"answered describe with {shown(json.dumps(answer).encode())}"
                               ", not {\"type\": \"describe\", \"params\": [...]}")
        specs = tuple(spec_from_json(item, label) for item in answer.get("params", []))
        program.send({"type": "end"})
    finally:
        program.close()
    return specs


def split_program(program: str) -> list[str]:
    """``exec:PROGRAM``'s command line as arguments (shell-like quoting, no shell)."""
    try:
        argv = shlex.split(program)
    except ValueError as exc:
        raise UsageError(f"--strategy exec:{program}: {exc}") from None
    if not argv:
        raise UsageError("--strategy exec: names no program (exec:PROGRAM [ARGS])")
    return argv


_KINDS = {"quote": 4, "place": 4, "cancel": 2, "take": 3}


class _Wake:
    """An answer's ``wake``: when the program asked to be called again."""

    __slots__ = ("ask", "at", "bid", "orders", "position")

    def __init__(self, at: int | None, bid: list[int] | None, ask: list[int] | None,
                 orders: list[int] | None, position: list[int] | None) -> None:
        self.at = at
        self.bid = bid
        self.ask = ask
        self.orders = None if orders is None else frozenset(orders)
        self.position = position

    def woken_by(self, reports: Sequence[Report], position: int) -> bool:
        """Whether venue answers wake the program: any, unless it named ``orders``; then
        an answer about one of them other than ``accepted`` or a partial fill, or a known
        position outside ``position``."""
        orders = self.orders
        if orders is None:
            return True
        band = self.position
        return (any(r.order_id in orders and r.kind != "accepted"
                    and (r.kind != "fill" or r.left == 0) for r in reports)
                or (band is not None and not band[0] <= position <= band[1]))


_WAKE_KEYS = frozenset({"at", "bid", "ask", "orders", "position"})
_WAKE_FORM = ("{\"at\": ns, \"bid\": [lo, hi], \"ask\": [lo, hi], \"orders\": [id, ...], "
              "\"position\": [lo, hi]}, each optional")


def _band(x: Any) -> bool:
    return x is None or (type(x) is list and len(x) == 2 and type(x[0]) is int  # not bool
                         and type(x[1]) is int)


def _wake(wake: Any, program: Program) -> _Wake | None:
    """An answer's ``wake`` (see the module doc), checked."""
    if wake is None:
        return None
    if type(wake) is dict and wake.keys() <= _WAKE_KEYS:
        at, bid, ask = wake.get("at"), wake.get("bid"), wake.get("ask")
        orders, position = wake.get("orders"), wake.get("position")
        if (at is None or type(at) is int) and _band(bid) and _band(ask) and _band(position) \
                and (orders is None or (type(orders) is list
                                        and all(type(x) is int for x in orders))):
            return _Wake(at, bid, ask, orders, position)
    raise program.fail(f"wrote junk (a wake {shown(json.dumps(wake).encode())}; expected "
                       f"{_WAKE_FORM})")


def _feed(answer: dict[str, Any], program: Program) -> frozenset[str]:
    """A ``ready`` answer's ``feed``: the row streams the program wants (default: all)."""
    feed = answer.get("feed", list(FEEDS))
    if not isinstance(feed, list) or not all(isinstance(x, str) and x in FEEDS for x in feed):
        raise program.fail(f"wrote junk (a feed {shown(json.dumps(feed).encode())} in its "
                           "ready answer; expected a list of \"trades\" and \"updates\", "
                           "each optional)")
    return frozenset(feed)


class ExternalStrategy(Strategy):
    """One window of a program speaking the protocol (see the module doc)."""

    def __init__(self, argv: Sequence[str], label: str, timeout: float) -> None:
        self.argv = list(argv)
        self.label = label
        self.timeout = timeout
        self.program: Program | None = None
        self.steps = 0
        self.since: tuple[int, int] | None = None  #: where the rows last sent ended
        self.messages = 0  #: step messages sent (a benchmark's count of round trips)
        self.bytes_out = 0
        self.wake: _Wake | None = None
        self.held: list[Report] = []  #: answers that did not wake the program, to send next
        self.feed = frozenset(FEEDS)  #: the row streams the program subscribed to

    def start(self, ctx: StrategyContext) -> None:
        super().start(ctx)
        self.program = Program(self.argv, self.label, self.timeout)
        i, p = ctx.instrument, ctx.prior
        self.program.send({
            "type": "start", "protocol": PROTOCOL,
            "instrument": {"tick": i.tick, "lot": i.lot, "contract_size": i.contract_size,
                           "kind": i.kind},
            "params": dict(ctx.params), "duration_ns": ctx.duration_ns, "loop_ns": ctx.loop_ns,
            "prior": {"sigma_bps": p.sigma_bps, "a_per_s": p.a_per_s,
                      "kappa_per_bps": p.kappa_per_bps},
            "start": {"position_lots": ctx.start.position_lots,
                      "orders": [[o.side, o.price, o.lots] for o in ctx.start.orders]}})
        answer = self.program.receive()
        if not isinstance(answer, dict) or answer.get("type") != "ready":
            raise self.program.fail(f"answered start with {shown(json.dumps(answer).encode())}"
                                    ", not {\"type\": \"ready\"}")
        self.feed = _feed(answer, self.program)

    def _asleep(self, step: Step) -> bool:
        """Whether the program asked not to be called now (its last answer's ``wake``)."""
        wake = self.wake
        if wake is None or (step.reports and wake.woken_by(step.reports, step.position_lots)):
            return False
        at, bid, ask = wake.at, wake.bid, wake.ask
        book = step.book
        return ((at is None or step.now_ns < at)
                and (bid is None or bid[0] <= book.bid_px <= bid[1])
                and (ask is None or ask[0] <= book.ask_px <= ask[1]))

    def on_step(self, step: Step) -> Sequence[Action]:
        program = self.program
        assert program is not None
        self.steps += 1
        if self._asleep(step):
            if step.reports:
                self.held.extend(step.reports)
            return []
        reports, held = step.reports, len(self.held)
        if held:
            reports, self.held = (*self.held, *reports), []
        program.step_at = (self.steps, step.now_ns)
        b = step.book
        rows = ""
        if self.feed:
            trades, updates, self.since = step.rows_json(self.since, "trades" in self.feed,
                                                         "updates" in self.feed)
            rows = (("" if trades is None else f'"trades":{trades},')
                    + ("" if updates is None else f'"updates":{updates},'))
        late = f'"held":{held},' if held else ""  # the first answers came at earlier steps
        answers = ",".join(f'["{r.kind}",{r.order_id},{r.ns},{r.lots},{r.price},{r.left}]'
                           for r in reports)
        message = (f'{{"type":"step","now":{step.now_ns},"seen":{step.seen_ns},"book":'
                   f'[{b.bid_px},{b.bid_qty!r},{b.ask_px},{b.ask_qty!r}],{rows}'
                   f'"reports":[{answers}],{late}'
                   f'"position":{step.position_lots}}}')
        self.messages += 1
        data = message.encode() + b"\n"
        self.bytes_out += len(data)
        answer = program.exchange(data)
        actions = answer.get("actions") if isinstance(answer, dict) else None
        if not isinstance(actions, list):
            raise program.fail(f"wrote junk (expected {{\"actions\": [...]}}, got "
                               f"{shown(json.dumps(answer).encode())})")
        self.wake = _wake(answer.get("wake"), program)
        return [self._action(item, program) for item in actions]

    def _action(self, item: Any, program: Program) -> Action:
        kind = item[0] if isinstance(item, list) and item else None
        if kind not in _KINDS or len(item) != _KINDS[kind]:
            raise program.fail(f"wrote junk (an action {shown(json.dumps(item).encode())}; "
                               "expected [\"quote\"|\"place\", side, price, lots], "
                               "[\"cancel\", id] or [\"take\", side, lots])")
        if kind == "quote":
            return Quote(item[1], item[2], item[3])
        if kind == "place":
            return Place(item[1], item[2], item[3])
        if kind == "take":
            return Take(item[1], item[2])
        return Cancel(item[1])

    def finish(self) -> None:
        program, self.program = self.program, None
        if program is None:
            return
        if program.proc.poll() is None:
            try:
                program.send({"type": "end"})
            except StrategyError:
                return
        program.close()
