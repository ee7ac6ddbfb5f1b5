"""IDX reading and writing: round trips, and clear errors on corrupt or truncated files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from semcom.data import DataFormatError, DataUnavailableError, read_idx, write_idx
from semcom.data.idx import encode_idx, parse_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path: Path, dtype: type, gz: bool) -> None:
    array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # writable


def test_header_layout_is_the_mnist_one() -> None:
    data = encode_idx(np.zeros((60000, 28, 28), np.uint8)[:2])
    assert data[:4] == b"\x00\x00\x08\x03"
    assert data[4:16] == (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert len(data) == 16 + 2 * 28 * 28


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "labels"  # no .gz, but compressed
    path.write_bytes(gzip.compress(encode_idx(np.arange(5, dtype=np.uint8))))
    assert read_idx(path).tolist() == [0, 1, 2, 3, 4]


GOOD = encode_idx(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header"),
        (b"\x01\x00" + GOOD[2:], "not an IDX file"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "unknown IDX type"),
        (GOOD[:3] + b"\x00" + GOOD[4:], "zero dimensions"),
        (GOOD[:6], "truncated IDX header"),
        (GOOD[:-1], "truncated IDX file"),
        (GOOD + b"\x00", "bytes after"),
    ],
)
def test_corrupt_bytes_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(DataFormatError, match=message) as info:
        parse_idx(data, source="some/file")
    assert "some/file" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DataUnavailableError)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(GOOD)[:-10])
    with pytest.raises(DataFormatError, match="corrupt or truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype_cannot_be_written() -> None:
    with pytest.raises(ValueError):
        encode_idx(np.zeros(3, dtype=np.uint16))
