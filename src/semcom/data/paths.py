"""Where data sets and decoded caches live.

* Data root: the explicit ``root`` argument (``--data-root``), else the ``SEMCOM_DATA``
  environment variable, else ``<cache>/data``.
* Cache: ``$XDG_CACHE_HOME/semcom`` when ``XDG_CACHE_HOME`` is an absolute path, else
  ``~/.cache/semcom``. Decoded arrays (e.g. CIFAR-10 JPEGs as ``.npy``) go to
  ``<cache>/decoded/``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the data root.
DATA_ENV = "SEMCOM_DATA"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/semcom`` (if absolute) or ``~/.cache/semcom``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path("~/.cache").expanduser()
    return base / "semcom"


def default_data_root() -> Path:
    """The data root used when neither an argument nor ``SEMCOM_DATA`` names one."""
    return default_cache_dir() / "data"


def resolve_data_root(root: str | os.PathLike[str] | None) -> Path:
    """The data root: ``root`` if given, else ``$SEMCOM_DATA``, else :func:`default_data_root`.

    ``~`` is expanded. Empty strings count as not given.

    >>> str(resolve_data_root("/data/sets"))
    '/data/sets'
    """
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV, "")
    if env:
        return Path(env).expanduser()
    return default_data_root()
