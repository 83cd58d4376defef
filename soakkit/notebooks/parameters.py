"""The parameters of a report notebook: its ``parameters`` cell, and casting values to it.

Every line of the cell tagged ``parameters`` is ``name: type = default  # help`` (types:
``str``, ``int``, ``float``, ``bool``, unions with ``None``). Values given as command-line
text are cast by the one strict number parser (:mod:`soakkit.core.inputs`): ``" 7 "``, ``+7``,
``07`` and ``7.0`` for an ``int`` are refused. Every problem is reported, one per line.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from soakkit.core.errors import NotebookRunError, closest
from soakkit.core.inputs import parse_float, parse_int
from soakkit.core.jsonschema_import import import_jsonschema

__all__ = ["ParamSpec", "cast_parameters", "notebook_parameters"]

_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "None": type(None)}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    types: tuple[str, ...]  #: allowed type names: str, int, float, bool, None
    default: Any
    help: str

    @property
    def annotation(self) -> str:
        return " | ".join(self.types)


def _annotation_types(node: ast.expr, where: str) -> tuple[str, ...]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation_types(node.left, where) + _annotation_types(node.right, where)
    if isinstance(node, ast.Constant) and node.value is None:
        return ("None",)
    if isinstance(node, ast.Name) and node.id in _TYPES:
        return (node.id,)
    raise NotebookRunError(f"{where}: annotation {ast.unparse(node)!r} is not str, int, "
                           "float, bool or a union with None")


def notebook_parameters(path: Path) -> dict[str, ParamSpec]:
    """Parse the cell tagged ``parameters``: ``name: type = default  # help`` per line."""
    import_jsonschema()  # before nbformat: without the unused IRI parsers
    import nbformat

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])),
                None)
    if cell is None:
        raise NotebookRunError(f"{path}: no cell tagged 'parameters'")
    source = cell.source
    lines = source.splitlines()
    specs: dict[str, ParamSpec] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.value is not None):
            raise NotebookRunError(f"{path}: parameters cell line {node.lineno}: expected "
                                   "'name: type = value  # help'")
        where = f"{path}: parameter {node.target.id}"
        comment = lines[node.lineno - 1].partition("#")[2].strip()
        specs[node.target.id] = ParamSpec(node.target.id,
                                          _annotation_types(node.annotation, where),
                                          ast.literal_eval(node.value), comment)
    return specs


_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _cast_text(spec: ParamSpec, text: str) -> Any:
    """Command-line text by the annotated types; numbers by the one strict parser."""
    if "None" in spec.types and text in ("None", "null"):
        return None
    reasons = []
    for kind in spec.types:
        if kind == "str":
            return text
        try:
            if kind == "int":
                return parse_int(text)
            if kind == "float":
                return parse_float(text)
        except ValueError as exc:
            reasons.append(str(exc))
        if kind == "bool" and text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
    why = f" ({reasons[0]})" if len(reasons) == 1 else ""
    raise ValueError(f"{text[:40]!r} is not {spec.annotation}{why}")


def _cast_value(spec: ParamSpec, value: Any) -> Any:
    if value is None and "None" in spec.types:
        return None
    for kind in spec.types:
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            return float(value)
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "str" and isinstance(value, PurePath):  # a folder: the kernel gets text
            return str(value)
    raise ValueError(f"{value!r} ({type(value).__name__}) is not {spec.annotation}")


def cast_parameters(specs: Mapping[str, ParamSpec], given: Mapping[str, Any], *,
                    from_text: bool = False) -> dict[str, Any]:
    """Validate ``given`` against ``specs``; returns every parameter, cast, defaults filled in.

    Raises :class:`NotebookRunError` listing every problem (unknown names with a
    did-you-mean, values that are not of the annotated type).
    """
    problems = []
    values = {name: spec.default for name, spec in specs.items()}
    for name, raw in given.items():
        spec = specs.get(name)
        if spec is None:
            best = closest(name, specs)
            hint = f" (did you mean {best!r}?)" if best else ""
            problems.append(f"unknown parameter {name!r}{hint}; known: {', '.join(specs)}")
            continue
        try:
            values[name] = _cast_text(spec, raw) if from_text and isinstance(raw, str) \
                else _cast_value(spec, raw)
        except ValueError as exc:
            problems.append(f"parameter {name}: {exc}")
    if problems:
        raise NotebookRunError("\n".join(problems))
    return values
