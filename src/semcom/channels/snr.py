"""SNR conventions of :mod:`semcom.channels` (written once here, used by every channel).

* **Complex baseband.** A transmission is a complex tensor ``z`` of shape ``[B, n]``: ``B`` samples
  (images, clips, ...) of ``n`` complex channel symbols each.
* **Unit symbol energy.** After :func:`~semcom.channels.normalize_power` each *sample* has mean
  ``|z|^2 = 1`` per complex symbol (the average over its ``n`` symbols; single symbols vary).
* **Noise.** ``snr_db`` sets ``N0 = 10^(-snr_db / 10)``, the noise energy per complex symbol
  relative to the unit symbol energy: noise is circularly-symmetric ``CN(0, N0)``, i.e. real and
  imaginary parts are independent ``N(0, N0 / 2)``. This is Sionna's convention
  (``sionna.phy.channel.AWGN`` takes ``no`` per complex dimension, ``no / 2`` per real one), so
  ``SNR = Es / N0`` with ``Es = 1``.
* **Per-sample SNR.** ``snr_db`` is a Python ``float`` (same SNR for every sample), a 0-d tensor,
  or a tensor ``[B]`` (one SNR per sample). A tensor with ``k`` dimensions is broadcast against the
  symbols by appending singleton dimensions on the right (``[B] -> [B, 1]``), as Sionna does.
* **Fading.** With a channel gain ``h`` (``E|h|^2 = 1``), the instantaneous SNR of a symbol is
  ``|h|^2 / N0``; see :mod:`semcom.channels.fading`.

Units: ``*_db`` values are decibels (``10 log10`` of a power ratio); ``N0`` and linear SNRs are
dimensionless power ratios.
"""

from __future__ import annotations

import torch

Number = float | int | torch.Tensor


def _as_float_tensor(x: Number) -> torch.Tensor:
    """``x`` as a floating tensor (float32 unless it already is a floating tensor)."""
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.float32)


def db_to_linear(x_db: Number) -> torch.Tensor:
    """Power ratio in dB → linear: ``10^(x_db / 10)`` (same shape as ``x_db``).

    >>> db_to_linear(20.0)
    tensor(100.)
    """
    return torch.pow(10.0, _as_float_tensor(x_db) / 10.0)


def linear_to_db(x: Number) -> torch.Tensor:
    """Linear power ratio → dB: ``10 log10(x)`` (same shape as ``x``; ``x = 0`` gives ``-inf``).

    >>> linear_to_db(torch.tensor([1.0, 10.0, 0.5])).round(decimals=3)
    tensor([ 0.0000, 10.0000, -3.0100])
    """
    return 10.0 * torch.log10(_as_float_tensor(x))


def snr_db_to_n0(snr_db: Number) -> torch.Tensor:
    """Noise energy per complex symbol ``N0 = 10^(-snr_db / 10)`` for unit-energy symbols.

    Returns a float tensor with the shape of ``snr_db`` (0-d for a Python number).

    >>> snr_db_to_n0(10.0)
    tensor(0.1000)
    >>> snr_db_to_n0(torch.tensor([0.0, 20.0]))
    tensor([1.0000, 0.0100])
    """
    return db_to_linear(-_as_float_tensor(snr_db))


def n0_to_snr_db(n0: Number) -> torch.Tensor:
    """Inverse of :func:`snr_db_to_n0`: ``snr_db = -10 log10(N0)``.

    >>> n0_to_snr_db(0.01)
    tensor(20.)
    """
    return -linear_to_db(n0)


def as_per_sample_snr(
    snr_db: Number, batch: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """``snr_db`` (float, 0-d or ``[B]`` tensor) as a float32 tensor ``[batch]`` in dB.

    Raises ``ValueError`` if a 1-d ``snr_db`` has neither 1 nor ``batch`` entries, or more dims.

    >>> as_per_sample_snr(5.0, 3)
    tensor([5., 5., 5.])
    """
    t = torch.as_tensor(snr_db, dtype=torch.float32, device=device)
    if t.dim() == 0 or (t.dim() == 1 and t.shape[0] == 1):
        return t.reshape(1).expand(batch).clone()
    if t.dim() == 1 and t.shape[0] == batch:
        return t
    raise ValueError(
        f"snr_db must be a number or a tensor of shape [{batch}] (one per sample), "
        f"got shape {list(t.shape)}"
    )


def noise_variance(snr_db: Number, like: torch.Tensor) -> torch.Tensor:
    """``N0`` for ``snr_db``, shaped to broadcast against the symbols ``like`` ``[B, ...]``.

    A 0-d result is returned as is; a ``k``-dimensional ``snr_db`` gets ``like.dim() - k`` trailing
    singleton dimensions (``[B] -> [B, 1]`` for ``like`` of shape ``[B, n]``). The result has the
    real dtype and the device of ``like``. Raises ``ValueError`` if the leading dimensions do not
    broadcast (e.g. ``[3]`` SNRs for a batch of 4).

    >>> noise_variance(torch.tensor([0.0, 10.0]), torch.zeros(2, 5, dtype=torch.complex64)).shape
    torch.Size([2, 1])
    """
    real_dtype = like.real.dtype if like.is_complex() else like.dtype
    if not real_dtype.is_floating_point:
        real_dtype = torch.float32
    n0 = snr_db_to_n0(snr_db).to(device=like.device, dtype=real_dtype)
    if n0.dim() == 0:
        return n0
    if n0.dim() > like.dim():
        raise ValueError(
            f"snr_db has shape {list(n0.shape)}, more dimensions than the symbols "
            f"{list(like.shape)}"
        )
    n0 = n0.reshape(*n0.shape, *([1] * (like.dim() - n0.dim())))
    try:
        torch.broadcast_shapes(n0.shape, like.shape)
    except RuntimeError:
        raise ValueError(
            f"snr_db of shape {list(snr_db.shape) if isinstance(snr_db, torch.Tensor) else []} "
            f"does not broadcast over symbols of shape {list(like.shape)} "
            "(use a number or one SNR per sample, shape [B])"
        ) from None
    return n0
