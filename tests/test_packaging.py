"""Project contracts: dependency lists agree, the README quick start drives CI, layers flow one way."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from .conftest import REPO

_NAME_RE = re.compile(r"^([A-Za-z0-9_.-]+)")


def _names(specs: list[str]) -> set[str]:
    return {_NAME_RE.match(s.strip()).group(1).lower().replace("_", "-")  # type: ignore[union-attr]
            for s in specs}


def _extra(project: dict[str, Any], name: str) -> set[str]:
    """The packages of an extra, its ``soakkit[other]`` self-references expanded."""
    names = set()
    for spec in project["optional-dependencies"][name]:
        own = re.fullmatch(r"soakkit\[([a-z0-9_,-]+)\]", spec.strip())
        names |= set().union(*(_extra(project, e) for e in own.group(1).split(","))) \
            if own else _names([spec])
    return names


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _extra(project, "test")
    assert _extra(project, "dashboard") <= wanted  # the test extra includes the dashboard
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = _names([d for d in env["dependencies"] if isinstance(d, str)]) - {"python", "pip"}
    assert conda == wanted, {"only in environment.yml": conda - wanted,
                             "only in pyproject.toml": wanted - conda}


def test_no_pandas_in_the_library() -> None:
    for path in (REPO / "soakkit").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                    else [node.module or ""]
                assert not any(n.split(".")[0] == "pandas" for n in names), path


def _quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert commands[1] in ci, (commands[1], ci)


# one-way data flow: a module may import only from its own floor or lower ones. A floor is a
# list of packages (or modules); a module belongs to the most specific entry naming it, so an
# entry point such as ``soakkit.rotation.__main__`` sits on the command line's floor.
LAYERS: list[tuple[str, ...]] = [
    ("soakkit.core",),
    ("soakkit.config",),
    ("soakkit.sim",),
    ("soakkit.strategy",),
    ("soakkit.kpi",),
    ("soakkit.gate",),
    ("soakkit.tuning",),
    ("soakkit.artifacts",),
    ("soakkit.soak",),
    ("soakkit.rotation", "soakkit.catalog", "soakkit.sweep", "soakkit.evidence"),
    ("soakkit.metrics",),
    ("soakkit.report",),
    ("soakkit.notebooks",),
    ("soakkit.demo", "soakkit.cli", "soakkit.__main__", "soakkit.rotation.__main__"),
]


def _entry(module: str) -> tuple[int, str] | None:
    """The floor and the LAYERS entry of a module (the longest entry naming it)."""
    found = [(len(p), rank, p) for rank, prefixes in enumerate(LAYERS) for p in prefixes
             if module == p or module.startswith(p + ".")]
    if not found:
        return None
    _, rank, prefix = max(found)
    return rank, prefix


def _rank(module: str) -> int | None:
    entry = _entry(module)
    return None if entry is None else entry[0]


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _imports(path: Path, module: str | None = None) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function, relative ones resolved."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append(base)
            found += [f"{base}.{a.name}" for a in node.names]  # ``from pkg import module``
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append(node.args[0].value)
    return [t for t in found if t == "soakkit" or t.startswith("soakkit.")]


def _modules() -> list[Path]:
    return sorted((REPO / "soakkit").rglob("*.py"))


def _upward_imports(modules: list[tuple[Path, str]]) -> list[str]:
    offences = []
    for path, module in modules:
        own = _rank(module)
        if own is None:
            if module != "soakkit":  # the package root re-exports nothing
                offences.append(f"{module} is in no layer: add it to LAYERS")
            continue
        for target in _imports(path, module):
            rank = _rank(target)
            if rank is not None and rank > own:
                offences.append(f"{module} (layer {own}) imports {target} (layer {rank})")
    return offences


def test_lower_layers_never_import_higher_ones() -> None:
    offences = _upward_imports([(path, _module_name(path)) for path in _modules()])
    assert not offences, "\n".join(offences)


def test_packages_on_one_floor_import_each_other_one_way() -> None:
    """Packages sharing a floor (rotation, catalog, sweep, evidence) form no loop."""
    edges: dict[str, set[str]] = {}
    for path in _modules():
        source = _entry(_module_name(path))
        if source is None:
            continue
        for target in _imports(path):
            dest = _entry(target)
            if dest is not None and dest[0] == source[0] and dest[1] != source[1]:
                edges.setdefault(source[1], set()).add(dest[1])
    for a, targets in edges.items():
        for b in targets:
            assert a not in edges.get(b, set()), f"{a} and {b} import each other"


def test_the_layering_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from soakkit.cli import main\n    from ..report import figures\n"
                     "    import importlib\n    return importlib.import_module('soakkit.sweep')\n")
    offences = _upward_imports([(probe, "soakkit.sim.probe")])
    flagged = {line.split(" imports ")[1].split(" ")[0] for line in offences}
    assert {"soakkit.cli", "soakkit.report", "soakkit.sweep"} <= flagged, offences


#: Reading the wall clock: only soakkit/core/io.py may (everything else takes an injected Clock).
_WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
               ("date", "today"), ("time", "time"), ("time", "time_ns")}


def test_only_the_io_module_reads_the_wall_clock() -> None:
    offences = []
    for path in sorted((REPO / "soakkit").rglob("*.py")):
        if path == REPO / "soakkit" / "core" / "io.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in _WALL_CLOCK):
                offences.append(f"{path.relative_to(REPO)}:{node.lineno}: "
                                f"{node.value.id}.{node.attr}")
    assert not offences, "use soakkit.core.io.clock_from / Clock instead:\n" + "\n".join(offences)


def test_every_module_is_in_a_layer() -> None:
    for path in _modules():
        module = _module_name(path)
        if module != "soakkit":
            assert _rank(module) is not None, module


def test_airflow_example_passes_parameters_the_kpi_notebook_accepts() -> None:
    from soakkit.notebooks.runner import cast_parameters, notebook_parameters, template_path

    tree = ast.parse((REPO / "examples" / "airflow_dag.py").read_text())
    constants = {t.id: ast.literal_eval(node.value) for node in ast.walk(tree)
                 if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)}
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "run"]
    assert len(calls) == 1
    name = ast.literal_eval(calls[0].args[0])
    params_node = calls[0].args[1]
    assert isinstance(params_node, ast.Dict)
    params = {ast.literal_eval(k): constants[v.id] if isinstance(v, ast.Name)  # type: ignore[arg-type]
              else ast.literal_eval(v) for k, v in zip(params_node.keys, params_node.values,
                                                       strict=True)}
    cast = cast_parameters(notebook_parameters(template_path(name)), params)
    assert {k: cast[k] for k in params} == params
