"""The two links of separate coding: ``sscc`` (CRC + 5G LDPC + QAM) and ``capacity`` (ideal)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from semcom.channels import as_per_sample_snr, snr_db_to_n0
from semcom.sscc.capacity import capacity_bits, genie_capacity_bytes, pack_bytes, unpack_bytes
from semcom.sscc.framing import deframe, frame_batch
from semcom.sscc.layout import BlockLayout, plan_layout
from semcom.sscc.link import power_gains, receive
from semcom.sscc.mcs import MCS
from semcom.sscc.phy import DigitalPHY
from semcom.sscc.source import SourceChoice
from semcom.systems.base import BuildContext
from semcom.systems.separate_coding.baseline import _SourceChannelBaseline
from semcom.systems.separate_coding.params import CapacityParams, SSCCParams
from semcom.transports import PHYResult


class SSCC(_SourceChannelBaseline):
    """JPEG/WebP over CRC + 5G LDPC + QAM (module docstring). Input ``[B, C, H, W]`` in
    ``[0, 1]`` → logits ``[B, K]`` through :meth:`phy_transmit`."""

    Params = SSCCParams
    params: SSCCParams
    contract_params = (
        {"source": "webp", "qam": 16, "ldpc_rate": 0.5, "cbr": 1.0, "bp_iterations": 4},
        {"source": "features", "qam": 4, "ldpc_rate": 0.5, "cbr": 0.25, "bp_iterations": 4},
    )

    def __init__(self, params: SSCCParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        self.mcs = MCS(params.qam, params.ldpc_rate)
        self.layout: BlockLayout = plan_layout(self.n_cu, self.mcs)
        self.phy = DigitalPHY(self.layout, bp_iterations=params.bp_iterations)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[SourceChoice]]:
        budget = self.layout.source_bytes
        choices = self.source.encode(x, [budget] * len(x))
        symbols = self.phy.modulate(frame_batch([c.data for c in choices], self.layout))
        sent = torch.tensor([c.sent for c in choices], dtype=torch.bool)
        symbols[~sent] = 0  # nothing is transmitted for a sample that does not fit
        return symbols, choices

    @torch.no_grad()
    def phy_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Device side: QAM symbols complex64 ``[B, n_cu]`` (unit average energy per used symbol;
        zeros after the codewords and for samples whose image does not fit). ``snr_db`` is
        ignored: the MCS is fixed."""
        return self._encode(x)[0]

    def _decode(
        self, received: torch.Tensor, noise_var: torch.Tensor, sent: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Receiver on rows ``sent`` (bool ``[B]``) of ``received`` ``[B, n_cu]`` with per-symbol
        noise variance ``[B, 1]`` / ``[B, n_cu]`` → logits ``[B, K]`` and per-sample stats."""
        b = len(received)
        lay = self.layout
        if lay.num_blocks == 0:  # nothing can be carried: nothing was sent
            sent = torch.zeros(b, dtype=torch.bool)
        rows = torch.nonzero(sent).flatten()
        nv = noise_var.expand(b, -1) if noise_var.shape[-1] == 1 else noise_var
        result = self.phy.demodulate(received[rows].cpu(), nv[rows].cpu())
        images: list[torch.Tensor | None] = [None] * b
        intact = torch.zeros(b, dtype=torch.bool)
        failed = torch.zeros(b, dtype=torch.bool)
        for j, i in enumerate(rows.tolist()):
            out = deframe(result.payload[j], result.block_ok[j].numpy(), lay, self.params.on_error)
            intact[i] = out.intact
            if out.data is None:
                continue
            img = self.source.decode(out.data)
            if img is None:
                failed[i] = True
                img = self.source.placeholder()
            images[i] = img
        logits, valid = self._classify(images)
        blocks = torch.zeros(b, dtype=torch.int64)
        errors = torch.zeros(b, dtype=torch.int64)
        iters = torch.zeros(b, dtype=torch.float32)
        blocks[rows] = lay.num_blocks
        errors[rows] = (~result.block_ok).sum(1)
        if lay.num_blocks:
            iters[rows] = result.iterations.float().mean(1)
        stats = {
            "intact": intact,
            "valid": valid,
            "blocks": blocks,
            "block_errors": errors,
            "bp_iterations": iters,
            "decode_failed": failed,
        }
        return logits, stats

    @torch.no_grad()
    def phy_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side on its own: received symbols ``[B, n_cu]`` → logits ``[B, K]``, assuming an
        AWGN channel at ``snr_db`` (noise variance ``N0``) and that every sample was sent."""
        b = len(received)
        n0 = snr_db_to_n0(as_per_sample_snr(snr_db, b)).reshape(b, 1)
        return self._decode(received, n0, torch.ones(b, dtype=torch.bool))[0]

    @torch.no_grad()
    def phy_transmit(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> PHYResult:
        """Image → bytes → PHY → ``channel`` (AWGN, or fading with ``csi: perfect``; its gains
        give the demapper's noise variance ``N0 / |h|^2``) → PHY → bytes → image → logits
        ``[B, K]`` and per-sample statistics; rows with ``valid = False`` are zero and count as
        empty predictions."""
        snr = as_per_sample_snr(snr_db, len(x))
        symbols, choices = self._encode(x)
        y, noise_var, _ = receive(channel, symbols, snr, generator)
        per_sample = self._choice_tensors(choices)
        logits, decoded = self._decode(y, noise_var, per_sample["sent"])
        return PHYResult(logits, {**per_sample, **decoded})


class CapacityBound(_SourceChannelBaseline):
    """JPEG/WebP sized for an ideal code at capacity (module docstring). Input ``[B, C, H, W]``
    in ``[0, 1]`` → logits ``[B, K]`` through :meth:`phy_transmit`."""

    Params = CapacityParams
    params: CapacityParams
    contract_params = ({"source": "jpeg", "cbr": 1.0}, {"source": "features", "cbr": 0.25})

    def budgets(self, bits: torch.Tensor) -> list[int]:
        """Source budgets in bytes ``floor(bits / 8)`` (capped by the genie container)."""
        cap = genie_capacity_bytes(self.n_cu)
        return [min(cap, int(v)) for v in np.floor(bits.double().cpu().numpy() / 8.0)]

    def _encode(self, x: torch.Tensor, bits: torch.Tensor) -> tuple[torch.Tensor, list]:
        choices = self.source.encode(x, self.budgets(bits))
        return pack_bytes([c.data for c in choices], self.n_cu), choices

    @torch.no_grad()
    def phy_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Genie container ``[B, n_cu]`` of the image coded for an AWGN link at ``snr_db``
        ``[B]`` (``n_cu · log2(1 + SNR)`` bits); not a waveform, never put it through noise."""
        snr = as_per_sample_snr(snr_db, len(x))
        return self._encode(x, capacity_bits(self.n_cu, snr))[0]

    def _decode(self, container: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = [
            None if data is None else self.source.decode(data) for data in unpack_bytes(container)
        ]
        return self._classify(images)

    @torch.no_grad()
    def phy_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side: genie container ``[B, n_cu]`` → logits ``[B, K]`` (error-free)."""
        return self._decode(received)[0]

    @torch.no_grad()
    def phy_transmit(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> PHYResult:
        """Draw each sample's gains from ``channel`` (AWGN: none; fading needs ``csi:
        perfect``), size the image for ``n_cu · mean log2(1 + SNR |h|^2)`` bits and deliver it
        error-free → logits ``[B, K]`` and per-sample statistics."""
        snr = as_per_sample_snr(snr_db, len(x))
        gain = power_gains(channel, len(x), self.n_cu, snr, generator)
        bits = capacity_bits(self.n_cu, snr, gain)
        container, choices = self._encode(x, bits)
        logits, valid = self._decode(container)
        per_sample = self._choice_tensors(choices)
        per_sample.update(intact=per_sample["sent"].clone(), valid=valid, capacity_bits=bits)
        return PHYResult(logits, per_sample)
