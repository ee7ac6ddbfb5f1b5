"""Channel models for semantic communication: AWGN, flat fading, Gauss–Markov, erasures.

Conventions (:mod:`semcom.channels.snr`): complex baseband symbols ``z`` ``[B, n]``; after
:func:`normalize_power` each sample has unit mean energy per complex symbol; ``snr_db`` (a float
or one value per sample, ``[B]``) sets ``N0 = 10^(-snr_db / 10)`` and the noise is ``CN(0, N0)``
(real and imaginary parts each variance ``N0 / 2``) — Sionna's convention. Channels are
``nn.Module`` s without parameters, differentiable w.r.t. their input, and take an optional
``torch.Generator``. Build them from config with :func:`build_channel`.
"""

from semcom.channels.apply import apply_channel
from semcom.channels.awgn import AWGNChannel
from semcom.channels.base import Channel
from semcom.channels.complex_utils import (
    complex_normal,
    complex_to_real,
    mean_energy,
    normalize_power,
    real_to_complex,
)
from semcom.channels.erasure import (
    BitErasureChannel,
    PacketErasureChannel,
    num_packets,
    payload_intact_probability,
)
from semcom.channels.factory import CHANNELS, build_channel, channel_label, channel_parameters
from semcom.channels.fading import FadingChannel, draw_fading, equalize
from semcom.channels.gauss_markov import (
    GaussMarkovFadingChannel,
    gauss_markov_process,
    jakes_correlation,
)
from semcom.channels.snr import (
    as_per_sample_snr,
    db_to_linear,
    linear_to_db,
    n0_to_snr_db,
    noise_variance,
    snr_db_to_n0,
)

#: DESIGN.md spellings of two class names.
GaussMarkovFading = GaussMarkovFadingChannel
PacketErasure = PacketErasureChannel

__all__ = [
    "CHANNELS",
    "AWGNChannel",
    "BitErasureChannel",
    "Channel",
    "FadingChannel",
    "GaussMarkovFading",
    "GaussMarkovFadingChannel",
    "PacketErasure",
    "PacketErasureChannel",
    "apply_channel",
    "as_per_sample_snr",
    "build_channel",
    "channel_label",
    "channel_parameters",
    "complex_normal",
    "complex_to_real",
    "db_to_linear",
    "draw_fading",
    "equalize",
    "gauss_markov_process",
    "jakes_correlation",
    "linear_to_db",
    "mean_energy",
    "n0_to_snr_db",
    "noise_variance",
    "normalize_power",
    "num_packets",
    "payload_intact_probability",
    "real_to_complex",
    "snr_db_to_n0",
]
