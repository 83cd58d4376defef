"""Reading a vendor's CSV: plain, ``.gz`` or ``.zip``, header or not, cells as text.

Decompression comes first, so a header is told from the first line of the *data*
(Binance ships some files with a header and some without; a gzipped file's first bytes
say nothing). Cells are read as text and converted column by column
(:func:`numbers`), so a bad cell names its file, line and column.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import polars as pl

from soakkit.core.errors import TapeError

__all__ = ["MAX_CSV_BYTES", "decompressed", "first_fields", "has_header", "numbers",
           "read_text_csv"]

MAX_CSV_BYTES = 8 * 1024**3  #: the largest decompressed input an import reads (8 GiB)


def decompressed(path: Path) -> bytes:
    """The bytes of ``path``: the one CSV inside a ``.zip``, a ``.gz`` inflated, else as is."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise TapeError(f"{path}: expected one .csv inside, found {len(names)}")
                if archive.getinfo(names[0]).file_size > MAX_CSV_BYTES:
                    raise TapeError(f"{path}: {names[0]} is larger than "
                                    f"{MAX_CSV_BYTES // 1024**3} GiB")
                return archive.read(names[0])
        data = path.read_bytes()
        if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
                data = fh.read(MAX_CSV_BYTES + 1)
            if len(data) > MAX_CSV_BYTES:
                raise TapeError(f"{path}: larger than {MAX_CSV_BYTES // 1024**3} GiB "
                                "decompressed")
        return data
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise TapeError(f"{path}: cannot read: {exc}") from None


def first_fields(data: bytes) -> list[str]:
    """The cells of the first non-empty line."""
    for line in data[:65536].decode("utf-8", "replace").splitlines():
        if line.strip():
            return [cell.strip() for cell in line.split(",")]
    return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def has_header(data: bytes) -> bool:
    """Whether the first line is a header (its first cell is not a number)."""
    cells = first_fields(data)
    return bool(cells) and not _is_number(cells[0])


def read_text_csv(path: Path, data: bytes, names: list[str] | None = None) -> pl.DataFrame:
    """The CSV ``data`` (from ``path``) with every cell as text; ``names`` for a headerless
    file (its column count must match), else the header's names."""
    try:
        frame = pl.read_csv(io.BytesIO(data), has_header=names is None, infer_schema=False,
                            new_columns=names, truncate_ragged_lines=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise TapeError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    if names is not None and frame.width != len(names):
        raise TapeError(f"{path}: {frame.width} columns, expected {len(names)} "
                        f"({', '.join(names)})")
    if frame.height == 0:
        raise TapeError(f"{path}: no rows")
    return frame


def numbers(frame: pl.DataFrame, path: Path, names: list[str], integers: tuple[str, ...] = (),
            header: bool = True) -> dict[str, np.ndarray]:
    """Columns as numbers (``integers`` exactly, as int64); a bad cell names its line."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise TapeError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(has: {', '.join(frame.columns)})")
    out = {}
    for name in names:
        col = frame[name].str.strip_chars()
        values = col.cast(pl.Int64 if name in integers else pl.Float64, strict=False)
        bad = values.is_null() & (col.is_not_null() & (col != "") | (name in integers))
        if bad.any():
            row = int(bad.arg_max() or 0)
            what = "is empty" if col[row] in (None, "") else f"{col[row]!r} is not a number"
            raise TapeError(f"{path}:{row + 1 + header}: {name} {what}")
        out[name] = values.to_numpy()
    return out
