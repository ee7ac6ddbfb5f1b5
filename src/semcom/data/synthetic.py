"""A generated, learnable image classification set: ten shape classes with jitter and noise.

``synthetic`` stands in for Fashion-MNIST where no real data may be used (CI, quick tests):
grey ``1×28×28`` images (the same geometry as Fashion-MNIST), 10 balanced classes, 3 000 train
and 500 test samples by default, generated in a few milliseconds from a seed (the same seed gives
the same bytes). Each class is a fixed shape (bars, diagonals, cross, square, disk, ring,
triangle, checkerboard), shifted by up to ±2 pixels, scaled in contrast, on a noisy background: a
tiny CNN (or even a linear model) separates the classes within a few dozen steps, and
still has something to learn.

The same generator makes RGB images (``channels=3``: the shape tinted with a random colour) of any
size; the format writers (:mod:`semcom.data.writers`) use it to fake real files.
"""

from __future__ import annotations

import torch
from torch import Tensor

from semcom.data.info import DatasetInfo
from semcom.data.tensor_dataset import ImageTensorDataset

#: Class names, index = label.
SYNTHETIC_CLASSES: tuple[str, ...] = (
    "horizontal bar",
    "vertical bar",
    "diagonal",
    "anti-diagonal",
    "cross",
    "square outline",
    "disk",
    "ring",
    "triangle",
    "checkerboard",
)

#: Defaults of the ``synthetic`` data set.
SYNTHETIC_TRAIN, SYNTHETIC_TEST, SYNTHETIC_SIZE = 3000, 500, 28


def pattern_templates(size: int = 28) -> Tensor:
    """The ten class shapes, float32 ``[10, size, size]`` with values in ``{0, 1}``.

    >>> t = pattern_templates(28)
    >>> t.shape, bool(((t == 0) | (t == 1)).all())
    (torch.Size([10, 28, 28]), True)
    """
    if size < 8:
        raise ValueError(f"pattern size must be >= 8 pixels, got {size}")
    c = (size - 1) / 2
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float32),
        torch.arange(size, dtype=torch.float32),
        indexing="ij",
    )
    dy, dx = y - c, x - c
    r = torch.sqrt(dx**2 + dy**2)
    w = max(1.0, size / 14)  # stroke half-width in pixels
    m = size * 0.3  # half-extent of the shapes
    inside = (dx.abs() <= m) & (dy.abs() <= m)
    cells = torch.div(y, size // 4, rounding_mode="floor") + torch.div(
        x, size // 4, rounding_mode="floor"
    )
    shapes = [
        (dy.abs() <= w) & (dx.abs() <= m),  # horizontal bar
        (dx.abs() <= w) & (dy.abs() <= m),  # vertical bar
        ((dx - dy).abs() <= w * 1.2) & inside,  # diagonal
        ((dx + dy).abs() <= w * 1.2) & inside,  # anti-diagonal
        ((dx.abs() <= w) | (dy.abs() <= w)) & inside,  # cross
        inside & ((dx.abs() >= m - w) | (dy.abs() >= m - w)),  # square outline
        r <= m * 0.8,  # disk
        (r <= m) & (r >= m - 1.5 * w),  # ring
        (dy <= m) & (dy >= -m) & (dx.abs() <= (dy + m) / 2),  # triangle (apex up)
        inside & (cells % 2 == 0),  # checkerboard
    ]
    return torch.stack(shapes).to(torch.float32)


def make_pattern_images(
    n: int,
    seed: int,
    *,
    size: int = 28,
    channels: int = 1,
    shift: int = 2,
    noise: float = 0.12,
) -> tuple[Tensor, Tensor]:
    """``n`` pattern images, uint8 ``[n, channels, size, size]``, and int64 labels ``[n]``.

    Labels are balanced (``arange(n) % 10``, shuffled). Per sample: the class shape shifted by
    up to ``±shift`` pixels, contrast in ``[0.55, 1]``, background in ``[0, 0.25]``, Gaussian noise
    of std ``noise`` (in units of full scale), clipped and rounded to uint8. With ``channels=3``
    the shape is tinted with a random colour (each channel gain in ``[0.4, 1]``). Deterministic:
    the same arguments give the same bytes.

    >>> x, y = make_pattern_images(20, seed=0)
    >>> x.shape, x.dtype, torch.bincount(y).tolist()
    (torch.Size([20, 1, 28, 28]), torch.uint8, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    >>> bool(torch.equal(x, make_pattern_images(20, seed=0)[0]))
    True
    """
    g = torch.Generator().manual_seed(int(seed))
    k = len(SYNTHETIC_CLASSES)
    labels = (torch.arange(n) % k)[torch.randperm(n, generator=g)]
    padded = torch.nn.functional.pad(pattern_templates(size), (shift, shift, shift, shift))
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=g)
    rows = offsets[:, 0, None, None] + torch.arange(size)[None, :, None]
    cols = offsets[:, 1, None, None] + torch.arange(size)[None, None, :]
    shapes = padded[labels[:, None, None], rows, cols].unsqueeze(1)  # [n, 1, size, size]
    contrast = 0.55 + 0.45 * torch.rand(n, 1, 1, 1, generator=g)
    background = 0.25 * torch.rand(n, 1, 1, 1, generator=g)
    tint = 0.4 + 0.6 * torch.rand(n, channels, 1, 1, generator=g) if channels > 1 else 1.0
    x = background + (1 - background) * contrast * shapes * tint
    x = x + noise * torch.randn(n, channels, size, size, generator=g)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, labels


def synthetic_datasets(
    n_train: int = SYNTHETIC_TRAIN,
    n_test: int = SYNTHETIC_TEST,
    seed: int = 0,
    *,
    size: int = SYNTHETIC_SIZE,
    channels: int = 1,
) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
    """The ``synthetic`` data set: train and test :class:`ImageTensorDataset` and its info.

    Train and test are drawn from independent streams of the same seed.

    >>> train, test, info = synthetic_datasets(100, 20)
    >>> len(train), len(test), info.num_classes, info.in_channels, info.image_size
    (100, 20, 10, 1, (28, 28))
    """
    info = DatasetInfo(
        "synthetic", len(SYNTHETIC_CLASSES), (channels, size, size), SYNTHETIC_CLASSES
    )
    train = make_pattern_images(n_train, seed=2 * seed, size=size, channels=channels)
    test = make_pattern_images(n_test, seed=2 * seed + 1, size=size, channels=channels)
    return ImageTensorDataset(*train, info=info), ImageTensorDataset(*test, info=info), info
