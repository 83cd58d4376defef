"""``tape.json``: the instrument a tape records and where it came from.

Keys (all optional; a tape without the file is a linear instrument on the grid its data
shows)::

    tick, lot        price tick and quantity step (lot: base units, or contracts)
    kind             spot | linear | inverse (soakkit.sim.instrument)
    contract_size    base units per contract (linear, 1 on Binance); USD per contract (inverse)
    symbol, venue    e.g. "ETHUSD_PERP", "binance-delivery" (Tardis' exchange ids)
    source           what the tape was made from
    levels           L2 tapes: the depth levels per side in depth.parquet
    latency          optional: the venue's activity_ref_per_s and activity_gain for this
                     instrument (a synthetic tape states its market's; else they are
                     measured from the data, soakkit.sim.feed)
    clock            how receive times were aligned with the venue's (soakkit.sim.feed)
    feed_latency_ms  the recorded feed latency: messages, p50, p90, p99, max
    notes            what the importer wants a reader to know (list of lines)

Other keys are kept as they are. A bad value raises
:class:`~soakkit.core.errors.TapeError` naming the file and the key.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from soakkit.core.errors import TapeError
from soakkit.core.json_strict import load_json_file
from soakkit.sim.instrument import KINDS, Instrument

__all__ = ["TAPE_META", "meta_document", "read_meta", "resolve_instrument"]

TAPE_META = "tape.json"
_INSTRUMENT_KEYS = ("tick", "lot", "kind", "contract_size", "symbol", "venue")


def read_meta(folder: Path) -> dict[str, Any]:
    """``tape.json`` of ``folder`` checked key by key ({} when the tape has none)."""
    path = Path(folder) / TAPE_META
    if not path.is_file():
        return {}
    doc: dict[str, Any] = load_json_file(path)
    for key in ("tick", "lot", "contract_size"):
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value <= 0:
            raise TapeError(f"{path}: {key} must be a number > 0, got {value!r}")
    if "kind" in doc and doc["kind"] not in KINDS:
        raise TapeError(f"{path}: kind must be one of {', '.join(KINDS)}, got {doc['kind']!r}")
    for key in ("symbol", "venue", "source"):
        if key in doc and not isinstance(doc[key], str):
            raise TapeError(f"{path}: {key} must be a string, got {doc[key]!r}")
    latency = doc.get("latency")
    if latency is not None:
        keys = ("activity_ref_per_s", "activity_gain")
        good = isinstance(latency, dict) and set(latency) <= set(keys) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and v >= 0 for v in latency.values()) and latency.get("activity_ref_per_s", 1) > 0
        if not good:
            raise TapeError(f"{path}: latency must be an object with activity_ref_per_s > 0 "
                            f"and activity_gain >= 0, got {latency!r}")
    levels = doc.get("levels")
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int)
                               or levels < 1):
        raise TapeError(f"{path}: levels must be a whole number >= 1, got {levels!r}")
    return doc


def resolve_instrument(folder: Path, meta: dict[str, Any], tick: float, lot: float
                       ) -> Instrument:
    """The tape's instrument: ``tape.json``'s values, the inferred ``tick`` and ``lot``
    where it has none."""
    return Instrument(tick=float(meta.get("tick") or tick), lot=float(meta.get("lot") or lot),
                      kind=str(meta.get("kind", "linear")),
                      contract_size=float(meta.get("contract_size", 1.0)),
                      symbol=str(meta.get("symbol", "")), venue=str(meta.get("venue", "")))


def meta_document(instrument: Instrument, source: str, provenance: dict[str, Any]
                  ) -> dict[str, Any]:
    """What :func:`soakkit.sim.tapefile.write_tape` writes as ``tape.json``."""
    doc: dict[str, Any] = {k: v for k, v in provenance.items() if k not in _INSTRUMENT_KEYS}
    doc.update(instrument.to_json())
    doc["source"] = source
    return doc
