"""Real Prometheus tools for the tests: promtool, node_exporter and a Prometheus server.

Debian packages ``prometheus`` (prometheus, promtool) and ``prometheus-node-exporter``;
``scripts/test.sh`` installs them. Servers listen on 127.0.0.1 with free ports, keep their
data in temporary folders and are stopped by the test that started them. Waits poll with
generous deadlines (a loaded 2-core machine); nothing asserts on timing.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DEADLINE_S = 180.0
#: ``name{labels} value`` and nothing after it (a third field would be a timestamp).
_SAMPLE_WITHOUT_TIMESTAMP = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? \S+$')
POLL_S = 0.5


def tool(*names: str) -> str:
    """The path of the first of ``names`` on PATH, or a test failure saying how to get it."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{names[0]} is not installed: run scripts/test.sh (it installs Debian's "
                "prometheus and prometheus-node-exporter) or apt-get install them")


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> None:
    """Run ``promtool`` and fail the test with its output unless it succeeds."""
    proc = subprocess.run([tool("promtool"), *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


def check_metrics_text(text: str) -> None:
    """``promtool check metrics`` passes, and no sample carries a timestamp."""
    promtool("check", "metrics", stdin=text)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert _SAMPLE_WITHOUT_TIMESTAMP.match(line), f"not `name{{labels}} value`: {line}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, probe: Callable[[], Any], logs: tuple[Path, ...] = (),
               deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the logs."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        with contextlib.suppress(OSError, ValueError):
            last = probe()
            if last:
                return last
        time.sleep(POLL_S)
    tails = "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}"
                      for p in logs if p.exists())
    pytest.fail(f"gave up after {deadline_s:.0f} s waiting for {what} (last: {last!r})\n{tails}")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


@dataclass
class Stack:
    """node_exporter (textfile collector) scraped by Prometheus, both ours for this test."""

    textfile_dir: Path
    node_url: str
    prometheus_url: str
    logs: tuple[Path, ...]

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.prometheus_url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        doc = json.loads(_get(url))
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        return list(self.api("query", query=expr)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[Any]:
        return list(self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                             step=f"{step:g}")["result"])

    def wait_for(self, what: str, expr: str,
                 accept: Callable[[list[dict[str, Any]]], bool] = bool) -> list[dict[str, Any]]:
        """Poll an instant query until ``accept(result)``; the result."""
        def probe() -> list[dict[str, Any]] | None:
            result = self.query(expr)
            return result if result and accept(result) else None
        return wait_until(what, probe, self.logs)  # type: ignore[no-any-return]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextlib.contextmanager
def prometheus_stack(tmp: Path, rule_files: tuple[Path, ...] = ()) -> Iterator[Stack]:
    """Start node_exporter on ``tmp/textfile`` and Prometheus scraping it every second."""
    textfile = tmp / "textfile"
    textfile.mkdir()
    node_port, prom_port = free_port(), free_port()
    node_log, prom_log = tmp / "node_exporter.log", tmp / "prometheus.log"
    config = tmp / "prometheus.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": "node",
                            "static_configs": [{"targets": [f"127.0.0.1:{node_port}"]}]}],
    }))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with node_log.open("wb") as out:
            procs.append(subprocess.Popen(
                [tool("prometheus-node-exporter", "node_exporter"), "--collector.disable-defaults",
                 "--collector.textfile", f"--collector.textfile.directory={textfile}",
                 f"--web.listen-address=127.0.0.1:{node_port}"],
                stdout=out, stderr=subprocess.STDOUT))
        with prom_log.open("wb") as out:
            procs.append(subprocess.Popen(
                [tool("prometheus"), f"--config.file={config}",
                 f"--storage.tsdb.path={tmp / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=out, stderr=subprocess.STDOUT))
        stack = Stack(textfile, f"http://127.0.0.1:{node_port}",
                      f"http://127.0.0.1:{prom_port}", (node_log, prom_log))
        for proc, log in zip(procs, stack.logs, strict=True):
            wait_until(f"{log.stem} to serve", lambda p=proc: _alive_and_serving(p, stack),
                       stack.logs)
        stack.wait_for("Prometheus to scrape node_exporter", 'up{job="node"} == 1')
        yield stack
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _alive_and_serving(proc: subprocess.Popen[bytes], stack: Stack) -> bool:
    if proc.poll() is not None:
        tails = "\n".join(p.read_text(errors="replace")[-3000:] for p in stack.logs)
        pytest.fail(f"{proc.args[0]} exited with {proc.returncode}:\n{tails}")
    try:
        _get(f"{stack.node_url}/metrics")
        _get(f"{stack.prometheus_url}/-/ready")
    except (urllib.error.URLError, OSError):
        return False
    return True
