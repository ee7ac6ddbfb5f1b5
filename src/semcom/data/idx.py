"""The IDX file format of MNIST and Fashion-MNIST, read and written with numpy.

An IDX file is: two zero bytes, a type code (``0x08`` = uint8, ``0x09`` int8, ``0x0B`` int16,
``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64; big-endian), the number of dimensions ``d``,
``d`` big-endian uint32 sizes, then the values in C order. Files may be gzip-compressed (detected
from the gzip magic bytes, not the file name). Every header field and the exact payload length are
checked, so truncated or corrupt files fail with a :class:`DataFormatError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from semcom.data.errors import DataFormatError

_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder(">") if dt.itemsize > 1 else dt: code for code, dt in _TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into an array (native byte order, writable).

    Raises :class:`DataFormatError` (naming ``source``) on a bad magic number, unknown type code,
    or a payload shorter or longer than the header says.

    >>> parse_idx(encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))).tolist()
    [[0, 1, 2], [3, 4, 5]]
    >>> parse_idx(b"\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x05abc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    semcom.data.errors.DataFormatError: <bytes>: truncated IDX file: header says 5 values ...
    """
    if len(data) < 4:
        raise DataFormatError(f"{source}: not an IDX file ({len(data)} bytes, no header)")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise DataFormatError(
            f"{source}: not an IDX file (magic {data[:4].hex()}; expected 0000<type><ndim>)"
        )
    if code not in _TYPES:
        raise DataFormatError(f"{source}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise DataFormatError(f"{source}: IDX file with zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{source}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _TYPES[code]
    count = int(np.prod(dims, dtype=np.int64))
    expected = count * dtype.itemsize
    body = len(data) - header
    if body < expected:
        raise DataFormatError(
            f"{source}: truncated IDX file: header says {count} values ({expected} bytes) "
            f"but {body} bytes follow"
        )
    if body > expected:
        raise DataFormatError(
            f"{source}: IDX file has {body - expected} bytes after the {count} values the "
            "header announces"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes (uncompressed) for ``array`` (uint8, int8, int16, int32, float32, float64)."""
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big not in _CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    head = struct.pack(f">BBBB{array.ndim}I", 0, 0, _CODES[big], array.ndim, *array.shape)
    return head + np.ascontiguousarray(array, dtype=big).tobytes()


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The uncompressed IDX bytes of ``path`` (gunzipped if it starts with the gzip magic)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: corrupt or truncated gzip data: {exc}") from exc


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array."""
    return parse_idx(read_idx_bytes(path), source=str(path))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, gz: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``gz`` (default: the name ends in ``.gz``).

    The file appears atomically (written to a temporary name, then renamed).
    """
    path = Path(path)
    gz = path.suffix == ".gz" if gz is None else gz
    data = encode_idx(array)
    if gz:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_atomic(path, data)
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0644) via a temporary file in the same directory and a
    rename, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; data files are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
