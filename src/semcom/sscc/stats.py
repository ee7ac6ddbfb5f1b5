"""Per-SNR link statistics of the SSCC systems, accumulated over ``transmit`` calls.

Each ``transmit`` of an SSCC system produces per-sample tensors (``[B]``):

* ``sent`` (bool): the source fitted the budget at some quality and was transmitted;
* ``intact`` (bool): the source bytes arrived exactly (every codeword that held them passed its
  CRC; always equal to ``sent`` for the error-free capacity bound);
* ``valid`` (bool): the edge produced a real classification. ``False`` means the sample got no
  image (not sent, or dropped after a CRC failure with ``on_error: drop``): its output row is
  all zeros and it must be **counted as wrong**;
* ``quality`` (int, 0 if not sent), ``source_bytes`` (int, 0 if not sent);
* ``blocks`` / ``block_errors`` (int): codewords decoded / failing their CRC (``sscc`` only);
* ``bp_iterations`` (float): mean BP iterations over the sample's codewords (``sscc`` only);
* ``decode_failed`` (bool): zero-filled bytes did not decode, the edge saw mid-grey (``sscc``);
* ``capacity_bits`` (float): the ideal bits of the sample (``capacity`` only).

:class:`StatsLog` keeps running totals per SNR value (dB) and the concatenated ``valid`` masks,
so after an evaluation sweep ``system.stats.summary()`` gives, per SNR, ``samples``,
``sent_rate``, ``delivered_rate`` (intact among all samples), ``valid_rate``, ``bler`` (block
error rate over the codewords of sent samples), ``mean_quality`` and ``mean_source_bytes``
(over sent samples), ``mean_bp_iterations`` and ``mean_capacity_bits`` where they apply, and
``system.stats.valid(snr)`` the per-sample mask ``[N]`` in transmit order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

_SUMS = ("sent", "intact", "valid", "quality", "source_bytes", "blocks", "block_errors",
         "bp_iterations", "decode_failed", "capacity_bits")  # fmt: skip


class StatsLog:
    """Running per-SNR totals of the per-sample statistics (module docstring)."""

    def __init__(self) -> None:
        self._totals: dict[float, dict[str, float]] = {}
        self._valid: dict[float, list[torch.Tensor]] = defaultdict(list)

    def reset(self) -> None:
        """Forget everything."""
        self._totals.clear()
        self._valid.clear()

    def add(self, snr_db: torch.Tensor, per_sample: dict[str, torch.Tensor]) -> None:
        """Add one batch: ``snr_db`` ``[B]`` (dB) and per-sample tensors ``[B]`` by name."""
        snr = snr_db.detach().cpu().double().reshape(-1)
        for value in torch.unique(snr).tolist():
            rows = snr == value
            key = float(value)
            tot = self._totals.setdefault(key, defaultdict(float))
            tot["samples"] += int(rows.sum())
            sent = per_sample["sent"][rows]
            for name in _SUMS:
                if name not in per_sample:
                    continue
                t = per_sample[name][rows].double()
                if name in ("quality", "source_bytes", "bp_iterations"):
                    t = t[sent]  # averaged over sent samples
                    tot[f"n_{name}"] += len(t)
                tot[name] += float(t.sum())
            self._valid[key].append(per_sample["valid"][rows].cpu())

    def valid(self, snr_db: float) -> torch.Tensor:
        """Concatenated ``valid`` masks bool ``[N]`` at ``snr_db`` (transmit order)."""
        parts = self._valid.get(float(snr_db), [])
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.bool)

    def summary(self) -> dict[float, dict[str, Any]]:
        """Per SNR (dB): rates and means (module docstring); ``None`` where undefined."""
        out: dict[float, dict[str, Any]] = {}
        for snr, tot in sorted(self._totals.items()):
            n = tot["samples"]

            def mean(name: str, tot: dict[str, float] = tot) -> float | None:
                count = tot.get(f"n_{name}", 0.0)
                return tot[name] / count if count else None

            row: dict[str, Any] = {
                "samples": int(n),
                "sent_rate": tot["sent"] / n if n else None,
                "delivered_rate": tot["intact"] / n if n else None,
                "valid_rate": tot["valid"] / n if n else None,
                "mean_quality": mean("quality"),
                "mean_source_bytes": mean("source_bytes"),
            }
            if "blocks" in tot:
                row["bler"] = tot["block_errors"] / tot["blocks"] if tot["blocks"] else None
                row["mean_bp_iterations"] = mean("bp_iterations")
                row["decode_failed_rate"] = tot["decode_failed"] / n if n else None
            if "capacity_bits" in tot:
                row["mean_capacity_bits"] = tot["capacity_bits"] / n if n else None
            out[snr] = row
        return out


def batch_summary(per_sample: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Scalar summary of one batch's per-sample tensors (as :meth:`StatsLog.summary` rows)."""
    log = StatsLog()
    log.add(torch.zeros(len(per_sample["sent"])), per_sample)
    return log.summary()[0.0]
