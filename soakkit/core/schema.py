"""A fast, compiled JSON Schema check for the documents soakkit reads in bulk.

:func:`compile_schema` turns a schema file of ``soakkit/artifacts/schemas/`` into a tree of small
closures once; checking a document is then one walk, with no schema interpretation per
document (the catalog reads thousands of ``ITER_SUMMARY`` files). The supported keywords
are the ones soakkit's schemas use: ``type``, ``enum``, ``const``, ``required``,
``properties``, ``additionalProperties``, ``items``, ``minimum``, ``maximum``,
``minLength`` and ``pattern``; any other keyword is refused when the schema is compiled,
so a schema can never silently check less than it says.

One deliberate difference from JSON Schema: an ``integer`` is a JSON integer, never a
float with an integral value (``1.0``), as everywhere else in soakkit (docs/ERRORS.md).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Checker", "compile_schema", "schema_checker"]

#: ``check(value, where, problems)`` appends one line per problem to ``problems``.
Checker = Callable[[Any, str, list[str]], None]
_IGNORED = frozenset({"$id", "$schema", "description", "title"})
_TYPES: Mapping[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
#: The Python type of each JSON type as a JSON parser returns it: ``type(v) in ...`` is the
#: quick test (``bool`` is not an ``int`` here); :data:`_TYPES` decides the rest.
_PARSED: Mapping[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "null": (type(None),), "integer": (int,), "number": (int, float),
}
_MAX_SHOWN = 3


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def _shown(values: list[Any]) -> str:
    text = ", ".join(json.dumps(v) for v in values[:_MAX_SHOWN])
    return text + (", ..." if len(values) > _MAX_SHOWN else "")


def compile_schema(schema: Mapping[str, Any]) -> Checker:
    """The checker of ``schema`` (raises :class:`ValueError` on an unsupported keyword)."""
    unknown = set(schema) - _IGNORED - {
        "type", "enum", "const", "required", "properties", "additionalProperties", "items",
        "minimum", "maximum", "minLength", "pattern"}
    if unknown:
        raise ValueError(f"schema keywords not supported: {', '.join(sorted(unknown))}")
    names = schema.get("type", [])
    names = names if isinstance(names, list) else [names]
    tests = [_TYPES[n] for n in names]
    parsed = frozenset(t for n in names for t in _PARSED[n])
    structure = _compile_structure(schema)
    steps = [*_compile_values(schema), *([structure] if structure else [])]

    def check(v: Any, where: str, out: list[str]) -> None:
        if tests and type(v) not in parsed and not any(t(v) for t in tests):
            out.append(f"{where}: expected {' or '.join(names)}, got {_kind(v)}")
            return  # a wrong type is one problem, not many
        for step in steps:
            step(v, where, out)
    return check


def _compile_values(schema: Mapping[str, Any]) -> list[Checker]:
    steps: list[Checker] = []
    if "enum" in schema or "const" in schema:
        allowed = list(schema["enum"]) if "enum" in schema else [schema["const"]]

        def check_enum(v: Any, where: str, out: list[str]) -> None:
            # JSON equality: true is not 1, and 1.0 is not the integer 1
            if not any(v == a and type(v) is type(a) for a in allowed):
                out.append(f"{where}: expected one of {_shown(allowed)}, got {json.dumps(v)}")
        steps.append(check_enum)
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None or hi is not None:
        def check_range(v: Any, where: str, out: list[str]) -> None:
            if _TYPES["number"](v) and ((lo is not None and v < lo)
                                        or (hi is not None and v > hi)):
                out.append(f"{where}: {v!r} is out of [{lo}, {hi}]")
        steps.append(check_range)
    if "minLength" in schema or "pattern" in schema:
        least = schema.get("minLength", 0)
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None

        def check_text(v: Any, where: str, out: list[str]) -> None:
            if isinstance(v, str) and (len(v) < least or (pattern and not pattern.search(v))):
                out.append(f"{where}: {json.dumps(v[:40])} does not have the expected form")
        steps.append(check_text)
    return steps


def _compile_structure(schema: Mapping[str, Any]) -> Checker | None:
    """``properties``/``required``/``additionalProperties`` and ``items`` (``None``: the
    schema has none of them)."""
    if not {"properties", "required", "additionalProperties", "items"} & set(schema):
        return None
    required = tuple(schema.get("required", ()))
    needed = frozenset(required)
    props = {k: compile_schema(s) for k, s in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra_check = compile_schema(extra) if isinstance(extra, dict) else None
    items = compile_schema(schema["items"]) if "items" in schema else None

    def check(v: Any, where: str, out: list[str]) -> None:
        if isinstance(v, dict):
            if not needed <= v.keys():
                missing = [k for k in required if k not in v]
                out.append(f"{where}: missing {', '.join(missing)}")
            for key, value in v.items():
                sub = props.get(key)
                if sub is not None:
                    sub(value, f"{where}.{key}", out)
                elif extra_check is not None:
                    extra_check(value, f"{where}.{key}", out)
                elif extra is False:
                    out.append(f"{where}: unknown key {json.dumps(key)[:40]}")
        elif isinstance(v, list) and items is not None:
            for i, value in enumerate(v):
                items(value, f"{where}[{i}]", out)
    return check


@functools.cache
def schema_checker(path: Path) -> Checker:
    """The compiled checker of a schema file (compiled once per process)."""
    return compile_schema(json.loads(Path(path).read_text(encoding="utf-8")))
