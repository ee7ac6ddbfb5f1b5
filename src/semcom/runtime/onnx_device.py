"""A device that runs its network with onnxruntime: what ``semcom export --onnx DIR`` wrote.

An export folder (one per variant) holds::

    device.onnx         the device network: input [B, C, H, W] (or a clip [B, C, T, H, W])
                        float32 in [0, 1] → the tensors
                        of SplitSystem.device_tensors (symbols, latent, index ...); B is free
    device.json         format tag, variant, system, params, model_id (hex; the compact
                        payload's model identifier), build context, input shape,
                        input / output names, ONNX opset
    system.safetensors  the stored system (semcom.storage.store format), for the packing step

:class:`OnnxDevice` runs ``device.onnx`` in onnxruntime and hands its outputs to the system's
:meth:`~semcom.systems.SplitSystem.pack_payloads` (entropy coding and the
:class:`~semcom.coding.Payload` container, in Python). The PyTorch system rebuilt from
``system.safetensors`` is used for that packing only; its network weights are loaded but never
run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from semcom.coding import Payload, WireCodec
from semcom.systems import BackboneSplitSystem, SplitSystem

DEVICE_FORMAT = "semcom-onnx-device/1"
DEVICE_JSON = "device.json"
ONNX_FILE = "device.onnx"
SYSTEM_FILE = "system.safetensors"
INPUT_NAME = "image"


class OnnxDeviceError(ValueError):
    """An ONNX export folder is missing, ambiguous or malformed, or an input does not fit it."""


def find_exports(root: str | Path) -> list[Path]:
    """Variant folders under ``root`` (``root`` itself if it is one), sorted by name."""
    root = Path(root)
    if (root / DEVICE_JSON).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / DEVICE_JSON).is_file())


def read_device_json(folder: str | Path) -> dict[str, Any]:
    """The validated ``device.json`` of one variant folder."""
    path = Path(folder) / DEVICE_JSON
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OnnxDeviceError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != DEVICE_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise OnnxDeviceError(
            f"{path}: not a semcom ONNX device export (format {found!r}, "
            f"expected {DEVICE_FORMAT!r})"
        )
    for key in ("variant", "system", "input_shape", "outputs", "onnx", "system_file"):
        if key not in meta:
            raise OnnxDeviceError(f"{path}: field {key!r} is missing")
    for key in ("onnx", "system_file"):
        name = meta[key]
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise OnnxDeviceError(f"{path}: {key} must be a file name in the folder, got {name!r}")
    shape = meta["input_shape"]
    if not (
        isinstance(shape, list) and len(shape) in (3, 4) and all(isinstance(d, int) for d in shape)
    ):
        raise OnnxDeviceError(
            f"{path}: input_shape must be [C, H, W] or [C, T, H, W], got {shape!r}"
        )
    return meta


@dataclass
class OnnxDevice:
    """One exported variant: onnxruntime for the network, the system's packer for the bytes.

    Attributes:
        variant: variant id (the run's ``models/<variant>.safetensors`` stem).
        system_name: registered system name, e.g. ``"aecnn"``.
        input_shape: one input: ``(C, H, W)`` for images, ``(C, T, H, W)`` for clips.
        folder: the variant folder.
        meta: the parsed ``device.json``.
    """

    variant: str
    system_name: str
    input_shape: tuple[int, ...]
    folder: Path
    meta: dict[str, Any]
    session: Any = field(repr=False)
    packer: SplitSystem = field(repr=False)
    #: the payloads' wire form (the compact form, with ``device.json``'s model id, where the
    #: layout has one).
    codec: WireCodec = field(repr=False)

    @property
    def output_names(self) -> list[str]:
        """Names of the ONNX outputs, i.e. the keys of :meth:`tensors`."""
        return list(self.meta["outputs"])

    def tensors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network on ``x`` ``[B, *input_shape]`` float in ``[0, 1]`` (converted to float32
        on the CPU): the tensors of ``device_tensors`` by name (``symbols`` int32, ``latent``
        float32, ``index`` int64 ...), each ``[B, ...]``."""
        if x.dim() != 1 + len(self.input_shape) or tuple(x.shape[1:]) != self.input_shape:
            raise OnnxDeviceError(
                f"{self.variant}: input of shape {tuple(x.shape)}, expected "
                f"[B, {', '.join(map(str, self.input_shape))}]"
            )
        if len(x) == 0:
            raise OnnxDeviceError(f"{self.variant}: empty batch")
        feed = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        outputs = self.session.run(self.output_names, {self.meta.get("input", INPUT_NAME): feed})
        return {
            name: torch.from_numpy(np.asarray(value))
            for name, value in zip(self.output_names, outputs, strict=True)
        }

    def encode(self, x: torch.Tensor) -> list[Payload]:
        """Device side on ``x`` ``[B, *input_shape]``: one :class:`Payload` per sample, as
        ``system.device_encode`` makes them (network in onnxruntime, packing in Python)."""
        return self.packer.pack_payloads(self.tensors(x))

    def wire(self, payload: Payload) -> bytes:
        """``payload`` as sent (:attr:`codec`)."""
        return self.codec.encode(payload)


def load_onnx_device(folder: str | Path, threads: int | None = None) -> OnnxDevice:
    """Load an export: ``folder`` is one variant's folder, or an export root holding exactly one.

    ``threads`` sets onnxruntime's intra-op threads (default: ``OMP_NUM_THREADS`` if set, else
    onnxruntime's own choice). Raises :class:`OnnxDeviceError` naming the problem (no export
    there, several variants — listed —, a malformed ``device.json``, unloadable files).
    """
    import onnxruntime as ort

    from semcom.storage.store import StoreError, load_system

    folder = Path(folder)
    found = find_exports(folder)
    if not found:
        raise OnnxDeviceError(
            f"{folder}: no ONNX device export (no {DEVICE_JSON} there or in its sub-folders); "
            "write one with `semcom export RUN_DIR --onnx DIR`"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise OnnxDeviceError(
            f"{folder} holds {len(found)} exported variants ({names}); pass one variant's folder"
        )
    variant_dir = found[0]
    meta = read_device_json(variant_dir)
    try:
        stored = load_system(variant_dir / meta["system_file"])
    except StoreError as exc:
        raise OnnxDeviceError(str(exc)) from exc
    if stored.system.name != meta["system"]:
        raise OnnxDeviceError(
            f"{variant_dir}: {meta['system_file']} holds system {stored.system.name!r}, "
            f"{DEVICE_JSON} says {meta['system']!r}"
        )
    options = ort.SessionOptions()
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    onnx_path = variant_dir / meta["onnx"]
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OnnxDeviceError(f"{onnx_path}: onnxruntime cannot load it: {exc}") from exc
    codec = cast(BackboneSplitSystem, stored.system).wire_codec()
    stated = meta.get("model_id")
    if stated is not None and stated != codec.model_id.hex():
        raise OnnxDeviceError(
            f"{variant_dir}: {meta['system_file']} has model id {codec.model_id.hex()}, "
            f"{DEVICE_JSON} says {stated!r} (the files come from different models)"
        )
    output_names = [o.name for o in session.get_outputs()]
    if output_names != list(meta["outputs"]):
        raise OnnxDeviceError(
            f"{onnx_path}: outputs {output_names} differ from {DEVICE_JSON}'s {meta['outputs']}"
        )
    return OnnxDevice(
        variant=str(meta["variant"]),
        system_name=str(meta["system"]),
        input_shape=tuple(meta["input_shape"]),
        folder=variant_dir,
        meta=meta,
        session=session,
        packer=stored.system,
        codec=codec,
    )
