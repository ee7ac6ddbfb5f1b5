"""Data sets by name: what an experiment's ``data.name`` may be."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from semcom.data.cifar10 import load_cifar10
from semcom.data.fashion_mnist import load_fashion_mnist
from semcom.data.info import DatasetInfo
from semcom.data.segmentation import synthetic_segmentation_datasets
from semcom.data.synthetic import synthetic_datasets

Loader = Callable[[Any], tuple[Any, Any, DatasetInfo]]

_LOADERS: dict[str, Loader] = {
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "synthetic": lambda root: synthetic_datasets(),
    "synthetic-segmentation": lambda root: synthetic_segmentation_datasets(),
}
#: The names :func:`build_dataset` accepts.
DATASET_NAMES: tuple[str, ...] = tuple(_LOADERS)
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}


def build_dataset(
    name: str, root: str | os.PathLike[str] | None = None
) -> tuple[Any, Any, DatasetInfo]:
    """``(train_set, test_set, info)`` of the data set ``name``.

    * ``fashion-mnist``: 60 000 / 10 000 grey ``1×28×28`` images (found or fetched by
      :func:`semcom.data.fashion_mnist.ensure_fashion_mnist`);
    * ``cifar10``: 50 000 / 10 000 RGB ``3×32×32`` images
      (:func:`semcom.data.cifar10.load_cifar10`);
    * ``synthetic``: 3 000 / 500 generated grey ``1×28×28`` shape images, 10 classes
      (:mod:`semcom.data.synthetic`; ``root`` is ignored);
    * ``synthetic-segmentation``: 2 000 / 400 generated RGB ``3×32×32`` images of random shapes
      with per-pixel masks over 6 classes (background + 5 shapes; ``info.task.kind ==
      "segmentation"``; :mod:`semcom.data.segmentation`; ``root`` is ignored).

    Classification sets are :class:`~semcom.data.tensor_dataset.ImageTensorDataset` (uint8 in
    memory, float ``[0, 1]`` batches); the segmentation set is a
    :class:`~semcom.data.segmentation.SegmentationTensorDataset` (batches of images and int64
    masks ``[B, H, W]``). ``root`` is the data root (else ``$SEMCOM_DATA``, else
    ``~/.cache/semcom/data``).

    >>> train, test, info = build_dataset("synthetic")
    >>> len(train), len(test), info.image_size
    (3000, 500, (28, 28))
    >>> train, test, info = build_dataset("synthetic-segmentation")
    >>> len(train), info.num_classes, info.task.kind, tuple(train.batch([0, 1])[1].shape)
    (2000, 6, 'segmentation', (2, 32, 32))
    >>> build_dataset("mnist")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'mnist';
    allowed: fashion-mnist, cifar10, synthetic, synthetic-segmentation
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; allowed: {', '.join(DATASET_NAMES)}")
    return _LOADERS[key](root)
