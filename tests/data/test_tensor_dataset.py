"""ImageTensorDataset items and batches, and take_first on it and on other data sets."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from semcom.data import DatasetInfo, FirstN, ImageTensorDataset, fetch_batch, take_first


def _dataset(n: int = 10) -> ImageTensorDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 5, 4), generator=g, dtype=torch.uint8)
    info = DatasetInfo("toy", 3, (3, 5, 4), ("a", "b", "c"))
    return ImageTensorDataset(images, torch.arange(n) % 3, info)


def test_items_are_float_in_unit_range_and_int_labels() -> None:
    ds = _dataset()
    x, y = ds[3]
    assert x.dtype == torch.float32 and x.shape == (3, 5, 4)
    assert torch.equal(x, ds.images[3].float() / 255) and isinstance(y, int) and y == 0
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.equal((x * 255).round().to(torch.uint8), ds.images[3])  # exact pixels back


def test_batch_equals_stacked_items() -> None:
    ds = _dataset()
    index = torch.tensor([7, 0, 3, 3, 9])
    xb, yb = ds.batch(index)
    items = [ds[int(i)] for i in index]
    assert torch.equal(xb, torch.stack([x for x, _ in items]))
    assert yb.dtype == torch.int64 and yb.tolist() == [y for _, y in items]
    assert torch.equal(fetch_batch(ds, index)[0], xb)


def test_items_do_not_alias_the_uint8_store() -> None:
    ds = _dataset()
    x, _ = ds[0]
    x.zero_()
    xb, _ = ds.batch(torch.tensor([0]))
    xb.zero_()
    assert ds.images[0].any()


@pytest.mark.parametrize(
    ("images", "labels"),
    [
        (torch.zeros(2, 1, 4, 4), torch.arange(2)),  # float images
        (torch.zeros(2, 4, 4, dtype=torch.uint8), torch.arange(2)),  # 3-D
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.arange(3)),  # count mismatch
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(2)),  # float labels
    ],
)
def test_rejects_bad_inputs(images: torch.Tensor, labels: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        ImageTensorDataset(images, labels)


def test_take_first_keeps_the_fast_path_and_shares_memory() -> None:
    ds = _dataset(10)
    head = take_first(ds, 4)
    assert isinstance(head, ImageTensorDataset) and len(head) == 4 and head.info is ds.info
    assert head.images.data_ptr() == ds.images.data_ptr()  # a view
    assert torch.equal(head.batch(torch.arange(4))[0], ds.batch(torch.arange(4))[0])
    assert take_first(ds, None) is ds and take_first(ds, 10) is ds and take_first(ds, 11) is ds
    assert len(take_first(ds, 0)) == 0
    with pytest.raises(ValueError):
        take_first(ds, -1)


def test_take_first_of_a_generic_dataset_works_with_fetch_batch() -> None:
    x = torch.rand(8, 1, 3, 3)
    generic = TensorDataset(x, torch.arange(8))
    head = take_first(generic, 5)
    assert isinstance(head, FirstN) and len(head) == 5
    xb, yb = fetch_batch(head, torch.tensor([4, 1]))
    assert torch.equal(xb, x[[4, 1]]) and yb.tolist() == [4, 1]
    with pytest.raises(IndexError):
        head.batch(torch.tensor([5]))
    assert take_first(generic, 8) is generic


def test_first_n_uses_an_underlying_fast_path() -> None:
    ds = _dataset(10)
    head = FirstN(ds, 6)  # what take_first gives for wrappers of fast data sets
    assert torch.equal(head.batch(torch.tensor([5, -1]))[0], ds.batch(torch.tensor([5, 5]))[0])
