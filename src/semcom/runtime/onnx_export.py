"""Export the device part of a stored system to ONNX, and check the export against PyTorch.

Entropy coding (ANS via constriction) is no ONNX operator, so the exported graph is the device's
*network*, :meth:`~semcom.systems.SplitSystem.device_tensors`: image ``[B, C, H, W]`` float32 in
``[0, 1]`` → head, attention / selection, encoder, quantiser → integer ``symbols`` (plus, for
AECNN's per-sample selection, the kept channel ``index``) and the float ``latent`` before
quantisation. The batch dimension is dynamic. :mod:`semcom.runtime.onnx_device` runs the graph in
onnxruntime and entropy-codes its outputs with the system's own
:meth:`~semcom.systems.SplitSystem.pack_payloads` — the code ``device_encode`` runs, so equal
tensors give equal bytes.

What "equal" can mean across runtimes (measured, see DESIGN.md "ONNX export"): onnxruntime's
convolutions sum in another order than PyTorch's, so the latent differs by about one float32 ulp
(~1e-7). The quantiser step itself (clip, divide, round half to even, cast) is in the graph and
is exact: onnxruntime's symbols always equal the quantiser applied to onnxruntime's latent. A
symbol can therefore differ only where the two latents straddle a rounding boundary (a few per
million elements at 8 bits). :func:`verify_device` tells such *boundary flips* apart from export
errors.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import torch
from torch import nn

from semcom.coding import UniformQuantizer
from semcom.runtime.onnx_device import (
    DEVICE_FORMAT,
    DEVICE_JSON,
    INPUT_NAME,
    ONNX_FILE,
    SYSTEM_FILE,
    OnnxDevice,
)
from semcom.storage.store import StoredSystem, write_system
from semcom.systems import BackboneSplitSystem, DeviceExportError, SplitSystem

#: largest accepted ``max |latent_onnx - latent_torch|`` (latents are sigmoid outputs in [0, 1];
#: measured differences are ~1e-7).
LATENT_ATOL = 1e-4


class ExportError(ValueError):
    """A system's device part cannot be exported; the message names the variant and the reason."""


class _DeviceGraph(nn.Module):
    """``device_tensors`` as a module with positional outputs (the order of ``names``)."""

    def __init__(self, system: SplitSystem, names: list[str]) -> None:
        super().__init__()
        self.system = system
        self.names = names

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tensors = self.system.device_tensors(image)
        return tuple(tensors[n] for n in self.names)


def input_shape(system: SplitSystem) -> tuple[int, ...]:
    """One input of ``system`` without the batch dimension (``(C, H, W)`` or ``(C, T, H, W)``)."""
    return tuple(system.ctx.input_shape)


def example_inputs(system: SplitSystem, batch: int, seed: int = 0) -> torch.Tensor:
    """``batch`` uniform random images ``[batch, C, H, W]`` float32 in ``[0, 1)`` (seeded)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, *input_shape(system), generator=g)


def export_refusal(system: SplitSystem) -> str | None:
    """``None`` if ``system``'s device part can be exported, else the reason it cannot."""
    try:
        with torch.no_grad():
            system.device_tensors(example_inputs(system, 1))
    except DeviceExportError as exc:
        return str(exc)
    return None


def export_device(stored: StoredSystem, out_dir: str | Path) -> Path:
    """Write ``out_dir/<variant>/{device.onnx, device.json, system.safetensors}``; returns the
    variant folder. Raises :class:`ExportError` if the system's device part is not exportable."""
    system = stored.system.eval()
    reason = export_refusal(system)
    if reason is not None:
        raise ExportError(f"{stored.variant}: {reason}")
    example = example_inputs(system, 2)
    with torch.no_grad():
        names = list(system.device_tensors(example))
    folder = Path(out_dir) / stored.variant
    folder.mkdir(parents=True, exist_ok=True)
    graph = _DeviceGraph(system, names).eval()
    log = io.StringIO()
    try:
        # the exporter reports its progress on stdout; keep it for the error message only
        with torch.no_grad(), contextlib.redirect_stdout(log):
            program = torch.onnx.export(
                graph,
                (example,),
                input_names=[INPUT_NAME],
                output_names=names,
                dynamic_shapes={"image": {0: torch.export.Dim("batch", min=1)}},
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many types; name the variant
        raise ExportError(f"{stored.variant}: ONNX export failed: {exc}\n{log.getvalue()}") from exc
    if program is None:  # pragma: no cover - only the legacy exporter returns None
        raise ExportError(f"{stored.variant}: the ONNX exporter returned no program")
    program.save(str(folder / ONNX_FILE))
    write_system(system, folder / SYSTEM_FILE)
    opset = program.model.opset_imports.get("", None)
    meta = {
        "format": DEVICE_FORMAT,
        "variant": stored.variant,
        "system": system.name,
        "params": system.params.model_dump(by_alias=True, mode="json"),
        "model_id": cast(BackboneSplitSystem, system).model_id().hex(),
        "context": asdict(system.ctx),
        "input": INPUT_NAME,
        "input_shape": list(input_shape(system)),
        "input_dtype": "float32",
        "outputs": names,
        "onnx": ONNX_FILE,
        "system_file": SYSTEM_FILE,
        "opset": opset,
        "torch": torch.__version__,
    }
    (folder / DEVICE_JSON).write_text(json.dumps(meta, indent=2) + "\n")
    return folder


@dataclass(frozen=True)
class Verification:
    """How an ONNX device compares with its PyTorch system on the same inputs.

    Attributes:
        variant: the variant id.
        samples: images compared.
        latent_max_diff: ``max |latent_onnx - latent_torch|``.
        symbols_differing: symbol elements that differ (all samples together).
        boundary_distance: largest distance of PyTorch's symbol-domain value from its rounding
            boundary ``n + 1/2`` over the differing symbols (0 when none differ).
        payloads_identical: samples whose payload bytes are identical.
        problems: export errors found (empty if none); boundary flips are not problems.
    """

    variant: str
    samples: int
    latent_max_diff: float
    symbols_differing: int
    boundary_distance: float
    payloads_identical: int
    problems: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """Every payload is bit-identical to PyTorch's ``device_encode``."""
        return self.payloads_identical == self.samples and not self.problems

    @property
    def ok(self) -> bool:
        """No export error: payloads differ, if at all, only by rounding-boundary flips."""
        return not self.problems


def _quantizer(system: SplitSystem) -> UniformQuantizer | None:
    q = getattr(system, "quantizer", None)
    return q if isinstance(q, UniformQuantizer) else None


@torch.no_grad()
def verify_device(
    stored: StoredSystem, device: OnnxDevice, x: torch.Tensor, atol: float = LATENT_ATOL
) -> Verification:
    """Compare ``device`` (onnxruntime + packing) with ``stored.system`` (PyTorch) on ``x``
    ``[B, C, H, W]``.

    Checked exactly: output names, shapes and dtypes; non-symbol tensors (``index``); that
    onnxruntime's symbols are the system's quantiser applied to onnxruntime's own latent; that
    samples with equal tensors get equal payload bytes; and the payload bytes against
    ``device_encode``. The latent must agree within ``atol``. A payload that differs only because
    some symbols sit on the other side of a rounding boundary (the latents straddle ``n + 1/2``,
    so the symbols differ by one) is counted as not identical but is not a problem.
    """
    system = stored.system.eval()
    ref = system.device_tensors(x)
    got = device.tensors(x)
    problems: list[str] = []
    if list(got) != list(ref):
        problems.append(f"outputs {list(got)} != PyTorch's {list(ref)}")
    for name in ref.keys() & got.keys():
        r, g = ref[name], got[name]
        if r.shape != g.shape or r.dtype != g.dtype:
            problems.append(
                f"{name}: {tuple(g.shape)} {g.dtype} != PyTorch's {tuple(r.shape)} {r.dtype}"
            )
    if problems:
        return Verification(device.variant, len(x), math.inf, -1, 0.0, 0, tuple(problems))

    latent_diff = float((got["latent"] - ref["latent"]).abs().max()) if "latent" in ref else 0.0
    if not latent_diff <= atol:
        problems.append(f"latent differs by {latent_diff:.3g} > {atol:g}")
    for name in ref:
        if name not in ("latent", "symbols") and not torch.equal(ref[name], got[name]):
            bad = int((ref[name] != got[name]).reshape(len(x), -1).any(1).sum())
            problems.append(f"{name} differs in {bad} sample(s)")
    q = _quantizer(system)
    symbols_differing, distance = 0, 0.0
    differs = torch.zeros(len(x), dtype=torch.bool)
    if "symbols" in ref:
        own = q.symbols(got["latent"]) if q is not None and "latent" in got else got["symbols"]
        if not torch.equal(own, got["symbols"]):
            problems.append("onnxruntime's symbols are not the quantiser of its own latent")
        off = ref["symbols"] != got["symbols"]
        symbols_differing = int(off.sum())
        differs = off.reshape(len(x), -1).any(1)
        if symbols_differing:
            step = (ref["symbols"].long() - got["symbols"].long()).abs().max()
            if int(step) > 1:
                problems.append(f"symbols differ by up to {int(step)} levels")
            if q is not None and "latent" in ref:
                u = q.to_symbol_domain(ref["latent"])[off]
                distance = float(((u - u.floor()) - 0.5).abs().max())

    ref_bytes = [p.to_bytes() for p in system.device_encode(x)]
    got_bytes = [p.to_bytes() for p in device.encode(x)]
    same = [a == b for a, b in zip(ref_bytes, got_bytes, strict=True)]
    unexplained = [i for i, s in enumerate(same) if not s and not differs[i]]
    if unexplained:
        problems.append(f"payloads of {len(unexplained)} sample(s) differ although tensors agree")
    return Verification(
        variant=device.variant,
        samples=len(x),
        latent_max_diff=latent_diff,
        symbols_differing=symbols_differing,
        boundary_distance=distance,
        payloads_identical=sum(same),
        problems=tuple(problems),
    )


def verify_export(
    stored: StoredSystem, device: OnnxDevice, samples: int = 8, seed: int = 0
) -> Verification:
    """:func:`verify_device` on ``samples`` seeded random images, run as a batch of one and a
    batch of the rest (both batch sizes of the dynamic dimension), merged into one result."""
    x = example_inputs(stored.system, samples, seed)
    parts = [verify_device(stored, device, b) for b in (x[:1], x[1:]) if len(b)]
    return Verification(
        variant=device.variant,
        samples=sum(p.samples for p in parts),
        latent_max_diff=max(p.latent_max_diff for p in parts),
        symbols_differing=sum(p.symbols_differing for p in parts),
        boundary_distance=max(p.boundary_distance for p in parts),
        payloads_identical=sum(p.payloads_identical for p in parts),
        problems=tuple(dict.fromkeys(q for p in parts for q in p.problems)),
    )
