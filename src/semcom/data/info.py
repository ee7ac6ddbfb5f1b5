"""What a data set is: its name, classes and image geometry."""

from __future__ import annotations

from dataclasses import dataclass

#: The tasks a data set's labels can serve.
TASKS: tuple[str, ...] = ("classification", "segmentation")


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about an image data set that models are built from.

    Attributes:
        name: canonical data set name (``"fashion-mnist"``, ``"cifar10"``, ``"synthetic"``).
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        in_channels: image channels ``C`` (1 = grey, 3 = RGB).
        image_size: ``(H, W)`` in pixels.
        classes: human-readable class names, index = label (for segmentation: index = the
            value of a mask pixel, background included).
        task: what the labels are: ``"classification"`` (one label per image, the default) or
            ``"segmentation"`` (one label per pixel, masks ``[H, W]``).

    >>> info = DatasetInfo("toy", 2, 1, (8, 8), ("no", "yes"))
    >>> info.classes[1], info.image_size
    ('yes', (8, 8))
    """

    name: str
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    classes: tuple[str, ...]
    task: str = "classification"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(
                f"DatasetInfo({self.name!r}): task must be one of {', '.join(TASKS)}, "
                f"got {self.task!r}"
            )
        if len(self.classes) != self.num_classes:
            raise ValueError(
                f"DatasetInfo({self.name!r}): {len(self.classes)} class names for "
                f"num_classes={self.num_classes}"
            )
        if len(self.image_size) != 2:
            raise ValueError(f"DatasetInfo({self.name!r}): image_size must be (H, W)")
