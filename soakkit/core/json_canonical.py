"""Canonical JSON: the one way soakkit encodes a JSON document (sorted keys, no NaN).

Every float carries :data:`FLOAT_DIGITS` significant digits, so the bytes of a run's files
agree across machines (docs/ARTIFACTS.md). A dataclass becomes JSON data one way,
:func:`json_ready` (``dataclasses.asdict`` with tuples as lists and mappings as dicts);
:class:`JsonRecord` gives a dataclass the ``to_json()`` that returns it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["FLOAT_DIGITS", "JsonRecord", "canonical_json", "json_ready", "round_floats"]

#: Significant digits of every float soakkit writes. numpy picks its SIMD kernels per CPU
#: (AVX-512 or AVX2), and ``exp``/``log`` and sums may differ in the last one or two ulps
#: between them; past about 12 digits a KPI is noise. Ten digits keep every value exact
#: to far below anything a report shows, and make the files of one run agree across
#: machines except in the rare value that sits on a rounding boundary (docs/ARTIFACTS.md).
FLOAT_DIGITS = 10


def round_floats(obj: Any, digits: int = FLOAT_DIGITS) -> Any:
    """``obj`` with every float rounded to ``digits`` significant digits (ints untouched).

    Idempotent: rounding a rounded value gives the same value, so the numbers a run
    acts on in memory and the numbers it writes are the same.
    """
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, digits) for v in obj]
    return obj


def canonical_json(obj: Any, *, compact: bool = False,
                   digits: int | None = FLOAT_DIGITS) -> str:
    """Encode ``obj`` deterministically: sorted keys, ASCII, no NaN/Infinity, final newline.

    Floats carry ``digits`` significant digits (:func:`round_floats`); ``digits=None``
    keeps every float exactly (for copies that must be lossless, such as the history
    rotation keeps of the files it deletes). ``compact=True`` gives one line (for JSONL
    and signatures); otherwise two-space indent. Raises :class:`ValueError` on NaN or
    Infinity instead of writing invalid JSON.
    """
    if digits is not None:
        obj = round_floats(obj, digits)
    if compact:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":"))
    else:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False, indent=2)
    return text + "\n"


def json_ready(obj: Any) -> Any:
    """``obj`` as the JSON data soakkit writes for it: a dataclass as a dict of its fields
    (as :func:`dataclasses.asdict`, recursively), tuples and lists as lists, mappings as
    dicts; anything else as it is."""
    if hasattr(type(obj), "__dataclass_fields__"):
        # Made by dataclasses, so already imported; not at the top: a command that makes
        # no dataclass should not pay for dataclasses' import of inspect (~5 ms).
        import dataclasses

        return {f.name: json_ready(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {key: json_ready(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(value) for value in obj]
    return obj


class JsonRecord:
    """A dataclass whose JSON form is its fields (:func:`json_ready`): ``to_json()``."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        """Every field, as JSON data (tuples as lists, mappings as dicts)."""
        data = json_ready(self)
        if not isinstance(data, dict):
            raise TypeError(f"{type(self).__name__} is not a dataclass")
        return data
