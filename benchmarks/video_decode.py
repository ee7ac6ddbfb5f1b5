"""Video-set decoding speed: PyAV decode, sampling, resize and crop through the loader, no cache.

Writes ``--clips`` (default 64) small clips with PyAV into a temporary Kinetics-style folder
(``train/<class>/`` and ``val/<class>/``, four classes): ``--source-frames`` frames (default 48,
about 2 s at 25 fps) of ``--width`` × ``--height`` (default 160×120) moving noise, alternately
H.264 in ``.mp4`` (MPEG-4 part 2 where libx264 is missing) and MPEG-4 part 2 in ``.avi``, every
fourth one portrait. Then times :func:`semcom.data.video_sets.decode_video_set` with
``use_cache=False`` (the whole loader: index, decode every frame, sample ``--frames``, resize and
centre-crop to ``--image-size``) with one thread and with the default thread count, best of
``--repeats``. Prints a table (clips/s, output frames/s, decoded source frames/s) and writes it
to ``--out`` (default ``benchmarks/results/video_decode.json``; :func:`common.report`).

Run: ``.venv/bin/python benchmarks/video_decode.py [--clips 64] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
import common
import numpy as np
from common import report

from semcom.data.video_sets import (
    DEFAULT_WORKERS,
    VideoOptions,
    decode_video_set,
    index_kinetics,
)

CLASSES = ("archery", "bowling", "cycling", "diving")


def write_clip(path: Path, frames: int, width: int, height: int, seed: int) -> None:
    """``frames`` frames of smoothly moving noise (compresses like camera footage, not flat)."""
    codec = "libx264" if path.suffix == ".mp4" and "libx264" in av.codecs_available else "mpeg4"
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height + frames, width + frames, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.ascontiguousarray(base[i : i + height, i : i + width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_set(root: Path, clips: int, frames: int, width: int, height: int) -> None:
    for k in range(clips):
        split = "val" if k % 5 == 4 else "train"
        ext = ".mp4" if k % 2 == 0 else ".avi"
        w, h = (height, width) if k % 4 == 3 else (width, height)  # every fourth one portrait
        write_clip(root / split / CLASSES[k % len(CLASSES)] / f"clip{k:03d}{ext}", frames, w, h, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--source-frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--frames", type=int, default=16, help="T of each decoded clip")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=common.RESULTS_DIR / "video_decode.json")
    args = parser.parse_args()
    options = VideoOptions(frames=args.frames, image_size=args.image_size)
    threads = sorted({1, min(DEFAULT_WORKERS, os.cpu_count() or 1)})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_set(root, args.clips, args.source_frames, args.width, args.height)
        write_s = time.perf_counter() - t0
        for workers in threads:
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                prepared = decode_video_set(
                    index_kinetics(root), options, use_cache=False, workers=workers
                )
                best = min(best, time.perf_counter() - t0)
            n = len(prepared.train_clips) + len(prepared.test_clips)
            rows.append(
                {
                    "threads": workers,
                    "clips": n,
                    "seconds": best,
                    "clips_per_s": n / best,
                    "frames_per_s": n * args.frames / best,
                    "source_frames_per_s": n * args.source_frames / best,
                    "load_average": os.getloadavg()[0],
                }
            )
    meta = {
        "source": f"{args.width}x{args.height}, {args.source_frames} frames, 25 fps, "
        "H.264 .mp4 / MPEG-4 .avi alternately, every fourth portrait",
        "options": options.key(),
        "codec_h264": "libx264" in av.codecs_available,
        "pyav": av.__version__,
        "write_s": write_s,
        "repeats": args.repeats,
    }
    common.RESULTS_DIR = args.out.parent  # report() writes <RESULTS_DIR>/<name>.json
    report(args.out.stem, rows, meta)


if __name__ == "__main__":
    main()
