"""The report runner: typed parameters, outcomes and exit codes, report folders, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from soakkit.core.errors import NotebookRunError
from soakkit.notebooks.runner import (
    NOTEBOOKS,
    cast_parameters,
    notebook_parameters,
    run,
    run_template,
    template_path,
)
from soakkit.soak import SoakOptions, run_soak

from .conftest import REPO, assert_one_line_error
from .golden_support import build_golden_artifacts, golden_env

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifacts folder with one short finished run."""
    root = tmp_path_factory.mktemp("art") / "soak"
    run_soak(SoakOptions(iterations=4, sim_minutes=4, mode="volatile", seed=5,
                         gate="production", artifacts=root, now="2026-02-01T00:00:00Z"),
             env={})  # the tuner acts from 4-minute iterations; on seed 5 in iteration 1
    return root


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_templates_declare_typed_documented_parameters_and_carry_no_outputs(name: str) -> None:
    path = template_path(name)
    specs = notebook_parameters(path)
    assert specs and all(spec.help for spec in specs.values()), specs
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_papermill_reads_every_parameter_so_none_is_called_unknown(name: str) -> None:
    """papermill 2.7 skips ``str | None`` lines (nteract/papermill#695) and then logs
    "Passed unknown parameter" for them; the runner's papermill reads them all."""
    from papermill.translators import PythonTranslator

    from soakkit.notebooks.kernel import papermill_with_unions

    path = template_path(name)
    specs = notebook_parameters(path)
    unions = {n for n, spec in specs.items() if "None" in spec.types}
    assert name == "sweep" or unions  # the case that needs it is there
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert unions.isdisjoint(p.name for p in PythonTranslator.inspect(cell))  # the bug
    assert set(papermill_with_unions().inspect_notebook(str(path))) == set(specs)


def test_templates_match_their_source() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts/build_notebooks.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_parameters_are_cast_to_their_annotated_types() -> None:
    specs = notebook_parameters(template_path("kpi"))
    got = cast_parameters(specs, {"run": "007", "last_n": "5", "baseline": "None"},
                          from_text=True)
    assert got["run"] == "007" and got["last_n"] == 5 and got["baseline"] is None
    assert cast_parameters(specs, {"baseline": "20260101T000000Z-x"},
                           from_text=True)["baseline"] == "20260101T000000Z-x"
    soak = notebook_parameters(template_path("soak"))
    assert cast_parameters(soak, {"tune": "no"}, from_text=True)["tune"] is False
    disk = notebook_parameters(template_path("disk"))
    assert cast_parameters(disk, {"budget_mb": 12}, from_text=False)["budget_mb"] == 12.0


@pytest.mark.parametrize(
    ("given", "from_text", "fragment"),
    [({"runn": "latest"}, True, "unknown parameter 'runn' (did you mean 'run'?)"),
     ({"last_n": "abc"}, True, "parameter last_n: 'abc' is not int"),
     ({"last_n": "1.5"}, True, "is not int"),
     ({"last_n": True}, False, "True (bool) is not int"),
     ({"run": 7}, False, "7 (int) is not str"),
     ({"run": None}, False, "is not str")],
)
def test_bad_parameters_are_refused_before_a_kernel_starts(given: dict, from_text: bool,  # type: ignore[type-arg]
                                                           fragment: str) -> None:
    with pytest.raises(NotebookRunError, match=re.escape(fragment)):
        cast_parameters(notebook_parameters(template_path("kpi")), given, from_text=from_text)


@pytest.mark.slow
def test_kpi_report_folder(soaked: Path, tmp_path: Path) -> None:
    result = run("kpi", {"artifacts": str(soaked), "gate": "production"}, tmp_path)
    assert result.status == "ok" and result.exit_code == 0, result.evalue
    folder = result.output_dir
    assert folder.parent.name == "2026-11-24" or len(folder.parent.name) == 10
    assert folder.name.startswith("kpi-") and not folder.name.endswith(".partial")
    names = sorted(p.name for p in folder.iterdir())
    kernel_said = (folder / "kernel.log").read_text() if "kernel.log" in names else ""
    assert names == ["kpi_trends.png", "kpis.json", "manifest.json", "param_trajectories.png",
                     "report.html", "report.ipynb", "tuning_events.png"], kernel_said
    assert all(p.read_bytes().startswith(PNG) for p in result.figures)
    kpis = json.loads((folder / "kpis.json").read_text())
    assert kpis["kpi"]["iterations"] == [1, 2, 3, 4] and kpis["kpi"]["verdict"] in (
        "PASS", "WARN", "FAIL")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["error"] is None
    assert manifest["parameters"]["artifacts"] == str(soaked)
    assert len(manifest["template"]["sha256"]) == 64 and "papermill" in manifest["versions"]
    # where the seconds went: the cells split by what they do, the kernel's start apart
    spent = manifest["seconds"]
    assert spent["imports_s"] + spent["charts_s"] + spent["work_s"] == pytest.approx(
        spent["cells_s"], abs=0.005)
    assert spent["imports_s"] > 0 and spent["charts_s"] > 0 and spent["work_s"] > 0
    assert spent["kernel_start_s"] > 0 and spent["execute_s"] >= spent["cells_s"]
    html = (folder / "report.html").read_text()
    assert "load_kpi_report(" not in html  # no code in the report
    assert 'src="http' not in html and "cdnjs" not in html  # no CDN assets: works offline
    assert (tmp_path / "latest" / "kpi").resolve() == folder.resolve()


@pytest.mark.slow
def test_a_failing_report_keeps_the_good_one(soaked: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    good = run("kpi", {"artifacts": str(soaked)}, tmp_path)
    assert good.exit_code == 0
    # a run folder whose iterations are all gone passes the checks but fails in the kernel
    hollow = soaked / "runs" / "hollow"
    hollow.mkdir()
    shutil.copy(next((soaked / "runs").glob("*-s*")) / "RUN.json", hollow / "RUN.json")
    try:
        bad = run("kpi", {"artifacts": str(soaked), "run": "hollow"}, tmp_path)
        assert bad.status == "error" and bad.exit_code == 1
        assert bad.ename == "ArtifactError" and "no readable iterations" in str(bad.evalue)
        assert bad.failing_cell is not None
        assert bad.output_dir.name.endswith(".failed")
        assert json.loads((bad.output_dir / "manifest.json").read_text())["error"]["ename"] \
            == "ArtifactError"
        assert (tmp_path / "latest" / "kpi").resolve() == good.output_dir.resolve()
        out = cli("report", "kpi", "-p", "artifacts", str(soaked), "-p", "run", "hollow",
                  "--out", str(tmp_path))
        assert out.code == 1
        assert_one_line_error(out, "ArtifactError", "no readable iterations")
    finally:
        shutil.rmtree(hollow)
    # an unknown run id is refused before a kernel starts: exit 2, no report folder
    folders = sorted(p.name for p in tmp_path.rglob("kpi-*"))
    out = cli("report", "kpi", "-p", "artifacts", str(soaked), "-p", "run", "nope", "--out",
              str(tmp_path))
    assert out.code == 2
    assert_one_line_error(out, "-p run nope: unknown run id 'nope'")
    assert sorted(p.name for p in tmp_path.rglob("kpi-*")) == folders


def test_empty_artifacts_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotebookRunError, match="-p run latest: no runs under"):
        run("kpi", {"artifacts": str(empty)}, tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_corrupt_iteration_is_reported_and_the_rest_shown(tmp_path: Path) -> None:
    root = tmp_path / "soak"
    res = run_soak(SoakOptions(iterations=4, sim_minutes=1, artifacts=root), env={})
    (res.run_dir / "ITER_SUMMARY_2.json").write_text('{"iteration": 2, "summary": ')
    result = run("kpi", {"artifacts": str(root), "gate": "smoke"}, tmp_path / "reports")
    assert result.status == "ok" and result.exit_code == 5  # ok, with problems
    assert [p for p in result.problems if "ITER_SUMMARY_2.json" in p]
    assert result.kpis["kpi"]["iterations"] == [1, 3, 4]
    nb = nbformat.read(result.notebook, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "skipped:" in printed and "ITER_SUMMARY_2.json" in printed


@pytest.mark.slow
def test_cell_timeout(tmp_path: Path) -> None:
    result = run("soak", {"iterations": 400, "sim_minutes": 60, "artifacts": str(tmp_path / "a")},
                 tmp_path / "r", cell_timeout=2)
    assert result.status == "timeout" and result.exit_code == 3
    assert result.output_dir.name.endswith(".failed")


@pytest.mark.slow
def test_dead_kernel(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("x: int = 1  # a parameter"),
                             new_code_cell("import os\nos._exit(1)")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "dies.ipynb"
    nbformat.write(nb, path)
    result = run_template(path, "dies", {"x": 2}, tmp_path / "r")
    assert result.status == "dead_kernel" and result.exit_code == 4


def test_missing_kernel_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("report", "disk", "--kernel", "nope-kernel", "--out", str(tmp_path))
    assert out.code == 2
    assert_one_line_error(out, "no such kernel 'nope-kernel'")
    assert not any(tmp_path.iterdir())
    out = cli("report", "kpi", "-p", "runn", "latest", "--out", str(tmp_path))
    assert out.code == 2 and "did you mean 'run'" in out.err


def test_catalog_command(soaked: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("catalog", "--artifacts", str(soaked), "--json")
    rows = json.loads(out.out)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["started_utc"].endswith("Z")
    csv = cli("catalog", "--artifacts", str(soaked), "--csv").out.splitlines()
    assert csv[0].startswith("run_id,iteration,") and len(csv) == 5
    missing = cli("catalog", "--artifacts", str(soaked / "nope"))
    assert missing.code == 2 and "artifacts folder not found" in missing.err


def _nbval(folder: Path, notebook: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
                           "--nbval-sanitize-with", "nbval_sanitize.cfg", "-p",
                           "no:cacheprovider", "-q", notebook],
                          cwd=folder, capture_output=True, text=True, check=False,
                          env={**os.environ, **env})


@pytest.mark.slow
def test_nbval_really_compares_outputs(tmp_path: Path) -> None:
    """The golden passes as stored; with one stored output changed, nbval fails that cell."""
    golden = REPO / "tests" / "golden"
    build_golden_artifacts(tmp_path / "artifacts")
    env = golden_env(tmp_path / "artifacts", "kpi_report")
    shutil.copy(golden / "nbval_sanitize.cfg", tmp_path)
    nb = nbformat.read(golden / "kpi_report.ipynb", as_version=4)
    nbformat.write(nb, tmp_path / "control.ipynb")
    index = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and "report.header" in c.source)
    html = nb.cells[index].outputs[0]["data"]["text/html"]
    nb.cells[index].outputs[0]["data"]["text/html"] = html.replace("steady_safe", "tampered", 1)
    nbformat.write(nb, tmp_path / "tampered.ipynb")
    control = _nbval(tmp_path, "control.ipynb", env)
    assert control.returncode == 0, control.stdout[-3000:]
    tampered = _nbval(tmp_path, "tampered.ipynb", env)
    assert tampered.returncode == 1
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert f"tampered.ipynb::Cell {code_cells.index(index)} " in tampered.stdout
    assert "1 failed" in tampered.stdout


def test_jsonschema_is_imported_without_its_iri_parsers(tmp_path: Path) -> None:
    """The report's processes import jsonschema without ``rfc3987_syntax`` (its ~35 Earley
    parsers): altair still validates a chart, nbformat a notebook, and the module can still
    be imported afterwards by whoever wants it."""
    code = (
        "import sys\n"
        "from soakkit.core.jsonschema_import import import_jsonschema\n"
        "import_jsonschema()\n"
        "assert 'jsonschema' in sys.modules and 'rfc3987_syntax' not in sys.modules\n"
        "import altair as alt, nbformat\n"
        "from nbformat.v4 import new_notebook\n"
        "alt.Chart(alt.Data(values=[{'x': 1}])).mark_point().encode(x='x:Q').to_dict()\n"
        "nbformat.validate(new_notebook())\n"
        "assert 'rfc3987_syntax' not in sys.modules\n"
        "try:\n"
        "    alt.Chart(alt.Data(values=[])).mark_point().encode(x='x:Q').properties(width='w')"
        ".to_dict()\n"
        "except Exception as exc:\n"
        "    print('invalid chart refused:', type(exc).__name__)\n"
        "import rfc3987_syntax\n"
        "print('later import works')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "invalid chart refused:" in done.stdout and "later import works" in done.stdout
