"""Make the file system really refuse: a read-only mount, a full tmpfs, an unreadable folder.

Each helper returns the command prefix that runs ``python -m soakkit`` under the refusal
(see :func:`tests.conftest.run_subprocess`):

* :func:`read_only`: ``folder`` is bind-mounted read-only (``unshare --user
  --map-root-user --mount``, so it works for root and for normal users where user
  namespaces are allowed); a normal user without namespaces gets mode 0555 instead, which
  binds for non-root.
* :func:`tiny_tmpfs`: ``folder`` is a tmpfs of ``size`` bytes, so writes fail with ENOSPC.
  Without mount namespaces the alternative is ``prlimit --fsize`` (the kernel refuses
  writes past the limit with EFBIG): a real refusal of the same kind, never a skip.
* :func:`as_nobody`: runs as uid 65534, where permission bits bind even when the suite runs
  as root (with an interpreter that user may execute and this checkout on its path).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .conftest import REPO, CliResult, subprocess_env


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is needed by this test (util-linux)"
    return found


@functools.cache
def mount_namespaces() -> bool:
    """True when an unprivileged mount namespace with a tmpfs can be made here."""
    probe = subprocess.run([tool("unshare"), "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs probe /tmp"], capture_output=True, check=False)
    return probe.returncode == 0


def _mounted(script: str, folder: Path) -> tuple[str, ...]:
    return (tool("unshare"), "--user", "--map-root-user", "--mount", "sh", "-c",
            script + ' && exec "$@"', str(folder))


def read_only(folder: Path) -> tuple[str, ...]:
    """Prefix: ``folder`` (which must exist) is mounted read-only, its content kept."""
    if mount_namespaces():
        return _mounted('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', folder)
    assert os.geteuid() != 0, "root without mount namespaces: no way to refuse writes"
    folder.chmod(0o555)
    return ()


def tiny_tmpfs(folder: Path, size: int) -> tuple[tuple[str, ...], str]:
    """Prefix and expected errno name: writes under ``folder`` fail after ``size`` bytes."""
    if mount_namespaces():
        return _mounted(f'mount -t tmpfs -o size={size} soakkit-full "$0"', folder), "ENOSPC"
    return (tool("prlimit"), f"--fsize={size}", "--"), "EFBIG"


@functools.cache
def _nobody_python() -> tuple[str, dict[str, str]]:
    """An interpreter uid 65534 can run ("" if none), and the environment that finds soakkit."""
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]]),
           "HOME": "/nonexistent", "PATH": os.environ.get("PATH", "")}
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (sys.executable, shutil.which(version), f"/usr/bin/{version}"):
        if not candidate or not Path(candidate).exists():
            continue
        probe = subprocess.run([*_setpriv(), candidate, "-c", "import soakkit.cli"], env=env,
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate, env
    return "", env


def _setpriv() -> list[str]:
    return [tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``soakkit argv`` as uid 65534 (the test runs as root) or as this user."""
    if os.geteuid() != 0:
        return subprocess.run([sys.executable, "-m", "soakkit", *argv], cwd=cwd, text=True,
                              capture_output=True, check=False, timeout=300)
    python, env = _nobody_python()
    if not python:  # no interpreter nobody may run: start as root, drop to 65534 in-process
        return subprocess.run([sys.executable, "-c", _DROP_THEN_RUN, *argv], cwd=cwd,
                              env={**env, "PYTHONPATH": str(REPO)}, text=True,
                              capture_output=True, check=False, timeout=300)
    return subprocess.run([*_setpriv(), python, "-m", "soakkit", *argv], cwd=cwd, env=env,
                          text=True, capture_output=True, check=False, timeout=300)


#: Imports all of soakkit while root may still read the interpreter and the checkout (a
#: fresh clone under a 0700 temp folder, an interpreter under /root), then becomes uid
#: 65534 and runs the command: permission bits bind for everything the command touches.
_DROP_THEN_RUN = """
import importlib, os, pkgutil, sys
import encodings.ascii, encodings.latin_1, encodings.utf_8, gettext, locale  # loaded lazily
import soakkit
for info in pkgutil.walk_packages(soakkit.__path__, "soakkit."):
    if not info.name.endswith("__main__"):  # those run a command on import
        importlib.import_module(info.name)
from soakkit.cli import main
os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.exit(main(sys.argv[1:]))
"""


def namespace_session(folder: Path, steps: list[str | list[str]], logs: Path,
                      cwd: Path | None = None) -> list[CliResult]:
    """Run several steps in ONE private mount namespace (its mounts vanish with it).

    A ``str`` step is a shell command (``mount ...``: ``$0`` is ``folder``); a list is a
    ``soakkit`` command line, whose exit code and output are returned in order.
    """
    assert mount_namespaces(), "needs mount namespaces"
    logs.mkdir(parents=True, exist_ok=True)
    lines, n = ["set -e"], 0
    for step in steps:
        if isinstance(step, str):
            lines.append(step)
            continue
        cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "soakkit", *step])
        lines.append(f"{cmd} >{logs}/{n}.out 2>{logs}/{n}.err || echo $? >{logs}/{n}.rc")
        n += 1
    proc = subprocess.run([tool("unshare"), "--user", "--map-root-user", "--mount", "sh", "-c",
                           "\n".join(lines), str(folder)], env=subprocess_env(), cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = []
    for i in range(n):
        rc = logs / f"{i}.rc"
        results.append(CliResult(int(rc.read_text()) if rc.exists() else 0,
                                 (logs / f"{i}.out").read_text(),
                                 (logs / f"{i}.err").read_text()))
    return results
