"""Project contracts: dependency lists agree, the README quick start drives CI, layers flow one way."""

from __future__ import annotations

import ast
import re
import tomllib

import yaml

from .conftest import REPO

_NAME_RE = re.compile(r"^([A-Za-z0-9_.-]+)")


def _names(specs: list[str]) -> set[str]:
    return {_NAME_RE.match(s.strip()).group(1).lower().replace("_", "-")  # type: ignore[union-attr]
            for s in specs}


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
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


# one-way data flow: a module may import only from its own layer or lower ones
LAYERS: list[tuple[str, ...]] = [
    ("soakkit.errors", "soakkit.inputs", "soakkit.io", "soakkit.json_canonical",
     "soakkit.json_strict", "soakkit.digests", "soakkit.locks", "soakkit.schema",
     "soakkit.signals", "soakkit.tables"),
    ("soakkit.config",),
    ("soakkit.sim",),
    ("soakkit.kpi", "soakkit.causality"),
    ("soakkit.gate",),
    ("soakkit.tuning",),
    ("soakkit.artifacts", "soakkit.iterlog", "soakkit.iterlog_table"),
    ("soakkit.soak",),
    ("soakkit.rotation", "soakkit.catalog", "soakkit.catalog_parse", "soakkit.catalog_log",
     "soakkit.catalog_cache", "soakkit.metrics", "soakkit.sweep"),
    ("soakkit.report", "soakkit.notebooks"),
    ("soakkit.demo", "soakkit.cli", "soakkit.__main__"),
]


def _rank(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def test_lower_layers_never_import_higher_ones() -> None:
    offences = []
    for path in sorted((REPO / "soakkit").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        own = _rank(module)
        if own is None:
            if module != "soakkit":  # the package root re-exports nothing
                offences.append(f"{module} is in no layer: add it to LAYERS")
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                rank = _rank(target)
                if rank is not None and rank > own:
                    offences.append(f"{module} (layer {own}) imports {target} (layer {rank})")
    assert not offences, "\n".join(offences)


#: Reading the wall clock: only soakkit/io.py may (everything else takes an injected Clock).
_WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
               ("date", "today"), ("time", "time"), ("time", "time_ns")}


def test_only_the_io_module_reads_the_wall_clock() -> None:
    offences = []
    for path in sorted((REPO / "soakkit").rglob("*.py")):
        if path == REPO / "soakkit" / "io.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in _WALL_CLOCK):
                offences.append(f"{path.relative_to(REPO)}:{node.lineno}: "
                                f"{node.value.id}.{node.attr}")
    assert not offences, "use soakkit.io.clock_from / Clock instead:\n" + "\n".join(offences)


def test_every_module_is_in_a_layer() -> None:
    for path in (REPO / "soakkit").rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        if module == "soakkit":
            continue
        assert _rank(module) is not None, module


def test_airflow_example_passes_parameters_the_kpi_notebook_accepts() -> None:
    from soakkit.notebooks import cast_parameters, notebook_parameters, template_path

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
