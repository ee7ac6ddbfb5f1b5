"""A deep-JSCC encoder and decoder for a convolutional feature map (FFMNet's split feature).

:class:`FeatureJSCCEncoder`: feature ``[B, F, h, w]`` → 3×3 conv + BN + PReLU → ``log2(downsample)``
stride-2 3×3 convs (+ BN + PReLU) → (optional) SNR-adaptive channel gate → 3×3 conv to ``channels``
planes: the real code ``[B, channels, h / downsample, w / downsample]``, which
:class:`~semcom.nn.jscc.JSCCLink` pairs into complex symbols and power-normalises per sample.

:class:`FeatureJSCCDecoder` mirrors it: received reals → 3×3 conv + BN + PReLU → gate →
``log2(downsample)`` 2×2 transposed convs at stride 2 (+ BN + PReLU) → 3×3 conv + BN + ReLU: the
feature ``[B, F, h, w]`` (non-negative, as a ResNet stage's output is).

The gates (:class:`~semcom.nn.snr_adaptive.SNRAdaptiveGate`) let one model serve a range of SNRs:
both sides are told the SNR ``[B]`` (dB) of each sample.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.nn.snr_adaptive import SNRAdaptiveGate


def _halvings(downsample: int) -> int:
    steps = int(math.log2(downsample)) if downsample >= 1 else -1
    if steps < 0 or 2**steps != downsample:
        raise ValueError(f"downsample must be a power of two, got {downsample}")
    return steps


def _conv_bn_prelu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.PReLU(c_out),
    ]


class FeatureJSCCEncoder(nn.Module):
    """Feature ``[B, F, h, w]`` and SNR ``[B]`` (dB) → code ``[B, channels, h/d, w/d]`` (module
    docstring)."""

    def __init__(
        self, width: int, channels: int, downsample: int = 2, snr_adaptive: bool = True
    ) -> None:
        super().__init__()
        layers = _conv_bn_prelu(width, width)
        for _ in range(_halvings(downsample)):
            layers += _conv_bn_prelu(width, width, stride=2)
        self.body = nn.Sequential(*layers)
        self.gate = SNRAdaptiveGate(width) if snr_adaptive else None
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, feature: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        y = self.body(feature)
        if self.gate is not None:
            y = self.gate(y, snr_db)
        return self.out(y)


class FeatureJSCCDecoder(nn.Module):
    """Received code ``[B, channels, h/d, w/d]`` and SNR ``[B]`` (dB) → feature ``[B, F, h, w]``
    (module docstring)."""

    def __init__(
        self, width: int, channels: int, downsample: int = 2, snr_adaptive: bool = True
    ) -> None:
        super().__init__()
        self.inp = nn.Sequential(*_conv_bn_prelu(channels, width))
        self.gate = SNRAdaptiveGate(width) if snr_adaptive else None
        layers: list[nn.Module] = []
        for _ in range(_halvings(downsample)):
            layers += [
                nn.ConvTranspose2d(width, width, 2, stride=2, bias=False),
                nn.BatchNorm2d(width),
                nn.PReLU(width),
            ]
        layers += [
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        y = self.inp(code)
        if self.gate is not None:
            y = self.gate(y, snr_db)
        return self.body(y)
