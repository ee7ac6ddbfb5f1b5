"""Separate coding of a learned feature: ``sscc`` / ``capacity`` with ``source: features``.

The image coders (JPEG, WebP) send pixels and run the whole backbone at the edge. With
``source: features`` the device runs the backbone head and a :class:`~semcom.nn.feature_codec.
FeatureCodec` (``channels`` planes at stride ``downsample``, ``bits``-bit quantiser, factorised
entropy model, trained with the stages' ``task`` + λ·``rate`` (+ ``feature``) losses on the roles
``encoder``, ``entropy``, ``decoder``); the coded bytes — the longest plane prefix that fits the
MCS's byte budget — cross the same CRC + 5G LDPC + QAM link (``sscc``) or the ideal code
(``capacity``), and the edge runs the feature decoder and the backbone tail. Planes that did not
fit, or whose bytes were lost, are filled with :data:`~semcom.nn.feature_codec.MISSING_FILL`.

The classes keep the registry names ``sscc`` and ``capacity`` (records say ``source:
features``); :meth:`~.baseline._SourceChannelBaseline.variant_class` picks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
from torch import nn

from semcom.nn.feature_codec import FeatureCodec
from semcom.sscc.source import SourceChoice
from semcom.systems.base import BuildContext, SystemOutput
from semcom.systems.registry import SystemConfigError
from semcom.systems.separate_coding.baseline import FEATURE_VARIANTS, _SourceChannelBaseline
from semcom.systems.separate_coding.links import SSCC, CapacityBound
from semcom.systems.separate_coding.params import CapacityParams

#: defaults of the feature code when a config leaves them out.
DEFAULT_CHANNELS, DEFAULT_BITS, DEFAULT_DOWNSAMPLE = 8, 2, 2


class FeatureSourceCoder:
    """The :class:`~semcom.sscc.source.SourceCoder` of a feature code: inputs → head → codec
    symbols → per sample the longest plane prefix within the budget (``quality`` = planes sent).
    ``decode`` gives symbols int32 ``code_shape`` with ``-1`` for missing planes."""

    edge_input: ClassVar[str] = "feature"

    def __init__(self, head: nn.Module, codec: FeatureCodec, code_shape: tuple[int, int, int]):
        self.head, self.codec, self.code_shape = head, codec, code_shape

    def encode(self, x: torch.Tensor, budgets: Sequence[int]) -> list[SourceChoice]:
        if len(budgets) != len(x):
            raise ValueError(f"{len(budgets)} budgets for {len(x)} inputs")
        with torch.no_grad():
            symbols = self.codec.symbols(self.head(x))
        out = []
        for sym, budget in zip(symbols, budgets, strict=True):
            data, planes = self.codec.fit_prefix(sym, int(budget))
            out.append(SourceChoice(data, planes))
        return out

    def decode(self, data: bytes) -> torch.Tensor | None:
        return self.codec.parse_prefix(data, self.code_shape)

    def placeholder(self) -> torch.Tensor:
        """No plane received: ``-1`` everywhere."""
        return torch.full(self.code_shape, -1, dtype=torch.int32)


# a mixin, placed before the baseline class (SSCC, CapacityBound) among the bases; the type checker
# sees it as a subclass of the baselines' common base
if TYPE_CHECKING:
    _MixinBase = _SourceChannelBaseline
else:
    _MixinBase = object


class _FeatureSource(_MixinBase):
    """What ``source: features`` changes in the separate-coding baselines (module docstring)."""

    has_rate: ClassVar[bool] = True
    paths: ClassVar[tuple[str, ...]] = ("full", "bypass")

    def __init__(self, params: CapacityParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        if len(self.feature_shape) != 3:
            raise SystemConfigError(
                f"{self.name} with source: features codes a [C, H, W] feature; {ctx.backbone} "
                f"after {ctx.split_after} gives {list(self.feature_shape)}"
            )
        width, h, w = self.feature_shape
        s = params.downsample or DEFAULT_DOWNSAMPLE
        if h % s or w % s:
            raise SystemConfigError(
                f"{self.name}.downsample: {s} does not divide the split's {h}x{w} positions "
                "(allowed: 1, 2, 4 dividing them)"
            )
        self.codec = FeatureCodec(
            width, params.channels or DEFAULT_CHANNELS, params.bits or DEFAULT_BITS, s
        )
        self.source = FeatureSourceCoder(self.head, self.codec, self.codec.code_shape((h, w)))

    def _build_source(self) -> Any:
        return None  # built in __init__, once the codec exists

    def coder_roles(self) -> dict[str, nn.Module]:
        return {
            "encoder": self.codec.encoder,
            "entropy": self.codec.entropy,
            "decoder": self.codec.decoder,
        }

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.codec.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.codec.decoder, self.tail]

    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        """``full``: head's feature → feature code (noisy-quantisation rate, straight-through
        reconstruction, random plane prefixes) → tail. Logits ``[B, K]``."""
        feature_hat, rate = self.codec(feature)
        return SystemOutput(
            self.tail(feature_hat), rate, {"feature": feature, "feature_hat": feature_hat}
        )

    def infer_local(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.head(x))

    def prepare_for_coding(self) -> None:
        self.codec.entropy.update()

    def _classify(self, decoded: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoded symbols (``None`` = nothing usable) → logits ``[B, K]`` (zero rows for
        ``None``) and the ``valid`` mask ``[B]``."""
        valid = torch.tensor([d is not None for d in decoded], dtype=torch.bool)
        empty = self.source.placeholder()
        symbols = torch.stack([empty if d is None else d for d in decoded])
        logits = self.tail(self.codec.reconstruct(symbols))
        return logits.masked_fill(~valid[:, None], 0.0), valid

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            channels=self.codec.channels,
            bits=self.codec.bits,
            downsample=self.codec.downsample,
            code_shape=list(cast(FeatureSourceCoder, self.source).code_shape),
        )
        return d


class FeatureSSCC(_FeatureSource, SSCC):
    """``sscc`` with ``source: features``: the feature code over CRC + 5G LDPC + QAM."""


class FeatureCapacity(_FeatureSource, CapacityBound):
    """``capacity`` with ``source: features``: the feature code at the ideal rate."""


FEATURE_VARIANTS[SSCC] = FeatureSSCC
FEATURE_VARIANTS[CapacityBound] = FeatureCapacity
