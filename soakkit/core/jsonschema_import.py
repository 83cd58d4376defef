"""Import jsonschema without the IRI checker nothing of soakkit's validates with.

``jsonschema._format`` imports ``rfc3987_syntax`` when it is installed (it is, through
``nbformat``'s ``jsonschema[format-nongpl]``) to check the ``iri`` and ``iri-reference``
formats; that module builds about 35 Earley parsers at import: 1.5 s of CPU, 4–7 s on a
loaded 2-core machine (python-jsonschema/jsonschema#1428), paid by every process that
imports altair (a report kernel) or nbformat (the report runner). No schema soakkit
validates uses those formats (the Vega-Lite schema uses ``uri``, ``uri-reference`` and
``color-hex``; the notebook schema none), so :func:`import_jsonschema` imports jsonschema
with ``rfc3987_syntax`` hidden, then un-hides it: a later ``import rfc3987_syntax`` works,
only jsonschema's format checker of this process lacks the two IRI checks.
"""

from __future__ import annotations

import sys

__all__ = ["import_jsonschema"]

_IRI_CHECKER = "rfc3987_syntax"


def import_jsonschema() -> None:
    """Import jsonschema (once per process) without building its IRI parsers.

    Call it before importing altair, nbformat or papermill; once jsonschema is imported
    (by anyone), it does nothing.
    """
    if "jsonschema" in sys.modules or _IRI_CHECKER in sys.modules:
        return
    sys.modules[_IRI_CHECKER] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import jsonschema  # type: ignore[import-untyped]  # noqa: F401
    finally:
        if sys.modules.get(_IRI_CHECKER, 0) is None:
            del sys.modules[_IRI_CHECKER]
