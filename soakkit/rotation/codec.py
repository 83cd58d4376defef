"""Codecs of compression in place: the streaming encoder, decoding, hashes of content.

gzip (level 6 by default, mtime 0 and no name in the header: equal input, equal bytes;
``zcat`` reads it) or zstd (``soakkit[zstd]``, content checksum on).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any

__all__ = [
    "EXTENSIONS",
    "VERIFY_ERRORS",
    "Writer",
    "codec_of",
    "decompress_bytes",
    "digest_of",
    "digest_of_bytes",
    "file_sha256",
    "sha256_of_decompressed",
]

_CHUNK = 1 << 20
EXTENSIONS = {"gzip": ".gz", "zstd": ".zst"}
#: What a corrupt compressed file raises while it is decoded.
VERIFY_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class Writer:
    """Streaming compressor for the chosen codec (the one encoder of every path)."""

    def __init__(self, fh: IO[bytes], codec: str, level: int) -> None:
        self._fh = fh
        self._gz: Any = None
        self._zs: Any = None
        if codec == "gzip":
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=level,
                                     mtime=0)
        else:
            import zstandard

            self._zs = zstandard.ZstdCompressor(level=level, write_checksum=True).stream_writer(
                fh, closefd=False)

    def write(self, data: bytes) -> None:
        (self._gz or self._zs).write(data)

    def close(self) -> None:
        (self._gz or self._zs).close()


def _decompressed_chunks(fh: IO[bytes], codec: str) -> Iterator[bytes]:
    if codec == "gzip":
        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
            yield from iter(lambda: gz.read(_CHUNK), b"")
    else:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(fh, closefd=False)
        yield from iter(lambda: reader.read(_CHUNK), b"")


def codec_of(name: str) -> str | None:
    """``gzip`` / ``zstd`` from a compressed file's extension, else ``None``."""
    for codec, ext in EXTENSIONS.items():
        if name.endswith(ext):
            return codec
    return None


def digest_of(fh: IO[bytes], codec: str) -> tuple[str, int]:
    digest, length = hashlib.sha256(), 0
    for chunk in _decompressed_chunks(fh, codec):
        digest.update(chunk)
        length += len(chunk)
    return digest.hexdigest(), length


def digest_of_bytes(raw: bytes, codec: str) -> tuple[str, int]:
    """:func:`digest_of` a whole compressed file's bytes (one zlib call for a one-member
    gzip, as soakkit writes them; anything else takes the general path)."""
    if codec == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        data = inflater.decompress(raw)
        if inflater.eof and not inflater.unused_data:
            return hashlib.sha256(data).hexdigest(), len(data)
    return digest_of(io.BytesIO(raw), codec)


def sha256_of_decompressed(dir_fd: int, name: str) -> tuple[str, int]:
    """sha256 and length of what a compressed file decompresses to (raises on corruption)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:
        return digest_of(fh, codec_of(name) or "gzip")


def decompress_bytes(data: bytes, name: str) -> bytes:
    """Decompress a whole file's bytes according to its extension."""
    codec = codec_of(name) or "gzip"
    return b"".join(_decompressed_chunks(io.BytesIO(data), codec))


def file_sha256(dir_fd: int, name: str) -> str:
    """sha256 of a file's bytes (opened without following a symlink)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
