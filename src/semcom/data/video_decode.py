"""Decode one video file into a fixed-size clip uint8 ``[C, T, H, W]`` with PyAV.

:func:`decode_clip` is the test-time protocol of action recognition:

* **Frames.** ``T = frames`` indices into the decoded frames (:func:`sample_indices`):
  ``uniform`` takes the centre frame of each of ``T`` equal segments of the whole clip (TSN's
  test sampling); ``stride`` takes ``T`` frames ``stride`` apart from a window centred in the
  clip. A clip with too few frames gives all it has, then its last frame repeated; it never
  fails. Indices count decoded frames (presentation order): frame rates are not equalised, so a
  60 fps and a 25 fps clip sampled with ``stride`` cover different spans of time.
* **Frame count.** The container header's count is only a first guess (it is 0 in most Matroska
  and WebM files, and wrong in some AVIs): the file is decoded to its end, and when the frames
  actually decoded differ from the guess, the indices are chosen again from the true count (a
  second pass over the file). A header without a count is first counted by demuxing (no decoding).
* **Geometry.** Each frame is turned upright by its display matrix (``frame.rotation``, the
  ``rotate`` tag of phone videos; rounded to a multiple of 90°; flips are ignored), then scaled
  so it just covers ``(H, W)`` — for a square target, the short side becomes ``H`` — and
  centre-cropped to ``(H, W)``: one bilinear resize of the crop's source box by Pillow
  (antialiased when shrinking), as :func:`semcom.data.decode.decode_one` resizes images. Any
  resolution, aspect or orientation works; the sample aspect ratio of anamorphic video is
  ignored (pixels are taken as square).
* **Colour.** Every pixel format (grey, YUV of any subsampling, RGB) is converted to ``rgb24``
  by swscale (as ``frame.to_ndarray(format="rgb24")``, with one converter per file);
  ``channels=1`` then takes ITU-R 601-2 luma (:func:`semcom.data.decode.to_channels`).

A file that cannot be opened or decoded, has no video stream or no decodable frame raises
:class:`VideoDecodeError` naming it. PyAV is imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from semcom.data.decode import to_channels
from semcom.data.errors import DataFormatError

#: The frame-sampling schemes of :func:`sample_indices`.
SAMPLINGS: tuple[str, ...] = ("uniform", "stride")


class VideoDecodeError(DataFormatError):
    """A video file cannot be opened or decoded; the message names the file and the cause."""


def sample_indices(n: int, frames: int, sampling: str = "uniform", stride: int = 2) -> list[int]:
    """``frames`` frame indices in ``0 .. n-1`` of a clip of ``n`` decoded frames.

    * ``uniform``: the centre of each of ``frames`` equal segments (``floor((k + 1/2) n /
      frames)``); with ``n < frames``, all ``n`` frames then the last one repeated.
    * ``stride``: ``frames`` frames ``stride`` apart, the window of ``(frames - 1) * stride + 1``
      frames centred in the clip (starting at 0 when it does not fit); indices past the end
      become the last frame.

    >>> sample_indices(10, 4), sample_indices(3, 5)
    ([1, 3, 6, 8], [0, 1, 2, 2, 2])
    >>> sample_indices(20, 4, "stride", 2), sample_indices(5, 4, "stride", 2)
    ([6, 8, 10, 12], [0, 2, 4, 4])
    """
    if n < 1 or frames < 1 or stride < 1:
        raise ValueError(f"need n, frames and stride >= 1, got {n}, {frames}, {stride}")
    if sampling == "uniform":
        if n < frames:
            return list(range(n)) + [n - 1] * (frames - n)
        return [int((2 * k + 1) * n // (2 * frames)) for k in range(frames)]
    if sampling == "stride":
        span = (frames - 1) * stride + 1
        start = max(0, (n - span) // 2)
        return [min(start + k * stride, n - 1) for k in range(frames)]
    raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")


def crop_box(height: int, width: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred box ``(x0, y0, x1, y1)`` of a ``height × width`` frame that, scaled to ``size``
    ``(H, W)``, is the frame scaled to cover ``(H, W)`` then centre-cropped.

    >>> crop_box(240, 320, (112, 112))  # 4:3 landscape: the central 240×240
    (40.0, 0.0, 280.0, 240.0)
    >>> crop_box(320, 240, (112, 112))  # portrait: the central 240×240
    (0.0, 40.0, 240.0, 280.0)
    """
    h_out, w_out = size
    scale = max(h_out / height, w_out / width)
    crop_w, crop_h = w_out / scale, h_out / scale
    x0, y0 = (width - crop_w) / 2, (height - crop_h) / 2
    return (x0, y0, x0 + crop_w, y0 + crop_h)


def _frame_to_array(
    frame: Any, size: tuple[int, int], channels: int, reformatter: Any
) -> np.ndarray:
    """One decoded frame as uint8 ``[channels, H, W]``, upright, resized and centre-cropped.

    ``reformatter`` (a PyAV ``VideoReformatter``, one per file) converts to RGB: it keeps its
    swscale context between frames, where ``frame.to_ndarray(format="rgb24")`` builds a new one
    for every frame (about 0.5 ms each, more than decoding a small frame).
    """
    from PIL import Image

    turns = int(round(float(frame.rotation or 0) / 90.0)) % 4  # counter-clockwise quarter turns
    # A quarter turn swaps height and width: crop the stored frame to the turned target, then turn.
    target = (size[1], size[0]) if turns % 2 else size
    rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
    image = to_channels(Image.fromarray(rgb), channels)
    box = crop_box(image.height, image.width, target)
    image = image.resize((target[1], target[0]), Image.Resampling.BILINEAR, box=box)
    array = np.asarray(image, dtype=np.uint8)
    if turns:
        array = np.rot90(array, turns)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _count_packets(path: str) -> int:
    """Frames of the first video stream by demuxing (no decoding): packets with data."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _decode_pass(
    path: str, indices: Sequence[int], out: np.ndarray, size: tuple[int, int], channels: int
) -> int:
    """Decode ``path`` to its end, writing frame ``indices[t]`` into ``out[:, t]``; the number
    of frames decoded."""
    import av
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    slots: dict[int, list[int]] = {}
    for t, i in enumerate(indices):
        slots.setdefault(i, []).append(t)
    n = 0
    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if n in slots:
                array = _frame_to_array(frame, size, channels, reformatter)
                for t in slots[n]:
                    out[:, t] = array
            n += 1
    return n


def decode_clip(
    path: str | os.PathLike[str],
    *,
    frames: int,
    size: int | tuple[int, int],
    sampling: str = "uniform",
    stride: int = 2,
    channels: int = 3,
) -> np.ndarray:
    """The clip of ``path`` as uint8 ``[channels, frames, H, W]`` (module docstring).

    ``size`` is ``(H, W)`` or ``N`` (square); ``sampling`` one of :data:`SAMPLINGS` (``stride``
    is used by ``"stride"`` only); ``channels`` 1 (grey) or 3 (RGB).

    Raises:
        VideoDecodeError: the file cannot be opened or decoded, has no video stream or no frame
            (the message names the file).
        ValueError: a bad argument.
    """
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if frames < 1 or stride < 1 or min(height, width) < 1:
        raise ValueError(
            f"frames, stride and size must be positive, got {frames}, {stride}, {size}"
        )
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    import av  # here: importing PyAV takes a tenth of a second, only video sets need it

    name = os.fspath(path)
    out = np.empty((channels, frames, height, width), dtype=np.uint8)
    try:
        with av.open(name) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{name}: no video stream")
            guess = int(container.streams.video[0].frames or 0)
        if guess <= 0:
            guess = _count_packets(name)
        indices = sample_indices(max(guess, 1), frames, sampling, stride)
        n = _decode_pass(name, indices, out, (height, width), channels)
        if n == 0:
            raise VideoDecodeError(f"{name}: no decodable video frame")
        if n != guess:  # the header (or the packet count) was wrong: sample the true count
            truth = sample_indices(n, frames, sampling, stride)
            if truth != indices:
                _decode_pass(name, truth, out, (height, width), channels)
    except VideoDecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise VideoDecodeError(f"{name}: cannot decode video: {exc}") from exc
    return out
