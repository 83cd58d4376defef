"""Human-readable views of a resolved configuration (``soakkit config show|explain``)."""

from __future__ import annotations

from collections.abc import Sequence

from soakkit.config.layers import PRECEDENCE, Layer, Origin, ResolvedConfig, unknown_parameter
from soakkit.config.profiles import ProfileInfo
from soakkit.core.errors import UsageError

__all__ = ["render_explain", "render_precedence", "render_profiles", "render_show"]


def _origin_text(origin: Origin) -> str:
    text = origin.source
    if origin.sha256:
        text += f" sha256:{origin.sha256[:12]}"
    if origin.revision is not None:
        text += f" rev {origin.revision}"
    return text


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def render_show(cfg: ResolvedConfig) -> str:
    """The resolved table: value, unit and origin per parameter, shadowed values after."""
    kind = "built-in" if cfg.profile.builtin else f"user file {cfg.profile.path}"
    lines = [f"profile {cfg.profile.name} ({kind}, sha256 {cfg.profile.sha256})"]
    if cfg.runtime is not None:
        lines.append(f"runtime overrides {cfg.runtime.path} (revision {cfg.runtime.revision})")
    rows = [("parameter", "value", "unit", "origin", "shadows")]
    for key, spec in cfg.specs.items():
        chain = cfg.chains[key]
        shadows = ", ".join(f"{s.origin.source}={_fmt(s.value)}" for s in reversed(chain[:-1]))
        pin = " [pinned]" if key in cfg.pinned else ""
        rows.append((key, _fmt(chain[-1].value), spec.unit,
                     _origin_text(chain[-1].origin) + pin, shadows))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
                     + ("  " + row[4] if row[4] else "").rstrip())
    return "\n".join(lines) + "\n"  # warnings are the caller's to print (once, on stderr)


def render_explain(cfg: ResolvedConfig, key: str) -> str:
    """Every layer's say on ``key``, lowest precedence first, and which one won."""
    spec = cfg.specs.get(key)
    if spec is None:
        why = unknown_parameter(key, cfg.specs)
        raise UsageError(f"parameter {key!r}: {why}" if why.startswith("not ")
                         else why.replace("unknown parameter", f"unknown parameter {key!r}", 1))
    chain = cfg.chains[key]
    lines = [f"{key}: {spec.kind}, {spec.unit}, bounds [{spec.lo}, {spec.hi}], "
             f"max step {spec.max_step}/iteration, {'tunable' if spec.tunable else 'fixed'}",
             f"  {spec.description}"]
    by_layer = {layer: [s for s in chain if s.origin.layer == layer] for layer in Layer}
    for layer, _ in PRECEDENCE:
        settings = by_layer[layer]
        if not settings:
            lines.append(f"  {layer.label:<9} (not set)")
        for setting in settings:
            mark = "  <- wins" if setting is chain[-1] else ""
            detail = f" ({setting.origin.path})" if setting.origin.path else ""
            lines.append(f"  {layer.label:<9} {_fmt(setting.value):<10} "
                         f"{_origin_text(setting.origin)}{detail}{mark}")
    if key in cfg.pinned:
        lines.append("  pinned: set by env or CLI, so the tuner will not change it")
    return "\n".join(lines) + "\n"


def render_precedence() -> str:
    """The layer order, lowest first."""
    lines = ["configuration layers, lowest precedence first (a higher layer wins):"]
    lines += [f"  {int(layer) + 1}. {layer.label:<9} {text}" for layer, text in PRECEDENCE]
    lines.append("keys set by env or cli are pinned: the tuner never changes them")
    return "\n".join(lines) + "\n"


def render_profiles(infos: Sequence[ProfileInfo]) -> str:
    """One line per profile: name, built-in or user, path, and ``INVALID: <why>`` for a
    profile that does not load."""
    lines = []
    for info in infos:
        kind = "built-in" if info.builtin else (
            "user (shadows built-in)" if info.shadows_builtin else "user")
        problem = f"  INVALID: {info.problems[0]}" if info.problems else ""
        lines.append(f"{info.name:<20} {kind:<24} {info.path}{problem}")
    return "\n".join(lines) + "\n"
