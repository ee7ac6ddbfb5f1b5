"""Data sets as in-memory uint8 tensors: Fashion-MNIST, MNIST, CIFAR-10, image folders, generated.

* :func:`build_dataset` (``fashion-mnist``, ``mnist``, ``cifar10``, ``image-folder``,
  ``synthetic``, ...) → ``(train, test, info)``;
* :class:`ImageTensorDataset` (items and ``batch(index)`` as float ``[0, 1]``), :func:`take_first`,
  :func:`split_off` (a held-out split);
* :func:`ensure_fashion_mnist`: find or fetch Fashion-MNIST (data root, torchvision's layout,
  Debian's package, torchvision's download, ``apt-get``), else :class:`DataUnavailableError`;
* :func:`ensure_mnist` / :func:`load_mnist`: MNIST from the data root (torchvision's layout or
  the raw files) or torchvision's download, else :class:`DataUnavailableError`;
* :func:`load_cifar10`: torchvision's pickled batches, an ImageFolder, or a ``.tar.gz`` of one
  (decoded once, cached as ``.npy``);
* :func:`load_image_folder`: any class-folder set (or a ``.tar.gz`` of one), resized to one size,
  grey or RGB, decoded once and cached as ``.npy``;
* :func:`load_camvid` / :func:`load_voc`: detection + segmentation sets (SegNet's CamVid with
  boxes from its labels; Pascal VOC), folders or archives, decoded once and cached; items and
  batches of a :class:`MultiTaskTensorDataset` (:mod:`semcom.data.multitask`, which also makes
  the generated ``synthetic-multitask`` set);
* :func:`describe_dataset`: what a loaded set holds, in a few lines;
* writers of generated data in those real formats (:mod:`semcom.data.writers`), for tests.
"""

from semcom.data.batch import Batch, collate, collate_targets, fetch_batch, move_to
from semcom.data.camvid import CAMVID_CLASSES, CAMVID_DETECTION_CLASSES, load_camvid
from semcom.data.cifar10 import CIFAR10_CLASSES, find_cifar10, load_cifar10
from semcom.data.errors import DataFormatError, DataUnavailableError
from semcom.data.fashion_mnist import (
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    ensure_fashion_mnist,
    load_fashion_mnist,
)
from semcom.data.idx import read_idx, write_idx
from semcom.data.image_folder import ImageFolderOptions, load_image_folder, prepare_image_folder
from semcom.data.info import IGNORE_INDEX, DatasetInfo, TaskSpec
from semcom.data.mnist import MNIST_CLASSES, ensure_mnist, load_mnist
from semcom.data.multitask import (
    MultiTaskTensorDataset,
    multitask_info,
    synthetic_multitask_datasets,
)
from semcom.data.paths import DATA_ENV, default_cache_dir, default_data_root, resolve_data_root
from semcom.data.registry import DATASET_NAMES, DATASET_OPTIONS, build_dataset
from semcom.data.summary import describe_dataset
from semcom.data.synthetic import SYNTHETIC_CLASSES, make_pattern_images, synthetic_datasets
from semcom.data.tensor_dataset import FirstN, ImageTensorDataset, Picked, split_off, take_first
from semcom.data.voc import VOC_CLASSES, VOC_SEGMENTATION_CLASSES, load_voc
from semcom.data.writers import (
    write_cifar_imagefolder,
    write_cifar_torchvision,
    write_idx_fashion_mnist,
    write_image_folder,
    write_mnist_raw,
    write_mnist_torchvision,
    write_tarball,
)

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "TaskSpec",
    "collate",
    "collate_targets",
    "fetch_batch",
    "move_to",
    "CAMVID_CLASSES",
    "CAMVID_DETECTION_CLASSES",
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "DATASET_OPTIONS",
    "DATA_ENV",
    "DEBIAN_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "MultiTaskTensorDataset",
    "SYNTHETIC_CLASSES",
    "VOC_CLASSES",
    "VOC_SEGMENTATION_CLASSES",
    "DataFormatError",
    "DataUnavailableError",
    "DatasetInfo",
    "FirstN",
    "Picked",
    "ImageFolderOptions",
    "ImageTensorDataset",
    "build_dataset",
    "default_cache_dir",
    "default_data_root",
    "describe_dataset",
    "ensure_fashion_mnist",
    "ensure_mnist",
    "find_cifar10",
    "load_camvid",
    "load_cifar10",
    "load_fashion_mnist",
    "load_image_folder",
    "load_mnist",
    "load_voc",
    "make_pattern_images",
    "multitask_info",
    "prepare_image_folder",
    "read_idx",
    "resolve_data_root",
    "synthetic_datasets",
    "synthetic_multitask_datasets",
    "split_off",
    "take_first",
    "write_cifar_imagefolder",
    "write_cifar_torchvision",
    "write_idx",
    "write_idx_fashion_mnist",
    "write_image_folder",
    "write_mnist_raw",
    "write_mnist_torchvision",
    "write_tarball",
]
