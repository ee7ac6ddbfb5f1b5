"""Trained systems saved in a run directory, in a form a server or an exporter can rebuild.

Every variant an experiment trains is written, after :meth:`SplitSystem.prepare_for_coding`, to
``RUN_DIR/models/<variant id>.safetensors``: the whole state dict (weights, batch-norm statistics,
entropy-model CDF tables) plus, in the safetensors metadata, what rebuilding it needs — the system
name, its parameters and the :class:`~semcom.systems.BuildContext` — as JSON. Nothing is unpickled;
loading needs neither the data set nor the config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file

from semcom.storage.checkpoint import save_weights
from semcom.systems import BuildContext, SplitSystem, build_system

MODELS_DIR = "models"
_FORMAT = "semcom-system/1"


class StoreError(ValueError):
    """A run directory or a stored system cannot be loaded; the message says which file and why."""


@dataclass(frozen=True)
class StoredSystem:
    """One loaded variant: its id (file stem), the rebuilt system (eval mode) and its params."""

    variant: str
    system: SplitSystem
    params: dict[str, Any]


def save_system(system: SplitSystem, run_dir: str | Path, variant: str) -> Path:
    """Write ``system`` (prepared for coding) to ``run_dir/models/<variant>.safetensors``."""
    return write_system(system, Path(run_dir) / MODELS_DIR / f"{variant}.safetensors")


def write_system(system: SplitSystem, path: str | Path) -> Path:
    """Write ``system`` (prepared for coding) to the safetensors file ``path``, in the format
    :func:`load_system` reads (the ONNX export puts one next to each ``device.onnx``)."""
    meta = {
        "format": _FORMAT,
        "system": system.name,
        "params": json.dumps(system.params.model_dump(by_alias=True, mode="json")),
        "context": json.dumps(system.ctx.to_json()),
    }
    return save_weights(system, path, meta)


def load_system(path: str | Path) -> StoredSystem:
    """Rebuild the system stored in ``path`` (see the module docstring); eval mode, CPU."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("format") != _FORMAT:
            raise StoreError(f"{path}: not a stored semcom system (format {meta.get('format')!r})")
        params = json.loads(meta["params"])
        raw_ctx = json.loads(meta["context"])
        ctx = BuildContext.from_json(raw_ctx)
        system = build_system(meta["system"], params, ctx)
        if "task" not in raw_ctx:  # stored before data sets declared their task: the system's own
            ctx = replace(ctx, task=system.task.spec)
            system.ctx = ctx
        system.load_state_dict(load_file(str(path)))
    except StoreError:
        raise
    except Exception as exc:  # SafetensorError of a truncated file is no OSError / ValueError
        raise StoreError(
            f"{path}: cannot load the stored system ({type(exc).__name__}: {exc})"
        ) from exc
    system.eval()
    return StoredSystem(path.stem, system, params)


def load_run(run_dir: str | Path, broken: dict[str, str] | None = None) -> dict[str, StoredSystem]:
    """Every stored variant of ``run_dir`` by variant id (sorted); ``StoreError`` if none.

    A file that cannot be loaded raises :class:`StoreError`, unless ``broken`` is given: then its
    variant id and the reason go there and the other variants still load (a server serves what it
    can and lists the rest).
    """
    folder = Path(run_dir) / MODELS_DIR
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise StoreError(
            f"{folder}: no stored systems; run `semcom run CONFIG --out {run_dir}` first "
            "(runs write one file per trained variant there)"
        )
    out: dict[str, StoredSystem] = {}
    for f in files:
        try:
            out[f.stem] = load_system(f)
        except StoreError as exc:
            if broken is None:
                raise
            broken[f.stem] = str(exc)
    if not out:
        raise StoreError(f"{folder}: no stored system could be loaded: " + "; ".join(broken or {}))
    return out
