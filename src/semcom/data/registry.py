"""Data sets by name: what an experiment's ``data.name`` may be."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from semcom.data.camvid import load_camvid
from semcom.data.cifar10 import load_cifar10
from semcom.data.clips import synthetic_clip_datasets
from semcom.data.detection import synthetic_detection_datasets
from semcom.data.fashion_mnist import load_fashion_mnist
from semcom.data.image_folder import load_image_folder
from semcom.data.info import DatasetInfo
from semcom.data.mnist import load_mnist
from semcom.data.multitask import synthetic_multitask_datasets
from semcom.data.segmentation import synthetic_segmentation_datasets
from semcom.data.sprite_actions import sprite_action_datasets
from semcom.data.synthetic import synthetic_datasets
from semcom.data.video_sets import load_hmdb51, load_kinetics, load_ucf101, load_video_list
from semcom.data.voc import load_voc

#: ``loader(root, **options) -> (train, test, info)``.
Loader = Callable[..., tuple[Any, Any, DatasetInfo]]

_LOADERS: dict[str, Loader] = {
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "synthetic": lambda root: synthetic_datasets(),
    "synthetic-segmentation": lambda root: synthetic_segmentation_datasets(),
    "synthetic-detection": lambda root: synthetic_detection_datasets(),
    "synthetic-clips": lambda root: synthetic_clip_datasets(),
    "sprite-actions": lambda root: sprite_action_datasets(),
    "mnist": load_mnist,
    "image-folder": load_image_folder,
    "camvid": load_camvid,
    "voc": load_voc,
    "synthetic-multitask": lambda root: synthetic_multitask_datasets(),
    "hmdb51": load_hmdb51,
    "ucf101": load_ucf101,
    "kinetics": load_kinetics,
    "video-list": load_video_list,
}
#: The options every video set takes (:class:`semcom.data.video_sets.VideoOptions`).
_VIDEO_OPTIONS = ("frames", "image_size", "sampling", "stride", "channels")
#: The keyword options each set takes (``data`` options of a config); the others take none.
DATASET_OPTIONS: dict[str, tuple[str, ...]] = {
    "image-folder": ("image_size", "channels", "test_fraction", "seed"),
    "camvid": ("image_size", "train_splits", "min_object_area"),
    "voc": ("image_size", "year", "image_set", "test_set"),
    "hmdb51": (*_VIDEO_OPTIONS, "fold", "splits_dir"),
    "ucf101": (*_VIDEO_OPTIONS, "fold", "splits_dir"),
    "kinetics": (*_VIDEO_OPTIONS, "test_set"),
    "video-list": (*_VIDEO_OPTIONS, "train_list", "test_list", "label_map", "data_prefix"),
}
#: The names :func:`build_dataset` accepts.
DATASET_NAMES: tuple[str, ...] = tuple(_LOADERS)
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "imagefolder": "image-folder",
    "image_folder": "image-folder",
    "pascal-voc": "voc",
    "pascal_voc": "voc",
    "hmdb": "hmdb51",
    "hmdb-51": "hmdb51",
    "ucf-101": "ucf101",
    "ucf": "ucf101",
    "kinetics400": "kinetics",
    "kinetics-400": "kinetics",
    "video_list": "video-list",
    "videolist": "video-list",
}


def build_dataset(
    name: str, root: str | os.PathLike[str] | None = None, **options: Any
) -> tuple[Any, Any, DatasetInfo]:
    """``(train_set, test_set, info)`` of the data set ``name``.

    * ``fashion-mnist``: 60 000 / 10 000 grey ``1×28×28`` images (found or fetched by
      :func:`semcom.data.fashion_mnist.ensure_fashion_mnist`);
    * ``cifar10``: 50 000 / 10 000 RGB ``3×32×32`` images
      (:func:`semcom.data.cifar10.load_cifar10`);
    * ``mnist``: 60 000 / 10 000 grey ``1×28×28`` digits, classes ``"0"`` .. ``"9"``
      (:func:`semcom.data.mnist.load_mnist`: torchvision's layout or the raw files in the root);
    * ``image-folder``: any classification set of class folders (``train/`` + ``test/`` or
      ``val/``, or one folder of ``<class>/`` split by ``test_fraction``), or a ``.tar.gz`` of
      one; ``root`` is that folder or archive (:mod:`semcom.data.image_folder`). Options:
      ``image_size`` (``(H, W)`` or ``N``, default ``(32, 32)``), ``channels`` (1 or 3, default
      3), ``test_fraction`` (default 0.2) and ``seed`` (default 0) of the single-folder split;
    * ``synthetic``: 3 000 / 500 generated grey ``1×28×28`` shape images, 10 classes
      (:mod:`semcom.data.synthetic`; ``root`` is ignored);
    * ``synthetic-segmentation``: 2 000 / 400 generated RGB ``3×32×32`` images of random shapes
      with per-pixel masks over 6 classes (background + 5 shapes; ``info.task.kind ==
      "segmentation"``; :mod:`semcom.data.segmentation`; ``root`` is ignored);
    * ``synthetic-detection``: 2 000 / 400 generated RGB ``3×32×32`` images of one to three
      shapes with their boxes, 3 classes (:mod:`semcom.data.detection`; ``root`` is ignored);
    * ``synthetic-clips``: 1 600 / 320 generated grey ``1×8×16×16`` clips of a square moving in
      one of 4 directions (:mod:`semcom.data.clips`; ``root`` is ignored);
    * ``sprite-actions``: 5 000 / 1 000 generated RGB ``3×16×32×32`` clips, 10 classes: how a
      target sprite (the one with a bright outline) moves among two distractors over a panned,
      textured background (translations, rotations, zooms, a bounce, still;
      :mod:`semcom.data.sprite_actions`; cached after the first build; ``root`` is ignored);
    * ``camvid``: SegNet's CamVid (367 train / 101 val / 233 test road scenes) as detection +
      segmentation (``info.task.kind == "multitask"``): 11 mask classes (void → 255) and boxes of
      the connected Car, Pedestrian, Bicyclist and SignSymbol regions; ``root`` is the data root,
      the ``CamVid`` folder or ``camvid.tar.gz`` (:mod:`semcom.data.camvid`). Options:
      ``image_size`` (default ``(180, 240)``), ``train_splits`` (``"train"``, the default, or
      ``"train+val"``) and ``min_object_area`` (share of the image below which a region gets no
      box, default 0.0005);
    * ``voc``: Pascal VOC as detection (20 classes, ``difficult`` flags) + segmentation (21
      classes), from a ``VOCdevkit`` / ``VOC<year>`` folder or a ``.tar`` of one
      (:mod:`semcom.data.voc`); an image labelled for one task only has the other marked
      missing. Options: ``image_size`` (default ``(256, 256)``), ``year`` (needed when several
      are present), ``image_set`` (training split, default ``train``) and ``test_set`` (default
      ``val``);
    * ``synthetic-multitask``: 2 000 / 400 generated RGB ``3×64×64`` scenes of one to four shapes
      on a textured background, with masks (6 classes) and boxes (5 classes) from the same drawing
      (:mod:`semcom.data.multitask`; ``root`` is ignored);
    * ``hmdb51``, ``ucf101``, ``kinetics``, ``video-list``: action-recognition videos decoded by
      PyAV into RGB clips ``3×16×112×112`` by default (:mod:`semcom.data.video_sets`):
      HMDB51 (``<class>/*.avi`` + ``<class>_test_split<fold>.txt``), UCF101 (``<Class>/v_*.avi``
      + ``classInd.txt``, ``trainlist0<fold>.txt``, ``testlist0<fold>.txt``), Kinetics-style
      folders (``train/<class>/*.mp4`` + ``val/`` or ``test/``) and mmaction2-style lists
      (``<path> <label>`` lines + ``label_map.txt``); missing or undecodable clips are skipped
      with a warning. Options of all four: ``frames`` (T, default 16), ``image_size`` (default
      ``(112, 112)``; the frame is scaled to cover it and centre-cropped), ``sampling``
      (``uniform``, the default, or ``stride``), ``stride`` (default 2) and ``channels`` (1 or
      3, default 3); ``hmdb51`` / ``ucf101`` also ``fold`` (1..3, default 1) and ``splits_dir``
      (where the split files are); ``kinetics`` ``test_set`` (the test split's folder, default
      ``val``, else ``test``); ``video-list`` ``train_list``, ``test_list`` (default
      ``train_list.txt``, ``test_list.txt``), ``label_map`` (default ``label_map.txt``) and
      ``data_prefix`` (the folder list paths are relative to; default the list's folder).

    Classification sets are :class:`~semcom.data.tensor_dataset.ImageTensorDataset` (uint8 in
    memory, float ``[0, 1]`` batches); the segmentation set is a
    :class:`~semcom.data.segmentation.SegmentationTensorDataset` (batches of images and int64
    masks ``[B, H, W]``); the multi-task sets are
    :class:`~semcom.data.multitask.MultiTaskTensorDataset` (batches of images and ``{"detection":
    [per-image dicts], "segmentation": int64 [B, H, W]}``); the clip sets are
    :class:`~semcom.data.clips.ClipTensorDataset` (batches ``[B, C, T, H, W]``). ``root`` is the
    data root (else ``$SEMCOM_DATA``, else ``~/.cache/semcom/data``).

    ``options`` are the set's keyword options (:data:`DATASET_OPTIONS`); one whose value is
    ``None`` counts as not given (so a config can pass all its fields), any other a set does not
    take is a ``ValueError``.

    >>> train, test, info = build_dataset("synthetic")
    >>> len(train), len(test), info.image_size
    (3000, 500, (28, 28))
    >>> train, test, info = build_dataset("synthetic-segmentation")
    >>> len(train), info.num_classes, info.task.kind, tuple(train.batch([0, 1])[1].shape)
    (2000, 6, 'segmentation', (2, 32, 32))
    >>> build_dataset("imagenet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown data set 'imagenet'; allowed: fashion-mnist, cifar10, synthetic, ...
    >>> build_dataset("synthetic", image_size=None)[2].name  # None: not given
    'synthetic'
    >>> build_dataset("synthetic", channels=3)
    Traceback (most recent call last):
    ...
    ValueError: data set 'synthetic' takes no option channels
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; allowed: {', '.join(DATASET_NAMES)}")
    given = {k: v for k, v in options.items() if v is not None}
    allowed = DATASET_OPTIONS.get(key, ())
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = f"; it takes {', '.join(allowed)}" if allowed else ""
        raise ValueError(f"data set {key!r} takes no option {', '.join(unknown)}{takes}")
    return _LOADERS[key](root, **given)
