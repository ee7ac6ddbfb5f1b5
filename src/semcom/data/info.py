"""What a data set is: its name, classes and image geometry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about an image classification data set that models are built from.

    Attributes:
        name: canonical data set name (``"fashion-mnist"``, ``"cifar10"``, ``"synthetic"``).
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        in_channels: image channels ``C`` (1 = grey, 3 = RGB).
        image_size: ``(H, W)`` in pixels.
        classes: human-readable class names, index = label.

    >>> info = DatasetInfo("toy", 2, 1, (8, 8), ("no", "yes"))
    >>> info.classes[1], info.image_size
    ('yes', (8, 8))
    """

    name: str
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.classes) != self.num_classes:
            raise ValueError(
                f"DatasetInfo({self.name!r}): {len(self.classes)} class names for "
                f"num_classes={self.num_classes}"
            )
        if len(self.image_size) != 2:
            raise ValueError(f"DatasetInfo({self.name!r}): image_size must be (H, W)")
