"""Sample orders of decoded sets: class-balanced prefixes and seeded, stratified splits."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def round_robin_order(labels: np.ndarray) -> np.ndarray:
    """Indices that interleave the classes: the first sample of every class (in label order),
    then the second of every class, and so on; within a class, the given order is kept.

    Every prefix of the result is then as class-balanced as the counts allow (what a
    ``train_subset`` takes).

    >>> round_robin_order(np.array([0, 0, 1, 1, 1, 2])).tolist()
    [0, 2, 5, 1, 3, 4]
    """
    labels = np.asarray(labels, dtype=np.int64)
    by_class = np.argsort(labels, kind="stable")
    sorted_labels = labels[by_class]
    rank = np.empty(len(labels), dtype=np.int64)
    rank[by_class] = np.arange(len(labels)) - np.searchsorted(sorted_labels, sorted_labels)
    return np.lexsort((labels, rank))


def stratified_split(
    labels: np.ndarray, classes: Sequence[str], test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices ``0 .. N-1`` into ``(train, test)``, class by class, deterministically.

    Class ``c`` with ``n`` samples sends ``round(test_fraction * n)`` of them to the test split,
    at least one and at most ``n - 1``, so both splits hold every class (a class needs two
    samples; callers check that). Which samples go is drawn from a generator seeded by ``seed``
    and the class *name*, so adding images to one class, or adding a class, leaves the other
    classes' splits as they were. Both index arrays are sorted (the input order is kept).

    >>> train, test = stratified_split(np.array([0] * 5 + [1] * 5), ["a", "b"], 0.2, seed=0)
    >>> len(train), len(test), sorted(np.array([0] * 5 + [1] * 5)[test].tolist())
    (8, 2, [0, 1])
    """
    labels = np.asarray(labels, dtype=np.int64)
    test_parts: list[np.ndarray] = []
    for c, name in enumerate(classes):
        members = np.flatnonzero(labels == c)
        n = len(members)
        if n < 2:
            continue
        k = min(max(round(test_fraction * n), 1), n - 1)
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])
        test_parts.append(members[rng.permutation(n)[:k]])
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.empty(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    return train, test
