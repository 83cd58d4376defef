"""Large text a polars writer makes, streamed to stdout (``catalog --json`` and ``--csv``).

polars writing to a path serialises on its own threads, without the interpreter lock.
So it writes into a pipe (``/dev/fd/N``) on a thread of ours while the main thread copies
the pipe to stdout a chunk at a time: the text never sits in memory whole, and a reader
that goes away (``| head``) or Ctrl-C stops polars at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

#: Bytes copied at a time, and the size asked of the pipe they come through (fewer system
#: calls than the default 64 KiB; the text in memory stays bounded by it).
CHUNK_BYTES = 1 << 20


def stdout_writer() -> Callable[[bytes | memoryview], object]:
    """A function writing bytes to stdout, or, to a text stream with no bytes underneath
    (redirected), their text: decoded incrementally, so a character split between two
    chunks arrives whole."""
    import codecs

    stdout = sys.stdout
    stdout.flush()
    binary = getattr(stdout, "buffer", None)
    if binary is not None:
        return binary.write  # type: ignore[no-any-return]
    decoder = codecs.getincrementaldecoder("utf-8")()
    return lambda data: stdout.write(decoder.decode(data))


@contextlib.contextmanager
def piped(write_to: Callable[[str], object], name: str) -> Iterator[Iterator[bytes]]:
    """The chunks ``write_to(path)`` writes, read while it runs in a thread called ``name``.

    Leaving the block early (an error, a reader gone) closes the pipe, which stops the
    writer, and waits for it; the writer's own error is raised once its text is read.
    ``write_to`` must not hold the interpreter lock while it writes (polars ≥ 1.25.2 does
    not; pyproject.toml's floor): a full pipe would otherwise block both threads."""
    import fcntl

    read_end, write_end = os.pipe()
    failed: list[BaseException] = []
    writer: threading.Thread | None = None

    def write() -> None:
        try:
            write_to(f"/dev/fd/{write_end}")
        except BaseException as exc:  # raised again in the reading thread, after the join
            failed.append(exc)
        finally:
            os.close(write_end)

    def chunks() -> Iterator[bytes]:
        while chunk := os.read(read_end, CHUNK_BYTES):
            yield chunk
        assert writer is not None
        writer.join()
        if failed:
            raise failed[0]

    try:
        with contextlib.suppress(OSError, AttributeError):  # Linux ≥ 2.6.35; else 64 KiB
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, CHUNK_BYTES)
        writer = threading.Thread(target=write, name=name, daemon=True)
        writer.start()
        yield chunks()
    finally:
        os.close(read_end)  # a writer still writing gets EPIPE and stops
        if writer is not None and writer.ident is not None:
            writer.join()
        else:  # never started: its end of the pipe is still ours to close
            os.close(write_end)
