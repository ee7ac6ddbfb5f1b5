"""A restricted unpickler for the one pickle-based format we read: CIFAR's python batches.

torchvision's CIFAR-10 format (``cifar-10-batches-py/data_batch_1`` ...) is a set of Python
pickles, so reading it needs an unpickler. A plain ``pickle.load`` runs whatever callable the file
names; this one resolves only the few globals a pickled dict of numpy arrays and lists needs
(numpy's array reconstruction, ``numpy.ndarray``, ``numpy.dtype``, and ``_codecs.encode`` for
latin-1 only, which protocol-2 pickles use for ``bytes``). Anything else is refused with
:class:`pickle.UnpicklingError`, so a tampered file cannot run code. We only ever unpickle local
files the user points us at, never data straight off the network.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to latin-1 (how protocol 2 spells a ``bytes`` object)."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1", errors)


_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy array/dtype reconstruction (see module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays, lists, dicts, "
                "strings and numbers are allowed in a data batch"
            ) from None


def restricted_loads(data: bytes, encoding: str = "latin1") -> Any:
    """Unpickle ``data`` allowing only plain containers and numpy arrays.

    ``encoding="latin1"`` decodes Python 2 ``str`` objects (as in the original CIFAR files) to
    ``str`` and keeps numpy's raw buffers intact.

    >>> restricted_loads(pickle.dumps({"data": np.arange(3, dtype=np.uint8)}, protocol=2))
    {'data': array([0, 1, 2], dtype=uint8)}
    >>> restricted_loads(pickle.dumps(print))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: refusing to load global builtins.print: ...
    """
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
