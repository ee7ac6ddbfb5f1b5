"""The split rules: stratified per class, seeded, deterministic, stable when classes change."""

from __future__ import annotations

import numpy as np
import pytest

from semcom.data.ordering import round_robin_order, stratified_split

CLASSES = ("ant", "bee", "cat")


def _labels(*counts: int) -> np.ndarray:
    return np.concatenate([np.full(n, c, dtype=np.int64) for c, n in enumerate(counts)])


@pytest.mark.parametrize(
    ("counts", "fraction", "expected"),
    [
        ((10, 10, 10), 0.2, [2, 2, 2]),
        ((10, 5, 2), 0.2, [2, 1, 1]),  # round(1.0) = 1; round(0.4) = 0 -> at least one
        ((10, 4, 3), 0.9, [9, 3, 2]),  # at most n - 1: the training split keeps every class
        ((7, 7, 7), 0.5, [4, 4, 4]),  # round(3.5) = 4 (half to even)
    ],
)
def test_test_counts_per_class(
    counts: tuple[int, ...], fraction: float, expected: list[int]
) -> None:
    labels = _labels(*counts)
    train, test = stratified_split(labels, CLASSES, fraction, seed=0)
    assert np.bincount(labels[test], minlength=3).tolist() == expected
    assert np.bincount(labels[train], minlength=3).tolist() == [
        n - k for n, k in zip(counts, expected, strict=True)
    ]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()  # input order kept


def test_same_seed_same_split_other_seed_other_split() -> None:
    labels = _labels(20, 20, 20)
    a = stratified_split(labels, CLASSES, 0.25, seed=1)
    b = stratified_split(labels, CLASSES, 0.25, seed=1)
    c = stratified_split(labels, CLASSES, 0.25, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_a_new_class_leaves_the_other_splits_alone() -> None:
    """Each class's draw depends on the seed and its name, not on its label or the others."""
    before = _labels(9, 9)
    _, test_before = stratified_split(before, ("bee", "cat"), 0.3, seed=0)
    after = _labels(5, 9, 9)  # "ant" added in front: bee and cat get labels 1 and 2
    _, test_after = stratified_split(after, ("ant", "bee", "cat"), 0.3, seed=0)
    kept = test_after[after[test_after] > 0] - 5
    assert np.array_equal(kept, test_before)


def test_single_sample_classes_stay_in_training() -> None:
    train, test = stratified_split(_labels(1, 4), ("a", "b"), 0.5, seed=0)
    assert 0 in train and len(test) == 2


def test_round_robin_prefixes_are_balanced() -> None:
    labels = _labels(5, 3, 4)
    order = round_robin_order(labels)
    assert labels[order][:6].tolist() == [0, 1, 2, 0, 1, 2]
    assert sorted(order.tolist()) == list(range(12))
    assert [i for i in order if labels[i] == 0] == [0, 1, 2, 3, 4]  # class order kept
