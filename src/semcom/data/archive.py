"""Tar archives of data sets (``.tar.gz``, ``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz``), read in
memory.

Members are read straight from the archive (nothing is extracted, so member paths can never
escape a directory); only regular files are returned.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from collections.abc import Iterator
from pathlib import Path

from semcom.data.errors import DataFormatError

#: File name endings of the archives the loaders accept.
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a file with a tar archive suffix."""
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def tar_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(member name, bytes)`` of every regular file in the archive.

    The archive is decompressed in memory first: ``tarfile`` over a compressed stream is several
    times slower for archives of many small files. Raises :class:`DataFormatError` naming the
    archive when it is corrupt or truncated.
    """
    raw = path.read_bytes()
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        elif raw[:3] == b"BZh":
            raw = bz2.decompress(raw)
        elif raw[:6] == b"\xfd7zXZ\x00":
            raw = lzma.decompress(raw)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                if member.isfile():
                    f = tar.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError, ValueError) as exc:
        raise DataFormatError(f"{path}: corrupt or truncated archive: {exc}") from exc
