"""Time-varying Rayleigh fading: a first-order Gauss–Markov (AR(1)) process over slots.

Per sample, the gain of slot ``t`` is::

    h_0 ~ CN(0, 1),     h_t = rho h_{t-1} + sqrt(1 - rho^2) w_t,     w_t ~ CN(0, 1) i.i.d.

so the process is stationary (``h_t ~ CN(0, 1)`` for every ``t``, ``|h_t|^2 ~ Exp(1)``) with
autocorrelation ``E[h_{t+k} conj(h_t)] = rho^k``. The one-slot correlation follows the
Jakes/Clarke spectrum: ``rho = J0(2 pi f_D T)`` with maximum Doppler shift ``f_D`` (Hz) and slot
duration ``T`` (s). ``J0`` turns negative for ``2 pi f_D T > 2.405``: the AR(1) model then
alternates sign and only matches Jakes at lag 1 (it is an approximation at all lags > 1 anyway).

**Symbols → slots** in :meth:`GaussMarkovFadingChannel.forward` (``z`` of shape ``[B, n]``):

* ``symbols_per_slot=S``: symbol ``i`` lies in slot ``i // S`` (``ceil(n / S)`` slots; a slot is a
  fixed air time, so longer transmissions span more slots);
* ``num_slots=L``: the ``n`` symbols are split evenly into ``L`` contiguous slots, symbol ``i`` in
  slot ``floor(i L / n)`` (slot sizes differ by at most one);
* neither: the whole call is one slot (block Rayleigh fading, ``h_0`` per sample).

Each call starts a fresh, stationary process per sample (no state is kept between calls).
"""

from __future__ import annotations

import math

import torch

from semcom.channels._validate import check_choice, check_int, check_real
from semcom.channels.base import Channel, check_symbols
from semcom.channels.complex_utils import complex_normal
from semcom.channels.fading import CSI_MODES, EQUALIZERS, equalize
from semcom.channels.snr import Number, as_per_sample_snr, noise_variance

_CHUNK = 64  # slots per block of the chunked AR(1) recursion in :func:`gauss_markov_process`


def jakes_correlation(doppler_hz: float, slot_s: float) -> float:
    """One-slot correlation ``rho = J0(2 pi f_D T)`` of Clarke's model (dimensionless).

    >>> round(jakes_correlation(10.0, 0.01), 5)  # J0(0.2 pi) = 0.903713...
    0.90371
    >>> jakes_correlation(0.0, 1.0)
    1.0
    """
    x = torch.tensor(2.0 * math.pi * doppler_hz * slot_s, dtype=torch.float64)
    return float(torch.special.bessel_j0(x))


def gauss_markov_process(
    rho: float,
    num_slots: int,
    batch: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.complex64,
) -> torch.Tensor:
    """Stationary AR(1) complex gains ``[batch, num_slots]`` with ``E|h|^2 = 1``, lag-1
    correlation ``rho`` (real, ``|rho| <= 1``).

    Draws ``h_0`` then the innovations ``w_1..w_{L-1}`` (all ``CN(0, 1)``, in this order from
    ``generator``). The recursion runs in chunks of 64 slots: inside a chunk it is a product with
    the lower-triangular matrix ``rho^(k-j)`` (only non-negative powers, so it is stable for any
    ``rho``), and only the chunk boundaries are sequential.
    """
    rho = float(rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must be in [-1, 1], got {rho}")
    h0 = complex_normal((batch, 1), generator=generator, device=device, dtype=dtype)
    if num_slots <= 1:
        return h0[:, :num_slots]
    w = complex_normal((batch, num_slots - 1), generator=generator, device=device, dtype=dtype)
    real = torch.view_as_real(w).movedim(-1, 0)  # [2, batch, L-1]
    rdtype = real.dtype
    steps = num_slots - 1
    chunks = -(-steps // _CHUNK)
    length = min(_CHUNK, steps)
    real = torch.nn.functional.pad(real, (0, chunks * length - steps)).reshape(
        2, batch, chunks, length
    )
    k = torch.arange(length, device=real.device, dtype=torch.float64)
    lag = k[:, None] - k[None, :]
    mat = torch.where(lag >= 0, rho ** lag.clamp_min(0), torch.zeros((), dtype=torch.float64))
    inner = (real @ mat.T.to(rdtype)) * math.sqrt(max(0.0, 1.0 - rho * rho))  # [2, B, C, len]
    carry_pow = (rho ** (k + 1)).to(rdtype)  # contribution of the previous slot's gain
    prev = torch.view_as_real(h0[:, 0]).movedim(-1, 0)  # [2, B]
    out = []
    for c in range(chunks):
        block = inner[:, :, c] + prev[..., None] * carry_pow
        out.append(block)
        prev = block[..., -1]
    rest = torch.cat(out, dim=-1)[..., :steps]  # [2, B, L-1]
    h_rest = torch.view_as_complex(rest.movedim(0, -1).contiguous())
    return torch.cat([h0, h_rest], dim=1)


class GaussMarkovFadingChannel(Channel):
    """Time-correlated Rayleigh fading (Gauss–Markov over slots) + AWGN.

    See the module docstring for the process and the symbol-to-slot mapping.

    Args:
        doppler_hz: maximum Doppler shift ``f_D`` (Hz, ``>= 0``).
        slot_s: slot duration ``T`` (s, ``> 0``).
        symbols_per_slot / num_slots: how :meth:`forward` maps symbols to slots (at most one).
        csi: ``"perfect"`` (equalise with the true per-slot ``h``) or ``"none"``.
        equalizer: ``"zf"`` or ``"mmse"``, as in :class:`~semcom.channels.FadingChannel`.

    >>> ch = GaussMarkovFadingChannel(doppler_hz=10.0, slot_s=1e-3, num_slots=4)
    >>> g = torch.Generator().manual_seed(0)
    >>> ch.gains(num_slots=8, batch=2, generator=g).shape
    torch.Size([2, 8])
    >>> ch(torch.ones(2, 10, dtype=torch.complex64), 20.0, generator=g).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        doppler_hz: float,
        slot_s: float,
        *,
        symbols_per_slot: int | None = None,
        num_slots: int | None = None,
        csi: str = "perfect",
        equalizer: str = "zf",
    ) -> None:
        super().__init__()
        self.doppler_hz = check_real("doppler_hz", doppler_hz, low=0.0)
        self.slot_s = check_real("slot_s", slot_s, low=0.0, low_open=True)
        if symbols_per_slot is not None and num_slots is not None:
            raise ValueError("symbols_per_slot and num_slots: give only one of them")
        self.symbols_per_slot = (
            None if symbols_per_slot is None else check_int("symbols_per_slot", symbols_per_slot)
        )
        self.num_slots = None if num_slots is None else check_int("num_slots", num_slots)
        self.csi = check_choice("csi", csi, CSI_MODES)
        self.equalizer = check_choice("equalizer", equalizer, EQUALIZERS)
        self.rho = jakes_correlation(self.doppler_hz, self.slot_s)

    def extra_repr(self) -> str:
        return (
            f"doppler_hz={self.doppler_hz:g}, slot_s={self.slot_s:g}, rho={self.rho:.6f}, "
            f"symbols_per_slot={self.symbols_per_slot}, num_slots={self.num_slots}, "
            f"csi={self.csi!r}"
        )

    def gains(
        self,
        num_slots: int,
        batch: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.complex64,
    ) -> torch.Tensor:
        """Complex gains ``h`` ``[batch, num_slots]``, one stationary process per row."""
        check_int("num_slots", num_slots)
        check_int("batch", batch)
        return gauss_markov_process(
            self.rho, num_slots, batch, generator=generator, device=device, dtype=dtype
        )

    def snr_trace(
        self,
        snr_db: Number,
        num_slots: int,
        batch: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Instantaneous SNR per slot in dB ``[batch, num_slots]``: ``snr_db + 10 log10 |h_t|^2``.

        ``snr_db`` is the average SNR (float or ``[batch]`` tensor, dB).
        """
        snr = as_per_sample_snr(snr_db, batch).to(torch.float64)
        h = self.gains(num_slots, batch, generator, dtype=torch.complex128)
        gain = (h.real.square() + h.imag.square()).clamp_min(1e-300)
        return (snr[:, None] + 10.0 * torch.log10(gain)).to(torch.float32)

    def slot_index(self, n: int) -> torch.Tensor:
        """Slot of each of ``n`` symbols (int64 ``[n]``), per the mapping of the module doc."""
        i = torch.arange(n)
        if self.symbols_per_slot is not None:
            return i // self.symbols_per_slot
        if self.num_slots is not None:
            return (i * self.num_slots) // max(n, 1)
        return torch.zeros(n, dtype=torch.long)

    def forward(
        self,
        z: torch.Tensor,
        snr_db: Number,
        generator: torch.Generator | None = None,
        return_h: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``z`` complex ``[B, n]`` → received ``[B, n]`` (equalised with ``csi="perfect"``);
        with ``return_h`` also the per-symbol gains ``[B, n]``."""
        check_symbols(z)
        if z.dim() != 2:
            raise ValueError(
                f"GaussMarkovFadingChannel takes z of shape [B, n], got {list(z.shape)}"
            )
        b, n = z.shape
        index = self.slot_index(n).to(z.device)
        slots = int(index[-1]) + 1 if n else 1
        if self.num_slots is not None:
            slots = self.num_slots
        h_slots = self.gains(slots, b, generator, device=z.device, dtype=z.dtype)
        n0 = noise_variance(snr_db, z)
        noise = complex_normal(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        per = self.symbols_per_slot or (n // slots if n % slots == 0 else None)
        if per is not None and n == per * slots:
            # equal slots: broadcast one gain over each [per]-symbol group (no [B, n] gather)
            h = h_slots[:, :, None]
            zs, noise_s = z.reshape(b, slots, per), noise.reshape(b, slots, per)
            n0s = n0 if n0.dim() == 0 else n0.reshape(*n0.shape, 1)
        else:
            h, zs, noise_s, n0s = h_slots[:, index], z, noise, n0
        y = h * zs + noise_s * n0s.sqrt()
        if self.csi == "perfect":
            y = equalize(y, h, n0s, self.equalizer)
        y = y.reshape(b, n)
        if return_h:
            if per is not None and h.dim() == 3:  # [B, slots, 1]: the equal-slots branch
                h = h.expand(b, slots, per).reshape(b, n)
            return y, h
        return y

    def power_gain(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """``n`` independent draws of ``|h_0|^2 ~ Exp(1)`` ``[n]`` (the stationary marginal; one
        per sample)."""
        h = complex_normal((int(n),), generator=generator, device=device)
        return (h.real.square() + h.imag.square()).to(dtype)
