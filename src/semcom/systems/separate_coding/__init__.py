"""Separate source–channel coding baselines: ``sscc`` (a real digital PHY) and ``capacity``.

Both send the *image* (JPEG or WebP at the highest quality of the ladder ``1..95`` that fits the
sample's byte budget) and run the **whole** shared backbone at the edge on the decoded image,
exactly like the offloading baselines (roles ``head`` / ``tail``, nothing on the device, zero
device FLOPs; the PHY's simulation is hidden from the FLOP counter). The channel-use budget is
``n_cu = round(cbr · C · H · W)`` complex symbols per sample, so they compare with analog (JSCC)
systems at the same bandwidth ratio. Their transport is a simulated digital PHY
(:class:`~semcom.transports.PHYTransport`): what the edge decodes depends on the SNR, so
evaluation calls :meth:`phy_transmit` at every SNR.

``sscc`` — 5G LDPC + CRC24A + Gray QAM with Sionna (:mod:`semcom.sscc`): a fixed MCS
(``qam`` × ``ldpc_rate``) lays out ``C`` codewords in ``n_cu`` symbols (unused ones are zero); the
receiver demaps with the per-symbol noise variance (``N0``, or ``N0 / |h|^2`` after zero forcing
on fading channels with ``csi: perfect``), runs ``bp_iterations`` of BP (CRC-aided early stop)
and checks each codeword's CRC. A sample whose image bytes are hit by a failed CRC is handled per
``on_error``: ``drop`` — no image; ``zero-fill`` — the lost bytes are zeros and the codec tries
(mid-grey if it cannot decode).

``capacity`` — the bound: an ideal error-free code carrying ``n_cu · log2(1 + SNR |h|^2)`` bits
(per-sample gain on block fading, averaged over symbols on fast fading), no header or CRC.

**Samples without an image** (nothing fits the budget, or dropped) get an all-zero logit row
(uniform), which ``argmax`` would read as class 0; they must be counted wrong, so every
:meth:`phy_transmit` returns, with the logits, per-sample tensors ``[B]`` (``sent``, ``intact``,
``valid``, ``quality``, ``source_bytes``, ...; :mod:`semcom.sscc.stats`) in a
:class:`~semcom.transports.PHYResult`: the transport scores ``valid = False`` as an empty
prediction and keeps the per-SNR statistics (``bler``, ``sent_rate``, ``delivered_rate``, ...).

``phy_encode`` / ``phy_decode`` also work on their own (FLOP counting, timing): the decoder
then assumes AWGN at ``snr_db`` and that every sample was sent. ``phy_encode`` does not depend
on the SNR for ``sscc`` (the MCS is fixed per variant); for ``capacity`` it sizes the image for an
AWGN channel at ``snr_db`` and returns the bytes in a genie container
(:func:`semcom.sscc.capacity.pack_bytes`), not a waveform.

Layout: :mod:`.params` (parameters), :mod:`.baseline` (the shared body), :mod:`.links` (``sscc``
and ``capacity`` on images), :mod:`.features` (``source: features``: a learned feature code on the
same links; :meth:`~.baseline._SourceChannelBaseline.variant_class` picks it under the same name).
"""

from semcom.systems.registry import register_system
from semcom.systems.separate_coding.features import (
    FeatureCapacity,
    FeatureSourceCoder,
    FeatureSSCC,
)
from semcom.systems.separate_coding.links import SSCC, CapacityBound
from semcom.systems.separate_coding.params import CapacityParams, SSCCParams

register_system("sscc")(SSCC)
register_system("capacity")(CapacityBound)

__all__ = [
    "SSCC",
    "CapacityBound",
    "CapacityParams",
    "FeatureCapacity",
    "FeatureSSCC",
    "FeatureSourceCoder",
    "SSCCParams",
]
