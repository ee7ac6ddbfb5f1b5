"""One process per run directory: an advisory lock on ``RUN_DIR/.semcom.lock``.

Two ``semcom run`` on the same ``--out`` would train into the same checkpoint names and write the
same results; the second one is refused with the first one's process id instead. The lock is
``fcntl.flock`` (released by the kernel when the process dies, so a killed run leaves no stale
lock); on systems without ``fcntl`` it is not taken.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".semcom.lock"


class RunLockedError(RuntimeError):
    """Another process holds the run directory."""


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the ``with`` block (:class:`RunLockedError` if taken)."""
    path = Path(run_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise RunLockedError(
                    f"{run_dir} is in use by another semcom process (pid {holder}); wait for it "
                    "to finish or give another --out"
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
