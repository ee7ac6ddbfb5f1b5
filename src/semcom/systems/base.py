"""The contract every co-inference system implements.

A system is a network split between a device and an edge server, plus what crosses the link:

* ``task`` (a :class:`~semcom.tasks.Task`) says what the output is and how it is scored;
  ``transport`` (a :class:`~semcom.transports.Transport`) says what crosses the link and owns its
  measurement. Both are objects built with the system; nothing outside :mod:`semcom.tasks` and
  :mod:`semcom.transports` branches on their kind.
* ``forward(x, snr_db=None, path="full") -> SystemOutput`` is the differentiable training graph
  (additive-noise or straight-through quantisation, differentiable channels, rate estimate).
  ``x`` is a batch of inputs of the context's ``input_shape`` (``[B, C, H, W]`` images or
  ``[B, C, T, H, W]`` clips) in ``[0, 1]``. ``path`` picks which graph a training stage runs:
  ``"full"`` (everything, the default), ``"bypass"`` (the backbone unsplit, for pre-training) or
  a system-specific path listed in the class's ``paths`` (e.g. AECNN's ``"attention"``). A system
  with ``wants_targets`` (detectors that compute their own loss terms, as torchvision's do) also
  gets ``targets=`` in training.
* Payload transports: ``device_encode(x) -> list[Payload]`` runs the real device side (one
  :class:`~semcom.coding.Payload` per sample) and ``edge_decode(payloads) -> output`` the edge.
  Digital systems whose device side is a network followed by entropy coding split the first in
  two public steps, ``device_encode(x) == pack_payloads(device_tensors(x))``: ``device_tensors``
  is pure, deterministic tensor code (what ``semcom export`` turns into ONNX) and
  ``pack_payloads`` the entropy coder and the container. Systems without that split raise
  :class:`DeviceExportError` from both, naming the reason.
* Analog transports: ``analog_encode`` / ``analog_decode`` on complex channel symbols; simulated
  PHYs: ``phy_transmit`` (and ``phy_encode`` / ``phy_decode``); no link: ``infer_local``.
* ``roles()`` names the sub-modules (``head``, ``encoder``, ``entropy``, ``decoder``, ``tail``,
  ...) that staged training switches on and off.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from semcom.coding import Payload, PayloadError
from semcom.data.info import InputShaped, TaskSpec
from semcom.tasks import Task, build_task
from semcom.transports import PayloadTransport, Transport


class LinkKindError(TypeError):
    """A payload operation was asked of a system whose link carries no payload."""


class DeviceExportError(TypeError):
    """The device part of a system cannot be run as tensors only (and so cannot be exported)."""


class SystemParams(BaseModel):
    """Base of every system's parameter model: unknown fields are rejected by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RateWeightedParams(SystemParams):
    """Parameters of a system with an entropy model: ``lambda`` (``rate_weight``) overrides the
    stages' rate-loss weight for this system (the trainer reads it)."""

    rate_weight: float | None = Field(
        None, ge=0, alias="lambda", description="overrides the stages' rate-loss weight"
    )


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
class BuildContext(InputShaped):
    """What a system needs to know about the data and backbone to build itself.

    Attributes:
        num_classes: classes of the data set's labels.
        input_shape: one input without the batch dimension, ``(C, H, W)`` or ``(C, T, H, W)``.
        backbone, split_after: the splittable network and where it is cut.
        dataset: the data set's name.
        task: what the data set's targets are (default: classification over ``num_classes``).

    >>> ctx = BuildContext(10, (1, 28, 28), "resnet-small", "layer2")
    >>> ctx.in_channels, ctx.image_size, ctx.task.kind
    (1, (28, 28), 'classification')
    >>> BuildContext.from_json(ctx.to_json()) == ctx
    True
    """

    num_classes: int
    input_shape: tuple[int, ...]
    backbone: str
    split_after: str
    dataset: str = ""
    task: TaskSpec = None  # type: ignore[assignment]  # default set in __post_init__

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (C, H, W) or (C, T, H, W), got {shape}")
        object.__setattr__(self, "input_shape", shape)
        if self.task is None:
            object.__setattr__(self, "task", TaskSpec("classification", self.num_classes))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (a stored model's metadata)."""
        return {
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "backbone": self.backbone,
            "split_after": self.split_after,
            "dataset": self.dataset,
            "task": self.task.to_json(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BuildContext:
        """Inverse of :meth:`to_json`; also reads the context of models stored before inputs
        of any rank (``in_channels`` + ``image_size``, no task: classification)."""
        fields = dict(raw)
        if "input_shape" not in fields and {"in_channels", "image_size"} <= set(fields):
            fields["input_shape"] = (fields.pop("in_channels"), *fields.pop("image_size"))
        task = fields.pop("task", None)
        return cls(
            num_classes=int(fields["num_classes"]),
            input_shape=tuple(fields["input_shape"]),
            backbone=str(fields["backbone"]),
            split_after=str(fields["split_after"]),
            dataset=str(fields.get("dataset", "")),
            task=TaskSpec.from_json(task) if task else None,  # type: ignore[arg-type]
        )


class SplitSystem(nn.Module, ABC):
    """Base class of all systems (see the module docstring for the contract)."""

    #: registry name, e.g. ``"aecnn"``; set by :func:`semcom.systems.registry.register_system`.
    name: ClassVar[str] = ""
    #: the pydantic model of this system's parameters.
    Params: ClassVar[type[SystemParams]] = SystemParams
    #: the kinds of transport this class can have (``semcom systems`` lists them).
    transport_kinds: ClassVar[tuple[str, ...]] = ("digital",)
    #: training graphs ``forward`` offers (see the module docstring); stages choose one by name.
    paths: ClassVar[tuple[str, ...]] = ("full", "bypass")
    #: whether ``forward`` returns a rate estimate (an entropy model); stages with a ``rate``
    #: loss need one.
    has_rate: ClassVar[bool] = False
    #: whether ``forward`` takes ``targets=`` in training (detectors computing their own loss).
    wants_targets: ClassVar[bool] = False
    #: parameter sets the contract test builds (``tests/systems/test_contract.py``): each must
    #: make a valid system on a small input of the task's kind.
    contract_params: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: the input shape (one sample) the contract test builds it on.
    contract_input_shape: ClassVar[tuple[int, ...]] = (3, 32, 32)

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        super().__init__()
        self.params = params
        self.ctx = ctx
        #: what the output is and how it is scored.
        self.task: Task = self.make_task()
        #: what crosses the link.
        self.transport: Transport = self.make_transport()

    def make_task(self) -> Task:
        """The task of this system (default: classification over the context's classes)."""
        return build_task(TaskSpec("classification", self.ctx.num_classes))

    def make_transport(self) -> Transport:
        """What crosses this system's link (default: payload bytes)."""
        return PayloadTransport()

    @property
    def model_device(self) -> torch.device:
        """Where the system's parameters live (decoded payload tensors are moved there: entropy
        and image decoding run on the CPU)."""
        for tensor in self.parameters():
            return tensor.device
        for buffer in self.buffers():
            return buffer.device
        return torch.device("cpu")

    @property
    def link(self) -> str:
        """The transport's kind (``digital``, ``analog``, ``phy``, ``none``), for display."""
        return self.transport.kind

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

    #: whether ``head`` / ``tail`` are the experiment's shared backbone (loaded from it before the
    #: stages); ``False`` for systems that build a network of their own.
    shares_backbone: ClassVar[bool] = True

    def backbone_state(self) -> dict[str, torch.Tensor]:
        """State dict of the backbone part (``head`` + ``tail``), for sharing between systems
        (empty for systems whose network is their own)."""
        out: dict[str, torch.Tensor] = {}
        if not self.shares_backbone:
            return out
        for role in ("head", "tail"):
            module = self.roles().get(role)
            if module is not None:
                out.update({f"{role}.{k}": v for k, v in module.state_dict().items()})
        return out

    def load_backbone_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`backbone_state` returned (from this or another system); a no-op for
        systems whose network is their own."""
        if not self.shares_backbone:
            return
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

    def task_loss(
        self, output: Any, targets: Any, weights: dict[str, float] | None = None
    ) -> torch.Tensor:
        """The ``task`` loss term: the task's loss of ``output`` against ``targets``
        (``weights``: per-sub-task weights of a multi-task system)."""
        return self.task.loss(output, targets, weights)

    # --- the real thing --------------------------------------------------------------------------
    def prepare_for_coding(self) -> None:
        """Build whatever real coding needs (entropy-model CDF tables); call after training."""

    def fit_coding(self, inputs: Iterable[torch.Tensor]) -> dict[str, float] | None:
        """Fit post-training coding statistics (entropy tables) to the device-side codes of
        training ``inputs`` (batches ``[B, ...]`` as the loader gives them); the step after the
        stages. Changes bits only, never what the edge decodes. Returns a summary (numbers) or
        ``None`` when the system has nothing to fit (the default)."""
        return None

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
        return self.transport.export_refusal(self)

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
        """Elements of one input sample (``C·H·W`` or ``C·T·H·W``), the source size for
        bandwidth ratios."""
        return math.prod(self.ctx.input_shape)

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
