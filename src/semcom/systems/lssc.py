"""``lssc`` and ``unet``: the attention-based UNet image semantic codec of Ma, Tong, Yang & Yin,
"Attention-based UNet enabled Lightweight Image Semantic Communication System over Internet of
Things" (arXiv 2401.07329), and its baseline, the standard 4-stage UNet codec.

The codec is a deep-JSCC UNet (:mod:`semcom.nn.unet`): the **device** runs the encoder (``depth``
downsampling stages, CBAM after each stage) and sends its code as analog complex symbols
(:class:`~semcom.nn.jscc.JSCCLink`: pairs of reals, unit power per sample); the **edge** runs the
decoder, which rebuilds the image, and the task network:

* ``task: classification`` (default): the decoder outputs an image (sigmoid, ``[0, 1]``) and the
  experiment's whole classifier backbone (``ctx.backbone``, head then tail) classifies it. The
  backbone shared between systems (keys ``head.*`` / ``tail.*``) loads into that classifier.
* ``task: segmentation``: the decoder outputs per-pixel class logits ``[B, K, H, W]`` directly
  (``K = ctx.num_classes``, background included); there is no classifier, the task loss is
  per-pixel cross-entropy against masks ``[B, H, W]`` (mask value 255 is ignored).

The paper's lightweight design choices are parameters: ``depth`` (fewer downsampling stages →
fewer FLOPs and parameters; the paper tunes it, ``unet`` is fixed at 4), ``cbam`` and ``width``.
Skip connections are ``dropped`` by default (only the bottleneck code crosses the link, so the
channel uses are exactly ``round(cbr · C·H·W)`` at every depth); ``transmitted`` also sends each
skip compressed to ``skip_channels`` planes, and those symbols are counted in
:meth:`channel_uses`.

Training graph (``forward(x, snr_db, path)``):

* ``full``: encoder → link through ``train_channel`` (``awgn``, or ``rayleigh``: block fading with
  perfect-CSI zero-forcing equalisation) at one SNR per sample → decoder → classifier. ``snr_db``
  (float or ``[B]``, dB) comes from the stage; when it is ``None`` each sample draws its SNR
  uniformly from ``train_snr_db``. Extras ``feature`` = the input image and ``feature_hat`` = its
  reconstruction (classification), so a stage's ``feature`` loss is the reconstruction MSE.
* ``bypass``: classification: the classifier on the clean image (backbone pre-training);
  segmentation: the codec over a noiseless link.

With ``snr_adaptive`` an SNR gate (:class:`~semcom.nn.snr_adaptive.SNRAdaptiveGate`) at the
bottleneck of encoder and decoder is told the SNR; the device must then know the SNR it assumes
(``analog_encode(x, snr_db)``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import nn

from semcom import sharded_batch
from semcom.backbones import build_backbone
from semcom.channels import as_per_sample_snr
from semcom.data.info import TaskSpec
from semcom.nn.jscc import JSCCLink
from semcom.nn.unet import OutputKind, UNetCodec, UNetDecoder, UNetEncoder, UNetLayout
from semcom.systems.base import BuildContext, SplitSystem, SystemOutput, SystemParams
from semcom.systems.registry import SystemConfigError, register_system
from semcom.tasks import Task, build_task
from semcom.transports import AnalogTransport, Transport

#: what the UNet decoder outputs for each ``task`` parameter: the image (then classified) or the
#: per-pixel logits themselves.
DECODER_OUTPUT: dict[str, OutputKind] = {"classification": "image", "segmentation": "logits"}


class LSSCParams(SystemParams):
    """Parameters of ``lssc``."""

    depth: Literal[1, 2, 3, 4] = Field(3, description="downsampling stages of the UNet")
    cbam: bool = Field(True, description="CBAM attention after every encoder stage")
    skips: Literal["dropped", "transmitted"] = Field(
        "dropped", description="skip connections: not sent, or compressed and sent (counted)"
    )
    skip_channels: int = Field(1, ge=1, le=64, description="planes per transmitted skip")
    cbr: float = Field(0.25, gt=0, le=8, description="code channel uses per source element (C·H·W)")
    width: int = Field(16, ge=1, le=512, description="planes of the first stage (x2 per stage)")
    max_width: int = Field(256, ge=1, le=4096, description="cap on the planes of any stage")
    snr_adaptive: bool = Field(False, description="SNR gates in encoder and decoder")
    train_channel: Literal["awgn", "rayleigh"] = Field(
        "awgn", description="channel of the training graph (rayleigh: block, perfect CSI, ZF)"
    )
    train_snr_db: tuple[float, float] = Field(
        (-5.0, 20.0), description="[lo, hi] dB: per-sample SNR drawn when a stage gives none"
    )
    task: Literal["classification", "segmentation"] = Field(
        "classification", description="image + classifier, or per-pixel logits from the decoder"
    )

    @field_validator("train_snr_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[1] < v[0]:
            raise ValueError(f"must be [lo, hi] dB with lo <= hi, got [{v[0]}, {v[1]}]")
        return v

    @field_validator("max_width")
    @classmethod
    def _wide_enough(cls, v: int, info: ValidationInfo) -> int:
        width = info.data.get("width")
        if width is not None and v < width:
            raise ValueError(f"must be >= width ({width}), got {v}")
        return v


class UNetBaselineParams(LSSCParams):
    """Parameters of ``unet``: those of ``lssc`` with the standard UNet's 4 stages and no CBAM
    (the only values those two fields accept)."""

    depth: Literal[4] = Field(4, description="fixed: the standard UNet has 4 downsampling stages")
    cbam: Literal[False] = Field(False, description="fixed: the baseline has no attention")

    @field_validator("depth", mode="before")
    @classmethod
    def _depth_fixed(cls, v: Any) -> Any:
        if v != 4 or isinstance(v, bool):
            raise ValueError(
                f"the unet baseline has depth 4 only, got {v!r} (use system 'lssc' for 1..4)"
            )
        return v

    @field_validator("cbam", mode="before")
    @classmethod
    def _no_cbam(cls, v: Any) -> Any:
        if v is not False:
            raise ValueError(
                f"the unet baseline has no CBAM (cbam: false only), got {v!r} "
                "(use system 'lssc' for CBAM)"
            )
        return v


class TaskNetwork(nn.Module):
    """The experiment's classifier, kept in its two split halves so that the shared backbone's
    ``head.*`` / ``tail.*`` state loads as is: ``[B, C, H, W]`` in ``[0, 1]`` → logits
    ``[B, K]``."""

    def __init__(self, head: nn.Module, tail: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.tail = tail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.head(x))


@register_system("lssc")
class LSSC(SplitSystem):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` → logits ``[B, K]``
    (classification) or ``[B, K, H, W]`` (segmentation)."""

    Params = LSSCParams
    params: LSSCParams
    transport_kinds = ("analog",)
    contract_params: ClassVar[tuple[dict[str, Any], ...]] = (
        {"depth": 2, "cbr": 0.25, "width": 4},
        {"depth": 1, "cbam": False, "cbr": 0.25, "width": 4, "skips": "transmitted"},
        {"depth": 2, "cbr": 0.25, "width": 4, "task": "segmentation"},
    )

    def make_task(self) -> Task:
        """``task: classification`` (image + classifier) or ``segmentation`` (per-pixel logits
        from the decoder, mask value 255 ignored)."""
        return build_task(TaskSpec(self.params.task, self.ctx.num_classes))

    def make_transport(self) -> Transport:
        return AnalogTransport()

    def __init__(self, params: LSSCParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        decoder_output = DECODER_OUTPUT[params.task]
        segmentation = decoder_output == "logits"
        try:
            #: the UNet codec: encoder (device), JSCC link over ``train_channel``, decoder (edge).
            self.codec = UNetCodec(
                ctx.in_channels,
                ctx.image_size,
                ctx.num_classes if segmentation else ctx.in_channels,
                depth=params.depth,
                width=params.width,
                max_width=params.max_width,
                cbam=params.cbam,
                skips=params.skips,
                skip_channels=params.skip_channels,
                cbr=params.cbr,
                snr_adaptive=params.snr_adaptive,
                output=decoder_output,
                channel=params.train_channel,
            )
        except ValueError as exc:
            raise SystemConfigError(f"{self.name}: {exc}") from None
        self.classifier: TaskNetwork | None = None
        if not segmentation:
            backbone = build_backbone(ctx.backbone, ctx.in_channels, ctx.num_classes)
            self.classifier = TaskNetwork(*backbone.split(ctx.split_after))

    @property
    def layout(self) -> UNetLayout:
        """The codec's geometry (code channels, channel uses)."""
        return self.codec.layout

    @property
    def encoder(self) -> UNetEncoder:
        return self.codec.encoder

    @property
    def decoder(self) -> UNetDecoder:
        return self.codec.decoder

    # --- structure -----------------------------------------------------------------------------
    def roles(self) -> dict[str, nn.Module]:
        roles: dict[str, nn.Module] = {"encoder": self.encoder, "decoder": self.decoder}
        if self.classifier is not None:
            roles["tail"] = self.classifier
        return roles

    def device_modules(self) -> list[nn.Module]:
        return [self.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.decoder] + ([self.classifier] if self.classifier is not None else [])

    def backbone_state(self) -> dict[str, torch.Tensor]:
        """The classifier's state as the shared backbone's ``head.*`` + ``tail.*`` keys (empty in
        segmentation mode, which has no classifier)."""
        if self.classifier is None:
            return {}
        return dict(self.classifier.state_dict())

    def load_backbone_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load the shared backbone (``head.*`` + ``tail.*``) into the classifier; a no-op in
        segmentation mode."""
        if self.classifier is None:
            return
        sub = {k: v for k, v in state.items() if k.startswith(("head.", "tail."))}
        self.classifier.load_state_dict(sub)

    def split_elements(self) -> int:
        """The source is the image: ``C·H·W``."""
        return self.ctx_input_elements()

    def channel_uses(self) -> int | None:
        """Complex symbols per sample: ``round(cbr · C·H·W)`` for the code, plus the transmitted
        skips' ``ceil(reals / 2)`` share (see :mod:`semcom.nn.unet`)."""
        return self.layout.channel_uses

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            depth=self.params.depth,
            cbam=self.params.cbam,
            code_channels=self.layout.code_channels,
            code_channel_uses=self.layout.code_channel_uses,
            **self.codec_costs(),
        )
        return out

    @torch.no_grad()
    def codec_costs(self) -> dict[str, int]:
        """Cost of the codec alone (no task network), per image: ``encoder_flops`` /
        ``codec_flops`` (encoder + decoder; ``torch.utils.flop_counter``, 2 FLOPs per MAC),
        ``encoder_params`` / ``codec_params`` and ``encoder_bytes`` / ``codec_bytes`` (float32
        parameters and buffers, bytes)."""
        from torch.utils.flop_counter import FlopCounterMode

        x = torch.rand(1, self.ctx.in_channels, *self.ctx.image_size)
        snr = torch.zeros(1)
        was_training = self.training
        self.eval()
        try:
            with FlopCounterMode(display=False) as enc:
                reals = self.encoder(x, snr)
            with FlopCounterMode(display=False) as dec:
                self.decoder(reals, snr)
        finally:
            self.train(was_training)

        def size(*modules: nn.Module) -> tuple[int, int]:
            params = sum(p.numel() for m in modules for p in m.parameters())
            nbytes = sum(
                t.numel() * t.element_size()
                for m in modules
                for t in [*m.parameters(), *m.buffers()]
            )
            return params, nbytes

        enc_params, enc_bytes = size(self.encoder)
        codec_params, codec_bytes = size(self.encoder, self.decoder)
        enc_flops = int(enc.get_total_flops())
        return {
            "encoder_flops": enc_flops,
            "codec_flops": enc_flops + int(dec.get_total_flops()),
            "encoder_params": enc_params,
            "codec_params": codec_params,
            "encoder_bytes": enc_bytes,
            "codec_bytes": codec_bytes,
        }

    # --- training graph ------------------------------------------------------------------------
    def _snr(self, snr_db: float | torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """Per-sample SNR ``[B]`` (dB): the given one, or drawn from ``train_snr_db``."""
        if snr_db is not None:
            return as_per_sample_snr(snr_db, len(x), device=x.device)
        lo, hi = self.params.train_snr_db
        return lo + (hi - lo) * sharded_batch.rand((len(x),), device=x.device)

    def _task(self, decoded: torch.Tensor) -> torch.Tensor:
        return decoded if self.classifier is None else self.classifier(decoded)

    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        self.check_path(path)
        if path == "bypass":
            if self.classifier is not None:
                return SystemOutput(self.classifier(x))
            return SystemOutput(self.codec(x, None))  # noiseless link
        snr = self._snr(snr_db, x)
        decoded = self.codec(x, snr)
        if self.classifier is None:
            return SystemOutput(decoded)
        return SystemOutput(self.classifier(decoded), extras={"feature": x, "feature_hat": decoded})

    # --- the real thing: analog ----------------------------------------------------------------
    @torch.no_grad()
    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Device side: images ``[B, C, H, W]`` → unit-power complex symbols
        ``[B, channel_uses()]``; ``snr_db`` ``[B]`` (dB) only matters with ``snr_adaptive``."""
        snr = as_per_sample_snr(snr_db, len(x), device=x.device)
        return JSCCLink.encode(self.encoder(x, snr))

    @torch.no_grad()
    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side: received (equalised) symbols ``[B, channel_uses()]`` → logits ``[B, K]``
        (classification) or ``[B, K, H, W]`` (segmentation)."""
        b = len(received)
        reals = JSCCLink.decode(received, (b, self.layout.reals)).to(torch.float32)
        snr = as_per_sample_snr(snr_db, b, device=received.device)
        return self._task(self.decoder(reals, snr))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, snr_db: float | torch.Tensor) -> torch.Tensor:
        """The decoder's output through the training channel at ``snr_db`` (float or ``[B]``,
        dB): the reconstructed image ``[B, C, H, W]`` (or segmentation logits)."""
        snr = as_per_sample_snr(snr_db, len(x), device=x.device)
        return self.codec(x, snr)


@register_system("unet")
class UNetBaseline(LSSC):
    """``unet``: the paper's baseline, the standard 4-stage UNet codec without CBAM; otherwise as
    ``lssc`` (same link, task network and parameters)."""

    Params = UNetBaselineParams
    params: UNetBaselineParams
    contract_params = ({"cbr": 0.25, "width": 4},)
