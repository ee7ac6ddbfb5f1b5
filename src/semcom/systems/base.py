"""The contract every co-inference system implements.

A system is a network split between a device and an edge server, plus what crosses the link:

* ``forward(x, snr_db=None, path="full") -> SystemOutput`` is the differentiable training graph
  (additive-noise or straight-through quantisation, differentiable channels, rate estimate).
  ``path`` picks which graph a training stage runs: ``"full"`` (everything, the default),
  ``"bypass"`` (the backbone unsplit, for pre-training) or a system-specific path listed in the
  class's ``paths`` (e.g. AECNN's ``"attention"``: channel selection without the coder).
* ``device_encode(x) -> list[Payload]`` runs the real device side: head, encoder, quantiser and
  entropy coder, one :class:`~semcom.coding.Payload` per sample (what a device sends per image).
  Digital systems whose device side is a network followed by entropy coding split it in two public
  steps, ``device_encode(x) == pack_payloads(device_tensors(x))``: ``device_tensors`` is pure,
  deterministic tensor code (what ``semcom export`` turns into ONNX) and ``pack_payloads`` the
  entropy coder and the :class:`Payload` container (Python, shared by PyTorch and ONNX devices).
  Systems without that split raise :class:`DeviceExportError` from both, naming the reason.
* ``edge_decode(payloads) -> output`` parses the bytes and finishes the task on the edge.
* ``roles()`` names the sub-modules (``head``, ``encoder``, ``entropy``, ``decoder``, ``tail``,
  ...) that staged training switches on and off.

Analog (JSCC) systems set ``link = "analog"`` and implement ``device_transmit`` /
``edge_receive`` on complex channel symbols instead of payload bytes; systems that run entirely
on the device (``local``) set ``link = "none"``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from semcom.coding import Payload, PayloadError

LinkKind = Literal["digital", "analog", "none"]


class LinkKindError(TypeError):
    """A payload operation was asked of a system whose link carries no payload."""


class DeviceExportError(TypeError):
    """The device part of a system cannot be run as tensors only (and so cannot be exported)."""


class SystemParams(BaseModel):
    """Base of every system's parameter model: unknown fields are rejected by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class SystemOutput:
    """What the training graph returns.

    Attributes:
        output: the task output — classification: logits ``[B, num_classes]``; multi-task
            systems return a dict of named outputs (e.g. ``{"boxes": ..., "masks": ...}``).
        rate_bits: estimated bits per sample ``[B]`` (−log2 likelihood), or ``None`` when the system
            has no entropy model (analog links, raw offloading).
        extras: named tensors for auxiliary losses, e.g. ``feature`` (the split feature) and
            ``feature_hat`` (its reconstruction at the edge) for a feature-MSE term.
    """

    output: Any
    rate_bits: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildContext:
    """What a system needs to know about the data and backbone to build itself."""

    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    backbone: str
    split_after: str
    dataset: str = ""


class SplitSystem(nn.Module, ABC):
    """Base class of all systems (see the module docstring for the contract)."""

    #: registry name, e.g. ``"aecnn"``; set by :func:`semcom.systems.registry.register_system`.
    name: ClassVar[str] = ""
    #: what crosses the link: ``digital`` payload bytes, ``analog`` complex symbols, or ``none``.
    link: ClassVar[LinkKind] = "digital"
    #: the pydantic model of this system's parameters.
    Params: ClassVar[type[SystemParams]] = SystemParams
    #: the task the edge output serves; decides the task loss and the evaluation metric.
    task: ClassVar[str] = "classification"
    #: training graphs ``forward`` offers (see the module docstring); stages choose one by name.
    paths: ClassVar[tuple[str, ...]] = ("full", "bypass")
    #: whether ``forward`` returns a rate estimate (an entropy model); stages with a ``rate``
    #: loss need one.
    has_rate: ClassVar[bool] = False

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.ctx = ctx

    @classmethod
    def variant_class(cls, params: SystemParams) -> type[SplitSystem]:
        """The class that builds a system with ``params`` (validated): this one by default. A
        system whose parameters select another structure under the same name (``sscc`` with
        ``source: features`` trains a feature coder) returns a subclass."""
        return cls

    # --- structure -----------------------------------------------------------------------------
    @abstractmethod
    def roles(self) -> dict[str, nn.Module]:
        """Sub-modules by role name; staged training trains the roles a stage names."""

    @abstractmethod
    def device_modules(self) -> list[nn.Module]:
        """Modules that run on the device (for FLOPs, parameter counts and export)."""

    @abstractmethod
    def edge_modules(self) -> list[nn.Module]:
        """Modules that run on the edge server."""

    def backbone_state(self) -> dict[str, torch.Tensor]:
        """State dict of the backbone part (``head`` + ``tail``), for sharing between systems."""
        out: dict[str, torch.Tensor] = {}
        for role in ("head", "tail"):
            module = self.roles().get(role)
            if module is not None:
                out.update({f"{role}.{k}": v for k, v in module.state_dict().items()})
        return out

    def load_backbone_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`backbone_state` returned (from this or another system)."""
        for role in ("head", "tail"):
            module = self.roles().get(role)
            if module is None:
                continue
            prefix = f"{role}."
            sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            module.load_state_dict(sub)

    # --- training graph ------------------------------------------------------------------------
    @abstractmethod
    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        """Differentiable training forward; ``x`` is a batch ``[B, C, H, W]`` in ``[0, 1]``;
        ``path`` is one of :attr:`paths`."""

    def task_loss(self, output: Any, targets: Any) -> torch.Tensor:
        """The ``task`` loss term; classification: cross-entropy of logits ``[B, K]`` against
        labels ``[B]``. Systems with other tasks (detection, segmentation) override it."""
        return nn.functional.cross_entropy(output, targets)

    # --- the real thing --------------------------------------------------------------------------
    def prepare_for_coding(self) -> None:
        """Build whatever real coding needs (entropy-model CDF tables); call after training."""

    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        """Device side on a batch ``[B, ...]``: one :class:`Payload` per sample."""
        raise LinkKindError(f"{self.name} has a {self.link} link; it sends no payload")

    def device_tensors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tensor-only part of the device side, the part ``semcom export`` writes as ONNX.

        ``x`` is a batch ``[B, C, H, W]`` float32 in ``[0, 1]``; returns named tensors whose dim 0
        is ``B``: what :meth:`pack_payloads` needs (e.g. ``symbols`` int32, ``index`` int64)
        plus ``latent``, the float32 encoder output before quantisation (for comparing
        runtimes). Pure tensor operations, deterministic, eval mode, no gradient. Systems that
        cannot split their device side this way raise :class:`DeviceExportError`
        (:meth:`export_refusal` says why).
        """
        raise DeviceExportError(f"{self.name}: {self.export_refusal()}")

    def pack_payloads(self, tensors: dict[str, torch.Tensor]) -> list[Payload]:
        """Entropy-code what :meth:`device_tensors` returned (from PyTorch or from an ONNX
        runtime) into one :class:`Payload` per sample; ``device_encode(x)`` is
        ``pack_payloads(device_tensors(x))``, byte for byte."""
        raise DeviceExportError(f"{self.name}: {self.export_refusal()}")

    def export_refusal(self) -> str:
        """Why :meth:`device_tensors` is not available for this system (one sentence)."""
        if self.link == "analog":
            return (
                "analog link: the device sends complex channel symbols, not an exportable "
                "network + payload"
            )
        if self.link == "none":
            return "nothing crosses the link (the whole model runs on one side)"
        return "its device side is not split into device_tensors + pack_payloads"

    def require_tensors(self, tensors: dict[str, torch.Tensor], names: Sequence[str]) -> None:
        """Raise ``ValueError`` unless ``tensors`` (given to :meth:`pack_payloads`) holds every
        one of ``names`` and they share one batch size."""
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ValueError(
                f"{self.name}: pack_payloads needs tensors {list(names)}, missing {missing}"
            )
        sizes = {n: len(tensors[n]) for n in names}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"{self.name}: batch sizes differ between tensors: {sizes}")

    def check_payload_layout(
        self, payload: Payload, shapes: Sequence[tuple[int, ...]], chunks: int
    ) -> None:
        """Raise :class:`PayloadError` unless ``payload`` names this system and carries exactly
        ``shapes`` and ``chunks`` chunks (the checks every payload-decoding system shares)."""
        if payload.system != self.name:
            raise PayloadError(f"payload is for system {payload.system!r}, not {self.name!r}")
        if tuple(payload.shapes) != tuple(shapes):
            raise PayloadError(
                f"payload shapes {list(payload.shapes)} do not match this model's {list(shapes)}"
            )
        if len(payload.chunks) != chunks:
            raise PayloadError(f"expected {chunks} chunk(s), payload has {len(payload.chunks)}")

    def edge_decode(self, payloads: Sequence[Payload]) -> torch.Tensor:
        """Edge side: parse payloads and finish the task; returns the batched task output."""
        raise LinkKindError(f"{self.name} has a {self.link} link; it decodes no payload")

    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Analog device side: complex channel symbols ``[B, channel_uses()]`` with unit average
        power per sample, for inputs ``x`` and the SNR ``snr_db`` ``[B]`` (dB) it assumes."""
        raise LinkKindError(f"{self.name} has a {self.link} link; it sends no analog symbols")

    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> Any:
        """Analog edge side: received symbols ``[B, channel_uses()]`` → batched task output."""
        raise LinkKindError(f"{self.name} has a {self.link} link; it receives no analog symbols")

    def channel_uses(self) -> int | None:
        """Complex channel symbols per sample of an analog link (``None`` for other links)."""
        return None

    @torch.no_grad()
    def transmit(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> Any:
        """Analog link end to end: :meth:`analog_encode` → ``channel(symbols, snr_db)`` →
        :meth:`analog_decode`. ``channel`` is a module of :mod:`semcom.channels`."""
        symbols = self.analog_encode(x, snr_db)
        return self.analog_decode(channel(symbols, snr_db, generator=generator), snr_db)

    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor | None:
        """Model estimate of the payload *body* bits per sample ``[B]`` (−log2 likelihood of the
        symbols actually sent), or ``None`` for systems without an entropy model."""
        return None

    def infer_local(self, x: torch.Tensor) -> torch.Tensor:
        """Whole task on one side with no link (the ``local`` reference and analog systems use
        their own paths); default: the training graph with the link bypassed."""
        return self.forward(x, path="bypass").output

    def check_path(self, path: str) -> None:
        """Raise ``ValueError`` naming the allowed paths unless ``path`` is one of them."""
        if path not in self.paths:
            raise ValueError(
                f"system {self.name!r} has no training path {path!r}; "
                f"allowed: {', '.join(self.paths)}"
            )

    # --- accounting ----------------------------------------------------------------------------
    @abstractmethod
    def split_elements(self) -> int:
        """Number of float32 elements of one sample at the split (for the compression ratio)."""

    def ctx_input_elements(self) -> int:
        """Elements of one input sample (``C·H·W``), the source size for bandwidth ratios."""
        return self.ctx.in_channels * self.ctx.image_size[0] * self.ctx.image_size[1]

    def describe(self) -> dict[str, Any]:
        """Parameters recorded next to each result (e.g. ``k``, ``bits``, ``lambda``)."""
        return self.params.model_dump(by_alias=True)


def set_trainable(system: SplitSystem, roles: Sequence[str] | Literal["all"]) -> list[nn.Parameter]:
    """Freeze everything but ``roles``; returns the parameters left trainable.

    Frozen roles are also put in eval mode during training (batch-norm statistics stay fixed);
    see :func:`apply_train_mode`.
    """
    available = system.roles()
    if roles == "all":
        wanted = set(available)
    else:
        unknown = [r for r in roles if r not in available]
        if unknown:
            raise ValueError(
                f"stage trains unknown role(s) {unknown} for system {system.name!r}; "
                f"allowed: {', '.join(available)} or 'all'"
            )
        wanted = set(roles)
    for p in system.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    seen: set[int] = set()
    for role, module in available.items():
        if role in wanted:
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    p.requires_grad_(True)
                    params.append(p)
    return params


def apply_train_mode(system: SplitSystem, roles: Sequence[str] | Literal["all"]) -> None:
    """``system.train()`` with the roles that do not train kept in eval mode."""
    system.train()
    if roles == "all":
        return
    for role, module in system.roles().items():
        if role not in roles:
            module.eval()
