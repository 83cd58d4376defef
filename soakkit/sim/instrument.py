"""Instruments: what one unit of quantity is worth, and in which currency P&L settles.

One definition for the whole engine (the tape, the strategy's sizing, the KPIs):

* ``spot`` and ``linear`` (USDⓈ-M perpetuals): a quantity is ``qty`` base units
  (``contract_size`` base units per contract, 1 on Binance); notional = qty ×
  contract_size × price, in the quote currency (USD); P&L settles in USD;
* ``inverse`` (COIN-M): a quantity is a number of contracts, each worth
  ``contract_size`` USD; notional = contracts × contract_size, whatever the price;
  P&L settles in the coin: a long of ``q`` contracts from ``p0`` to ``p1`` makes
  ``q·cs·(1/p0 − 1/p1)`` coins.

Both are accounted with one *value* function ``v(price)`` of one unit of position in the
settlement currency: ``v = cs·price`` (linear) or ``v = −cs/price`` (inverse). A fill of
``q`` on side ``s`` moves cash by ``−s·q·v(price)``; a position is marked at
``position·v(mid)``. KPIs convert the settlement currency to USD with
:meth:`Instrument.settle_to_usd`: the identity for linear, the coin at the window's final
mid for inverse (``docs/SIMULATOR.md``, "Instruments").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from soakkit.core.json_canonical import JsonRecord

__all__ = ["KINDS", "Instrument", "binance_contract_size", "is_coinm_symbol"]

#: Instrument kinds a tape can record (``tape.json`` ``kind``).
KINDS: tuple[str, ...] = ("spot", "linear", "inverse")

#: Binance COIN-M contract sizes in USD (exchangeInfo ``contractSize``): BTC 100, others 10.
_BINANCE_COINM_BTC_USD = 100.0
_BINANCE_COINM_OTHER_USD = 10.0
_COINM_SYMBOL = re.compile(r"^[A-Z0-9]+USD_(PERP|\d{6})$")


def binance_contract_size(symbol: str) -> float:
    """USD per contract of a Binance COIN-M symbol (``BTCUSD_PERP`` 100, ``ETHUSD_PERP`` 10)."""
    return (_BINANCE_COINM_BTC_USD if symbol.upper().startswith("BTCUSD")
            else _BINANCE_COINM_OTHER_USD)


def is_coinm_symbol(symbol: str) -> bool:
    """Whether ``symbol`` is named like a Binance COIN-M contract (``ETHUSD_PERP``,
    ``BTCUSD_240927``)."""
    return bool(_COINM_SYMBOL.match(symbol.upper()))


@dataclass(frozen=True)
class Instrument(JsonRecord):
    """The price grid, the quantity step and the contract terms of one instrument."""

    tick: float  #: price of one tick
    lot: float  #: one lot, in the instrument's quantity unit (base units, or contracts)
    kind: str = "linear"  #: spot, linear or inverse
    contract_size: float = 1.0  #: base units per contract (linear), USD per contract (inverse)
    symbol: str = ""
    venue: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown instrument kind {self.kind!r}; expected one of "
                             f"{', '.join(KINDS)}")
        for name in ("tick", "lot", "contract_size"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number > 0, got {value!r}")

    @property
    def inverse(self) -> bool:
        return self.kind == "inverse"

    @property
    def settles_in(self) -> str:
        """``quote`` (USD) or ``coin``."""
        return "coin" if self.inverse else "quote"

    @property
    def lot_scale(self) -> float:
        """One lot in the unit notionals scale: base units (linear), USD (inverse)."""
        return self.lot * self.contract_size

    def price_term(self, price: np.ndarray | float) -> np.ndarray:
        """What a notional is multiplied by: the price (linear), 1 (inverse)."""
        p = np.asarray(price, dtype=np.float64)
        return np.ones_like(p) if self.inverse else p

    def notional_usd(self, qty: np.ndarray | float, price: np.ndarray | float
                     ) -> np.ndarray:
        """USD notional of ``qty`` (instrument units) at ``price``: qty × price × cs (linear),
        qty × cs (inverse)."""
        q = np.asarray(qty, dtype=np.float64)
        return np.asarray(q * self.price_term(price) * self.contract_size)

    def usd_per_lot(self, price: np.ndarray | float) -> np.ndarray:
        """USD notional of one lot at ``price``."""
        return np.asarray(self.lot_scale * self.price_term(price))

    def value(self, price: np.ndarray | float) -> np.ndarray:
        """Settlement-currency value of one unit of position at ``price`` (see module doc)."""
        p = np.asarray(price, dtype=np.float64)
        if self.inverse:
            return np.asarray(-self.contract_size / p)
        return np.asarray(p * self.contract_size)

    def settle_to_usd(self, amount: np.ndarray | float, mid: float) -> np.ndarray:
        """Settlement-currency ``amount`` in USD (inverse: the coin at ``mid``)."""
        a = np.asarray(amount, dtype=np.float64)
        return np.asarray(a * mid if self.inverse else a)
