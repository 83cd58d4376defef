"""Executing a notebook: papermill in a kernel whose noise goes to the report's log.

:func:`execute` runs a template into a report folder and returns its status (``ok``,
``error``, ``timeout`` or ``dead_kernel``) with the failing cell; the kernel's own output
and papermill's log lines go to :data:`KERNEL_LOG` in that folder, never to the terminal.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soakkit.core.errors import NotebookRunError
from soakkit.core.jsonschema_import import import_jsonschema

__all__ = ["KERNEL_LOG", "CellError", "check_kernel", "drop_if_empty", "execute",
           "load_papermill"]

#: The kernel's own stdout/stderr, kept in the report folder (never on the terminal).
KERNEL_LOG = "kernel.log"
#: Where a run failed: (cell index, error name, error value), each ``None`` when unknown.
CellError = tuple[int | None, str | None, str | None]


def check_kernel(kernel: str) -> list[str]:
    """The command line of kernel ``kernel``; a missing kernel is a NotebookRunError."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(kernel)
    except NoSuchKernel:
        available = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise NotebookRunError(f"no such kernel {kernel!r} (available: {available}); "
                               "install one with `python -m ipykernel install --user`") from None
    argv = list(spec.argv)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable  # what jupyter_client runs for the native kernel
    return argv


#: The annotation part of papermill's parameter pattern, and the same with ``|`` (PEP 604).
_ANNOTATION, _UNION_ANNOTATION = r"[\w_\[\],\s]", r"[\w_\[\],\s|]"


@functools.cache
def papermill_with_unions() -> Any:
    """papermill, reading ``name: str | None = ...`` lines of a parameters cell.

    papermill 2.7's parameter pattern has no ``|`` (nteract/papermill#695, open), so it
    skips every ``str | None`` parameter and logs "Passed unknown parameter" when one is
    given. Its Python translator is replaced, in this process, by one whose pattern also
    allows ``|``; a papermill whose pattern differs is left as it is.
    """
    import_jsonschema()  # before nbformat: without the unused IRI parsers
    import papermill
    from papermill.translators import PythonTranslator, papermill_translators

    pattern = PythonTranslator.PARAMETER_PATTERN.pattern
    if _ANNOTATION in pattern:
        union = type("UnionPythonTranslator", (PythonTranslator,), {
            "PARAMETER_PATTERN": re.compile(pattern.replace(_ANNOTATION, _UNION_ANNOTATION))})
        papermill_translators.register("python", union)
    return papermill


#: The executed notebook is saved at most this often while cells run (and always at the end).
SAVE_EVERY_S = 10.0
#: The papermill engine :func:`execute` runs (:func:`_register_engine`).
_ENGINE = "soakkit"


@functools.cache
def _register_engine() -> str:
    """papermill's nbclient engine, saving the executed notebook at most every
    :data:`SAVE_EVERY_S` seconds instead of twice per cell.

    papermill writes the whole notebook, figures included, at every cell's start and end:
    48 writes and 0.4 s of CPU for the KPI report. The last state is still written when
    the run ends however it ends (papermill's ``notebook_complete``, in a ``finally``:
    after an error, a timeout or a dead kernel too), so only a process killed outright
    loses the cells run since the last save.
    """
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class ThrottledManager(NotebookExecutionManager):  # type: ignore[misc]
        saved = False  #: the first save (the notebook as it starts) is never skipped

        def save(self, **kwargs: Any) -> None:
            if self.saved and self.end_time is None and \
                    (self.now() - self.last_save_time).total_seconds() < SAVE_EVERY_S:
                return
            self.saved = True
            super().save(**kwargs)

    class ThrottledEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                             progress_bar: bool = True, log_output: bool = False,
                             autosave_cell_every: int = 30, **kwargs: Any) -> Any:
            # papermill's Engine.execute_notebook, with the manager above
            manager = ThrottledManager(nb, output_path=output_path, progress_bar=progress_bar,
                                       log_output=log_output,
                                       autosave_cell_every=autosave_cell_every)
            manager.notebook_start()
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output,
                                             **kwargs)
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
            return manager.nb

    papermill_engines.register(_ENGINE, ThrottledEngine)
    return _ENGINE


def load_papermill() -> None:
    """Import what :func:`execute` runs: papermill, its engine, nbclient (once per process).

    The runner calls it before anything imports in the background
    (:func:`soakkit.notebooks.outputs.prepare_html_exporter`), so that the packages both
    import (nbformat, nbclient, jupyter_client) are imported by one thread.
    """
    papermill_with_unions()
    _register_engine()
    import nbclient.exceptions  # noqa: F401
    import papermill.exceptions  # noqa: F401


class _DeadKernelTask(logging.Filter):
    """Drop asyncio's report of a cell task whose kernel an interrupt killed."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()  # "Task exception was never retrieved\nfuture: <Task …>"
        return not (text.startswith("Task exception was never retrieved")
                    and "DeadKernelError" in text)


_DEAD_KERNEL_TASK = _DeadKernelTask()


def drop_if_empty(path: Path) -> None:
    """Remove the kernel's log when it said nothing (the usual case)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def _quiet_kernel_manager(log: Any) -> type:
    """A kernel manager whose kernel writes its stdout/stderr to ``log``, not the terminal.

    A kernel stopped by a timeout, Ctrl-C or SIGTERM logs tracebacks (ZMQError,
    DeadKernelError); they belong in the report folder's ``kernel.log``, not on screen.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def execute(template: Path, partial: Path, values: Mapping[str, Any], kernel: str,
            cwd: Path | None, progress: bool, start_timeout: int,
            cell_timeout: int) -> tuple[str, CellError]:
    """Run the notebook into ``partial``; its status and (cell, ename, evalue)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # papermill's and nbclient's log lines ("Timeout waiting for execute reply") go to the
    # kernel log with the kernel's own output; the outcome is one line of ours
    logger = logging.getLogger("papermill")
    propagate = logger.propagate
    handler: logging.Handler | None = None
    try:
        with (partial / KERNEL_LOG).open("ab") as log, \
                (partial / KERNEL_LOG).open("a", encoding="utf-8") as text:
            handler = logging.StreamHandler(text)
            logger.addHandler(handler)
            logger.propagate = False
            papermill_with_unions().execute_notebook(
                str(template), str(partial / "report.ipynb"), parameters=dict(values),
                engine_name=_register_engine(),
                kernel_name=kernel, cwd=str(cwd or Path.cwd()), progress_bar=progress,
                report_mode=True, log_output=False, start_timeout=start_timeout,
                execution_timeout=cell_timeout,
                kernel_manager_class=_quiet_kernel_manager(log),
                extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as exc:
        return "error", (exc.cell_index, exc.ename, exc.evalue)
    except CellTimeoutError as exc:
        return "timeout", (None, "CellTimeoutError", str(exc).splitlines()[0])
    except DeadKernelError as exc:
        return "dead_kernel", (None, "DeadKernelError", str(exc).splitlines()[0])
    except KeyboardInterrupt:
        # the interrupt kills the kernel under nbclient's cell task, which nobody awaits any
        # more: asyncio would log "Task exception was never retrieved" with a traceback when
        # the task is collected; the interrupt is reported in one line by the caller
        logging.getLogger("asyncio").addFilter(_DEAD_KERNEL_TASK)
        raise
    finally:
        logger.propagate = propagate
        if handler is not None:
            logger.removeHandler(handler)
    return "ok", (None, None, None)
