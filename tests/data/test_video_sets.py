"""Video sets (``hmdb51``, ``ucf101``, ``kinetics``, ``video-list``) and the PyAV clip decoder, on
tiny real clips written with PyAV: frame sampling, padding, wrong frame counts, rotation,
portrait and grey sources, mixed sizes and rates, every layout's labels and splits, skipped
corrupt files, the cache and clear errors.

Every clip's frames carry two grey levels: the top half is the clip's *signature* (which clip a
decoded row is) and the bottom half ``10 + 12 * i`` for frame ``i`` (which frames were sampled).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import semcom.data.video_sets as video_sets
from semcom.config import DataConfig
from semcom.data import DataFormatError, DataUnavailableError, build_dataset
from semcom.data.video_decode import VideoDecodeError, decode_clip, sample_indices
from semcom.data.video_sets import VideoOptions, decode_video_set, index_kinetics

SIZE, FRAMES = 16, 4
OPTS = {"frames": FRAMES, "image_size": SIZE}
H264 = "libx264" in av.codecs_available
WEBM = ".webm" if "libvpx" in av.codecs_available else ".mkv"


def frame_value(i: int) -> int:
    return 10 + 12 * i


def write_clip(
    path: Path,
    n: int,
    w: int = 32,
    h: int = 24,
    *,
    fps: int = 25,
    sig: int = 100,
    rotation: int | None = None,
    grey: bool = False,
) -> Path:
    """``n`` frames of ``w × h`` (stored size): signature on top, frame index below (or, with a
    90° display rotation, on the stored right / left so that they show on top / below)."""
    codec, pix_fmt, options = {
        ".mp4": ("libx264", "yuv420p", {"qp": "0"}) if H264 else ("mpeg4", "yuv420p", {}),
        ".avi": ("mpeg4", "yuv420p", {"qscale": "1"}),
        ".mkv": ("ffv1", "gray" if grey else "yuv420p", {}),
        ".webm": ("libvpx", "yuv420p", {"b": "4M", "crf": "4"}),
    }[path.suffix]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(n):
            grid = np.empty((h, w), dtype=np.uint8)
            if rotation == 90:  # shown turned counter-clockwise: the stored right goes on top
                grid[:, w // 2 :], grid[:, : w // 2] = sig, frame_value(i)
            else:
                grid[: h // 2], grid[h // 2 :] = sig, frame_value(i)
            frame = av.VideoFrame.from_ndarray(np.repeat(grid[..., None], 3, 2), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01not a video at all" * 64)
    return path


def signature(clip: np.ndarray | torch.Tensor) -> float:
    """Mean of the top quarter of a clip ``[C, T, H, W]`` (uint8 or [0, 1] float)."""
    clip = torch.as_tensor(clip).float()
    scale = 255.0 if clip.max() <= 1.0 else 1.0
    return float(clip[:, :, : clip.shape[2] // 4].mean()) * scale


def sampled(clip: np.ndarray | torch.Tensor) -> list[int]:
    """The frame index each output frame shows (from the bottom quarter's grey level)."""
    clip = torch.as_tensor(clip).float()
    scale = 255.0 if clip.max() <= 1.0 else 1.0
    bottom = clip[:, :, -clip.shape[2] // 4 :].mean(dim=(0, 2, 3)) * scale
    return [round((float(v) - 10) / 12) for v in bottom]


# --- the decoder ----------------------------------------------------------------------------


def test_sampling_uniform_and_stride(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "a.mp4", 12)
    clip = decode_clip(path, frames=4, size=SIZE)
    assert clip.dtype == np.uint8 and clip.shape == (3, 4, SIZE, SIZE)
    assert sampled(clip) == [1, 4, 7, 10] == sample_indices(12, 4)
    clip = decode_clip(path, frames=4, size=SIZE, sampling="stride", stride=2)
    assert sampled(clip) == [2, 4, 6, 8]  # a 7-frame window centred in 12
    clip = decode_clip(path, frames=3, size=SIZE, sampling="stride", stride=5)
    assert sampled(clip) == [0, 5, 10]
    assert abs(signature(clip) - 100) < 6


def test_short_clip_repeats_its_last_frame(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "short.avi", 3)
    assert sampled(decode_clip(path, frames=6, size=SIZE)) == [0, 1, 2, 2, 2, 2]
    stride = decode_clip(path, frames=4, size=SIZE, sampling="stride", stride=2)
    assert sampled(stride) == [0, 2, 2, 2]
    one = write_clip(tmp_path / "one.mp4", 1)
    assert sampled(decode_clip(one, frames=3, size=SIZE)) == [0, 0, 0]


def _patch_avi_frame_count(path: Path, count: int) -> None:
    """Write ``count`` into the AVI header's total-frames and the stream's length fields."""
    raw = bytearray(path.read_bytes())
    avih, strh = raw.index(b"avih"), raw.index(b"strh")
    raw[avih + 24 : avih + 28] = struct.pack("<I", count)
    raw[strh + 40 : strh + 44] = struct.pack("<I", count)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("header", [40, 5])
def test_wrong_header_frame_count_is_corrected(tmp_path: Path, header: int) -> None:
    path = write_clip(tmp_path / "lying.avi", 12)
    _patch_avi_frame_count(path, header)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == header  # the header does lie
    assert sampled(decode_clip(path, frames=4, size=SIZE)) == [1, 4, 7, 10]


def test_header_without_frame_count(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "grey.mkv", 10, 40, 30, grey=True, sig=180)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0
    clip = decode_clip(path, frames=5, size=SIZE)
    assert sampled(clip) == [1, 3, 5, 7, 9]
    assert np.array_equal(clip[0], clip[1]) and np.array_equal(clip[1], clip[2])  # grey → RGB
    assert abs(signature(clip) - 180) < 4
    grey = decode_clip(path, frames=2, size=(8, 12), channels=1)
    assert grey.shape == (1, 2, 8, 12)


def test_rotation_and_portrait(tmp_path: Path) -> None:
    turned = write_clip(tmp_path / "turned.mp4", 8, 32, 24, rotation=90, sig=220)
    with av.open(str(turned)) as container:
        assert next(container.decode(video=0)).rotation == 90
    clip = decode_clip(turned, frames=4, size=(20, 12))  # shown 24 wide, 32 tall: portrait
    assert clip.shape == (3, 4, 20, 12)
    assert abs(signature(clip) - 220) < 6 and sampled(clip) == [1, 3, 5, 7]
    portrait = write_clip(tmp_path / "portrait.mp4", 6, 24, 40, sig=60)
    clip = decode_clip(portrait, frames=3, size=SIZE)
    assert abs(signature(clip) - 60) < 6 and sampled(clip) == [1, 3, 5]


def test_resize_then_centre_crop(tmp_path: Path) -> None:
    """A frame of vertical stripes: the crop keeps the centre, the scale covers the target."""
    path = tmp_path / "stripes.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25, options={"qscale": "1"})
        stream.width, stream.height = 64, 32
        grid = np.zeros((32, 64, 3), dtype=np.uint8)
        grid[:, 16:48] = 200  # the central square is bright, the sides dark
        for packet in stream.encode(av.VideoFrame.from_ndarray(grid, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    clip = decode_clip(path, frames=1, size=SIZE).astype(np.float32)
    assert clip[:, :, :, 2:-2].min() > 170  # the centre 32×32 crop, scaled by 1/2
    wide = decode_clip(path, frames=1, size=(8, 32)).astype(np.float32)  # covers the full width
    assert wide[..., :4].mean() < 40 and wide[..., 12:20].mean() > 170


def test_corrupt_file_error_names_it(tmp_path: Path) -> None:
    bad = write_corrupt(tmp_path / "broken.mp4")
    with pytest.raises(VideoDecodeError, match="broken.mp4") as info:
        decode_clip(bad, frames=4, size=SIZE)
    assert isinstance(info.value, DataFormatError)
    with pytest.raises(VideoDecodeError, match="absent.avi"):
        decode_clip(tmp_path / "absent.avi", frames=4, size=SIZE)
    with pytest.raises(ValueError, match="sampling must be one of uniform, stride"):
        decode_clip(bad, frames=4, size=SIZE, sampling="random")


# --- layouts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    rel: str
    n: int
    w: int = 32
    h: int = 24
    fps: int = 25
    rotation: int | None = None
    grey: bool = False


def write_specs(root: Path, specs: list[Spec], first_sig: int = 30) -> dict[str, int]:
    """Write the clips (each its own signature, 14 apart); ``{rel: signature}``."""
    sigs = {}
    for k, s in enumerate(specs):
        sigs[s.rel] = first_sig + 14 * k
        write_clip(
            root / s.rel, s.n, s.w, s.h, fps=s.fps, sig=sigs[s.rel], rotation=s.rotation,
            grey=s.grey,
        )  # fmt: skip
    return sigs


def check_rows(clips: torch.Tensor, labels: torch.Tensor, expected: list[tuple[int, int]]) -> None:
    """Row ``k`` is the clip with signature ``expected[k][0]`` and label ``expected[k][1]``."""
    assert len(clips) == len(expected)
    for k, (sig, label) in enumerate(expected):
        assert abs(signature(clips[k]) - sig) < 6, (k, signature(clips[k]), sig)
        assert int(labels[k]) == label


KINETICS = [
    Spec("train/archery/a.mp4", 12),
    Spec("train/archery/b.mkv", 10, 40, 30, fps=12, grey=True),
    Spec("train/bowling/c.mp4", 9, 24, 40, fps=30),  # portrait frames
    Spec("train/bowling/d.mp4", 8, rotation=90),  # portrait by rotation metadata
    Spec("train/bowling/e.avi", 3),  # fewer frames than FRAMES
    Spec(f"val/archery/f{WEBM}", 20, 36, 28),
    Spec("val/bowling/g.mp4", 16, 48, 36, fps=60),
    Spec("val/cycling/h.avi", 6, 40, 30, fps=15),
    Spec("test/archery/i.mp4", 5),
]


@pytest.fixture
def kinetics(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    root = tmp_path / "kin"
    sigs = write_specs(root, KINETICS)
    write_corrupt(root / "train/bowling/zz_corrupt.mp4")
    (root / "train/bowling/notes.txt").write_text("not a video")
    return root, sigs


def test_kinetics_layout(kinetics: tuple[Path, dict[str, int]], caplog) -> None:
    root, sigs = kinetics
    with caplog.at_level(logging.WARNING, logger="semcom.data.video_sets"):
        train, test, info = build_dataset("kinetics", root, **OPTS)
    assert info.name == "kinetics" and info.classes == ("archery", "bowling", "cycling")
    assert info.input_shape == (3, FRAMES, SIZE, SIZE) and info.task.kind == "classification"
    assert train.clips.dtype == torch.uint8 and tuple(train.clips.shape[1:]) == info.input_shape
    expected_train = [(sigs[s.rel], "archery bowling".split().index(s.rel.split("/")[1]))
                      for s in KINETICS if s.rel.startswith("train/")]  # fmt: skip
    check_rows(train.clips, train.labels, expected_train)  # the corrupt clip is left out
    check_rows(test.clips, test.labels, [(sigs[f"val/archery/f{WEBM}"], 0),
                                         (sigs["val/bowling/g.mp4"], 1),
                                         (sigs["val/cycling/h.avi"], 2)])  # fmt: skip
    assert "skipped 1 of 9 clips" in caplog.text and "zz_corrupt.mp4" in caplog.text
    batch, labels = train.batch([0, 4])
    assert batch.dtype == torch.float32 and tuple(batch.shape) == (2, 3, FRAMES, SIZE, SIZE)
    assert 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0 and labels.tolist() == [0, 1]
    assert sampled(train.clips[4]) == [0, 1, 2, 2]  # the 3-frame clip, padded

    _, test, _ = build_dataset("kinetics-400", root, test_set="test", **OPTS)
    check_rows(test.clips, test.labels, [(sigs["test/archery/i.mp4"], 0)])
    with pytest.raises(ValueError, match=r"test_set must name a split folder.*test, val.*'tset'"):
        build_dataset("kinetics", root, test_set="tset", **OPTS)


def test_cache_is_reused(kinetics: tuple[Path, dict[str, int]], monkeypatch, caplog) -> None:
    root, _ = kinetics
    options = VideoOptions(frames=FRAMES, image_size=SIZE)
    first = decode_video_set(index_kinetics(root), options)
    assert not first.from_cache and len(first.skipped) == 1

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(video_sets, "decode_clip", boom)
    with caplog.at_level(logging.WARNING, logger="semcom.data.video_sets"):
        again = decode_video_set(index_kinetics(root), options)
        train, _, info = build_dataset("kinetics", root, **OPTS)  # the loader hits it too
    assert again.from_cache and again.cache == first.cache
    assert np.array_equal(again.train_clips, first.train_clips)
    assert np.array_equal(again.test_labels, first.test_labels)
    assert torch.equal(train.clips, torch.from_numpy(first.train_clips))
    assert again.skipped == first.skipped and "zz_corrupt.mp4" in caplog.text  # warned again
    with pytest.raises(AssertionError, match="decoded again"):  # other options: other entry
        decode_video_set(index_kinetics(root), VideoOptions(frames=FRAMES + 1, image_size=SIZE))
    write_clip(root / "train/archery/a.mp4", 7)  # a changed file: decoded again
    with pytest.raises(AssertionError, match="decoded again"):
        decode_video_set(index_kinetics(root), options)


def _hmdb(root: Path, split_dir: Path) -> dict[str, int]:
    specs = [
        Spec("brush_hair/bh1.avi", 10),
        Spec("brush_hair/bh2.avi", 6, 40, 30, fps=30),
        Spec("brush_hair/bh3.avi", 8),
        Spec("cartwheel/cw1.avi", 12, 24, 40),
        Spec("cartwheel/cw2.avi", 2),
        Spec("cartwheel/cw3.avi", 9, 48, 36, fps=12),
    ]
    sigs = write_specs(root, specs)
    split_dir.mkdir(parents=True, exist_ok=True)
    lines = {  # fold 1: bh1 bh3 cw1 train, bh2 cw2 test, cw3 unused; fold 2 the other way
        ("brush_hair", 1): "bh1.avi 1 \nbh2.avi 2 \nbh3.avi 1 \n",
        ("cartwheel", 1): "cw1.avi 1\ncw2.avi 2\ncw3.avi 0\n",
        ("brush_hair", 2): "bh1.avi 2\nbh2.avi 1\nbh3.avi 0\n",
        ("cartwheel", 2): "cw1.avi 2\ncw2.avi 1\ncw3.avi 1\n",
    }
    for (cls, fold), text in lines.items():
        (split_dir / f"{cls}_test_split{fold}.txt").write_text(text)
    return sigs


def test_hmdb51_layout(tmp_path: Path) -> None:
    root = tmp_path / "data" / "hmdb51"
    sigs = _hmdb(root, root / "splits")
    # the data root holding hmdb51/ is enough; the split files are found in splits/
    train, test, info = build_dataset("hmdb51", tmp_path / "data", **OPTS)
    assert info.name == "hmdb51" and info.classes == ("brush_hair", "cartwheel")
    s = {k.split("/")[1][:3]: v for k, v in sigs.items()}
    check_rows(train.clips, train.labels, [(s["bh1"], 0), (s["bh3"], 0), (s["cw1"], 1)])
    check_rows(test.clips, test.labels, [(s["bh2"], 0), (s["cw2"], 1)])  # cw3: tag 0, dropped
    train, test, _ = build_dataset("hmdb51", root, fold=2, **OPTS)
    check_rows(train.clips, train.labels, [(s["bh2"], 0), (s["cw2"], 1), (s["cw3"], 1)])
    check_rows(test.clips, test.labels, [(s["bh1"], 0), (s["cw1"], 1)])
    with pytest.raises(ValueError, match=r"hmdb51: fold must be one of 1, 2, 3, got 4"):
        build_dataset("hmdb51", root, fold=4, **OPTS)


def test_hmdb51_splits_dir_and_bad_lines(tmp_path: Path) -> None:
    root = tmp_path / "hmdb"
    _hmdb(root, tmp_path / "elsewhere")
    with pytest.raises(DataUnavailableError, match=r"HMDB51 is not available.*splits_dir"):
        build_dataset("hmdb51", root, **OPTS)
    train, test, _ = build_dataset("hmdb51", root, splits_dir=str(tmp_path / "elsewhere"), **OPTS)
    assert (len(train), len(test)) == (3, 2)
    with pytest.raises(DataUnavailableError, match="splits_dir 'nowhere' is not a folder"):
        build_dataset("hmdb51", root, splits_dir="nowhere", **OPTS)
    (tmp_path / "elsewhere" / "cartwheel_test_split1.txt").write_text("cw1.avi 1\ncw2.avi 3\n")
    with pytest.raises(DataFormatError, match=r"cartwheel_test_split1.txt:2: expected"):
        build_dataset("hmdb51", root, splits_dir=str(tmp_path / "elsewhere"), **OPTS)


def _ucf(root: Path, videos: Path, nested: bool = True) -> dict[str, int]:
    names = {
        "Zumba": ["v_Zumba_g01_c01", "v_Zumba_g02_c01", "v_Zumba_g08_c02"],
        "ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g09_c03"],
        "HandstandPushups": ["v_HandStandPushups_g01_c01", "v_HandStandPushups_g10_c01"],
    }
    specs = []
    for k, (cls, stems) in enumerate(names.items()):
        for j, stem in enumerate(stems):
            rel = f"{cls}/{stem}.avi" if nested else f"{stem}.avi"
            specs.append(Spec(rel, 6 + 3 * j + k, 32 + 8 * (j % 2), 24 + 6 * (j % 2)))
    sigs = write_specs(videos, specs)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    # classInd's order is the label order (deliberately not alphabetical)
    (lists / "classInd.txt").write_text("1 Zumba\n2 ApplyEyeMakeup\n3 HandstandPushups\n")
    (lists / "trainlist01.txt").write_text(
        "Zumba/v_Zumba_g08_c02.avi 1\nApplyEyeMakeup/v_ApplyEyeMakeup_g09_c03.avi 2\n"
        "HandstandPushups/v_HandStandPushups_g10_c01.avi 3\n"
    )
    (lists / "testlist01.txt").write_text(
        "Zumba/v_Zumba_g01_c01.avi\nZumba/v_Zumba_g02_c01.avi\n"
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n"
        "HandstandPushups/v_HandStandPushups_g01_c01.avi\n"
    )
    return {Path(k).stem: v for k, v in sigs.items()}


def test_ucf101_layout(tmp_path: Path) -> None:
    root = tmp_path / "UCF101"
    s = _ucf(root, root / "UCF-101")
    train, test, info = build_dataset("ucf101", tmp_path, **OPTS)  # finds UCF101/
    assert info.classes == ("Zumba", "ApplyEyeMakeup", "HandstandPushups")
    check_rows(train.clips, train.labels, [(s["v_Zumba_g08_c02"], 0),
                                           (s["v_ApplyEyeMakeup_g09_c03"], 1),
                                           (s["v_HandStandPushups_g10_c01"], 2)])  # fmt: skip
    check_rows(test.clips, test.labels, [(s["v_Zumba_g01_c01"], 0), (s["v_Zumba_g02_c01"], 0),
                                         (s["v_ApplyEyeMakeup_g01_c01"], 1),
                                         (s["v_HandStandPushups_g01_c01"], 2)])  # fmt: skip


def test_ucf101_flat_folder_and_errors(tmp_path: Path) -> None:
    s = _ucf(tmp_path, tmp_path, nested=False)  # every video in the root itself
    train, test, _ = build_dataset("ucf101", tmp_path, sampling="stride", stride=1, **OPTS)
    assert (len(train), len(test)) == (3, 4)
    check_rows(test.clips, test.labels, [(s["v_Zumba_g01_c01"], 0), (s["v_Zumba_g02_c01"], 0),
                                         (s["v_ApplyEyeMakeup_g01_c01"], 1),
                                         (s["v_HandStandPushups_g01_c01"], 2)])  # fmt: skip
    assert sampled(train.clips[0]) == [4, 5, 6, 7]  # 12 frames, a 4-frame window centred
    lists = tmp_path / "ucfTrainTestlist"
    (lists / "trainlist01.txt").write_text("Zumba/v_Zumba_g08_c02.avi 2\n")
    with pytest.raises(DataFormatError, match=r"trainlist01.txt:1: label 2 but the path's class"):
        build_dataset("ucf101", tmp_path, **OPTS)
    (lists / "trainlist01.txt").write_text("Yoga/v_Yoga_g01_c01.avi 1\n")
    with pytest.raises(DataFormatError, match=r"trainlist01.txt:1: expected .*'Yoga/v_Yoga"):
        build_dataset("ucf101", tmp_path, **OPTS)
    with pytest.raises(DataUnavailableError, match="no trainlist02.txt"):
        build_dataset("ucf101", tmp_path, fold=2, **OPTS)


def _lists(root: Path) -> dict[str, int]:
    sigs = write_specs(root / "videos", [
        Spec("x/walk1.mp4", 9), Spec("x/run1.avi", 11, 40, 30, fps=10), Spec("y/walk2.mkv", 5),
        Spec("y/jump1.mp4", 14, 24, 40, fps=50), Spec("y/run2.avi", 2),
    ])  # fmt: skip
    (root / "videos/train_list.txt").write_text("x/walk1.mp4 0\nx/run1.avi 1\ny/jump1.mp4 2\n")
    (root / "videos/test_list.txt").write_text("y/walk2.mkv 0\ny/run2.avi 1\n")
    (root / "label_map.txt").write_text("walk\nrun\njump\n\n")
    return {Path(k).stem: v for k, v in sigs.items()}


def test_video_list_layout(tmp_path: Path) -> None:
    s = _lists(tmp_path)
    options = {"train_list": "videos/train_list.txt", "test_list": "videos/test_list.txt"}
    train, test, info = build_dataset("video-list", tmp_path, **options, **OPTS)
    assert info.name == "video-list" and info.classes == ("walk", "run", "jump")
    check_rows(train.clips, train.labels, [(s["walk1"], 0), (s["run1"], 1), (s["jump1"], 2)])
    check_rows(test.clips, test.labels, [(s["walk2"], 0), (s["run2"], 1)])
    # the lists next to the data root, their paths under data_prefix; no label map: "0", "1", ...
    for name in ("train_list.txt", "test_list.txt"):
        (tmp_path / name).write_text((tmp_path / "videos" / name).read_text())
    (tmp_path / "label_map.txt").unlink()
    train, _, info = build_dataset("video_list", tmp_path, data_prefix="videos", **OPTS)
    assert info.classes == ("0", "1", "2") and len(train) == 3
    with pytest.raises(DataUnavailableError, match="label_map 'names.txt' not found"):
        build_dataset("video-list", tmp_path, data_prefix="videos", label_map="names.txt", **OPTS)
    (tmp_path / "names.txt").write_text("walk\nrun\n")
    with pytest.raises(DataFormatError, match=r"train_list.txt:3: label 2 but names.txt has 2"):
        build_dataset("video-list", tmp_path, data_prefix="videos", label_map="names.txt", **OPTS)
    (tmp_path / "test_list.txt").write_text("y/walk2.mkv\n")
    with pytest.raises(DataFormatError, match=r"test_list.txt:1: expected '<path> <integer"):
        build_dataset("video-list", tmp_path, data_prefix="videos", **OPTS)


def test_config_options_reach_the_loader(tmp_path: Path) -> None:
    s = _lists(tmp_path)
    cfg = DataConfig(
        name="video-list", root=str(tmp_path), frames=3, image_size=(12, 20), sampling="stride",
        stride=3, channels=1, train_list="videos/train_list.txt",
        test_list="videos/test_list.txt",
    )  # fmt: skip
    train, test, info = build_dataset(cfg.name, cfg.root, **cfg.options())
    assert info.input_shape == (1, 3, 12, 20) and tuple(train.clips.shape) == (3, 1, 3, 12, 20)
    assert sampled(train.clips[0]) == [1, 4, 7]  # 9 frames, stride 3
    assert abs(signature(test.clips[0]) - s["walk2"]) < 6


def test_unusable_sets_and_options(tmp_path: Path) -> None:
    root = tmp_path / "kin"
    write_clip(root / "train/a/ok.mp4", 4)
    write_corrupt(root / "val/a/bad1.mp4")
    write_corrupt(root / "val/b/bad2.avi")
    with pytest.raises(DataFormatError, match=r"none of the 2 test clips .*bad1.mp4.*bad2.avi"):
        build_dataset("kinetics", root, **OPTS)
    with pytest.raises(ValueError, match=r"kinetics: sampling must be one of uniform, stride"):
        build_dataset("kinetics", root, sampling="dense")
    with pytest.raises(ValueError, match=r"kinetics: frames must be an integer >= 1, got 0"):
        build_dataset("kinetics", root, frames=0)
    with pytest.raises(ValueError, match=r"data set 'kinetics' takes no option fold"):
        build_dataset("kinetics", root, fold=1)
    with pytest.raises(DataUnavailableError, match=r"Kinetics is not available under .*train/"):
        build_dataset("kinetics", tmp_path / "nothing")
    with pytest.raises(DataUnavailableError, match=r"UCF101 is not available .*classInd.txt"):
        build_dataset("ucf101", tmp_path)
