"""Flat Rayleigh / Rician fading with block or fast coherence and perfect or no CSI.

Model, per complex symbol ``k`` of sample ``b``::

    y[b, k] = h[b, k] * z[b, k] + w[b, k],    w ~ CN(0, N0),  N0 = 10^(-snr_db / 10)

* **Gain distribution** (``E|h|^2 = 1`` for both, so ``snr_db`` is the *average* SNR):

  - ``rayleigh``: ``h ~ CN(0, 1)``; ``|h|^2 ~ Exp(1)``.
  - ``rician`` with K-factor ``K`` (LOS-to-scattered power ratio, linear):
    ``h = sqrt(K / (K + 1)) e^{j theta} + sqrt(1 / (K + 1)) CN(0, 1)``. LOS phase convention:
    ``theta = los_phase`` is a fixed, known angle (default 0, i.e. the LOS component is real and
    positive) — it only matters with ``csi="none"``. ``E|h|^4 = (K^2 + 4K + 2) / (K + 1)^2``.

* **Coherence**: ``block`` draws one ``h`` per sample (shape ``[B, 1]``, constant over its
  ``n`` symbols: a quasi-static channel over one transmission); ``fast`` draws an independent ``h``
  per symbol (shape ``[B, n]``: ideal interleaving over many coherence times).

* **CSI at the receiver**:

  - ``perfect`` with ``equalizer="zf"`` (default): zero forcing ``y / h = z + w / h``. Unbiased,
    but the noise is enhanced: conditioned on ``h`` it is ``CN(0, N0 / |h|^2)``, unbounded in
    deep fades (for Rayleigh, ``E[1/|h|^2]`` is infinite).
  - ``perfect`` with ``equalizer="mmse"``: ``conj(h) y / (|h|^2 + N0)``. Bounded output, but
    biased: ``E[x_hat | z, h] = |h|^2 / (|h|^2 + N0) * z``.
  - ``none``: the receiver gets ``y`` unchanged (unknown phase rotation and amplitude).

  ``forward(..., return_h=True)`` also returns ``h`` so a decoder can be fed the CSI explicitly,
  and :meth:`FadingChannel.apply` runs the channel on a given ``h``.

Sionna reference: ``sionna.phy.channel.FlatFadingChannel(1, 1)`` draws ``h ~ CN(0, 1)`` per batch
example (= ``rayleigh`` + ``block``) with the same ``N0`` convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from semcom.channels._validate import check_bool, check_choice, check_real
from semcom.channels.base import Channel, check_symbols
from semcom.channels.complex_utils import complex_normal
from semcom.channels.snr import Number, noise_variance

KINDS = ("rayleigh", "rician")
COHERENCES = ("block", "fast")
CSI_MODES = ("perfect", "none")
EQUALIZERS = ("zf", "mmse")
DEFAULT_K_FACTOR_DB = 10.0


def draw_fading(
    shape: Sequence[int] | torch.Size,
    *,
    k_factor: float = 0.0,
    los_phase: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.complex64,
) -> torch.Tensor:
    """Complex gains ``h`` of ``shape`` with ``E|h|^2 = 1``: Rician with linear K-factor
    ``k_factor`` and LOS phase ``los_phase`` (radians); ``k_factor = 0`` is Rayleigh ``CN(0, 1)``.
    """
    h = complex_normal(shape, generator=generator, device=device, dtype=dtype)
    if k_factor == 0.0:
        return h
    los = math.sqrt(k_factor / (k_factor + 1.0))
    los_c = complex(los * math.cos(los_phase), los * math.sin(los_phase))
    return h * math.sqrt(1.0 / (k_factor + 1.0)) + los_c


def equalize(
    y: torch.Tensor, h: torch.Tensor, n0: torch.Tensor, equalizer: str = "zf"
) -> torch.Tensor:
    """Receiver with perfect CSI: zero forcing ``y / h`` or MMSE ``conj(h) y / (|h|^2 + N0)``.

    ``y`` complex ``[B, ...]``; ``h`` and ``n0`` broadcast against it. Differentiable.
    """
    if equalizer == "zf":
        return y / h
    return h.conj() * y / (h.real.square() + h.imag.square() + n0)


class FadingChannel(Channel):
    """Flat fading + AWGN: Rayleigh or Rician, block or fast, perfect or no CSI.

    See the module docstring for the model. Input ``z``: complex ``[B, ...]`` (usually
    ``[B, n]``, unit mean energy); ``snr_db``: float or ``[B]`` tensor, the *average* SNR in dB.
    Output: complex, same shape — equalised if ``csi="perfect"``, raw ``y`` if ``csi="none"``.

    Args:
        kind: ``"rayleigh"`` or ``"rician"``.
        k_factor_db: Rician K-factor in dB (default 10 dB for ``rician``; not allowed for
            ``rayleigh``). Alternatively ``k_factor`` (linear, ``>= 0``); not both.
        block: ``True`` one ``h`` per sample, ``False`` one per symbol. Alternatively
            ``coherence="block"|"fast"`` (the config spelling); default block.
        csi: ``"perfect"`` or ``"none"``.
        equalizer: ``"zf"`` or ``"mmse"`` (only used with ``csi="perfect"``).
        los_phase: LOS phase ``theta`` in radians (Rician only).

    >>> ch = FadingChannel("rician", k_factor_db=6.0, block=False, csi="perfect")
    >>> z = torch.ones(2, 3, dtype=torch.complex64)
    >>> y, h = ch(z, 20.0, generator=torch.Generator().manual_seed(0), return_h=True)
    >>> y.shape, h.shape
    (torch.Size([2, 3]), torch.Size([2, 3]))
    """

    def __init__(
        self,
        kind: str = "rayleigh",
        *,
        k_factor_db: float | None = None,
        k_factor: float | None = None,
        block: bool | None = None,
        coherence: str | None = None,
        csi: str = "perfect",
        equalizer: str = "zf",
        los_phase: float = 0.0,
    ) -> None:
        super().__init__()
        self.kind = check_choice("kind", kind, KINDS)
        self.csi = check_choice("csi", csi, CSI_MODES)
        self.equalizer = check_choice("equalizer", equalizer, EQUALIZERS)
        self.los_phase = check_real("los_phase", los_phase)
        if coherence is not None:
            check_choice("coherence", coherence, COHERENCES)
        if block is not None:
            check_bool("block", block)
            if coherence is not None and block != (coherence == "block"):
                raise ValueError(
                    f"block={block} contradicts coherence={coherence!r}; give only one of them"
                )
        self.block = block if block is not None else (coherence or "block") == "block"
        if k_factor_db is not None and k_factor is not None:
            raise ValueError("k_factor_db and k_factor: give only one of them")
        if kind == "rayleigh":
            if k_factor_db is not None or k_factor is not None:
                field = "k_factor_db" if k_factor_db is not None else "k_factor"
                raise ValueError(f"{field} only applies to kind='rician' (Rayleigh is K = 0)")
            self.k_factor = 0.0
        elif k_factor is not None:
            self.k_factor = check_real("k_factor", k_factor, low=0.0)
        else:
            kdb = DEFAULT_K_FACTOR_DB if k_factor_db is None else k_factor_db
            self.k_factor = 10.0 ** (check_real("k_factor_db", kdb) / 10.0)

    @property
    def coherence(self) -> str:
        """``"block"`` or ``"fast"``."""
        return "block" if self.block else "fast"

    @property
    def k_factor_db(self) -> float:
        """K-factor in dB (``-inf`` for Rayleigh)."""
        return 10.0 * math.log10(self.k_factor) if self.k_factor > 0 else -math.inf

    def extra_repr(self) -> str:
        k = f", k_factor_db={self.k_factor_db:g}" if self.kind == "rician" else ""
        return (
            f"kind={self.kind!r}{k}, coherence={self.coherence!r}, csi={self.csi!r}, "
            f"equalizer={self.equalizer!r}"
        )

    def sample_h(
        self,
        shape: Sequence[int] | torch.Size,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.complex64,
    ) -> torch.Tensor:
        """Draw gains for symbols of ``shape`` ``[B, ...]``: ``[B, 1, ..., 1]`` (block) or
        ``shape`` (fast), complex, ``E|h|^2 = 1``."""
        shape = tuple(int(s) for s in shape)
        if self.block:
            shape = (shape[0],) + (1,) * (len(shape) - 1)
        return draw_fading(
            shape,
            k_factor=self.k_factor,
            los_phase=self.los_phase,
            generator=generator,
            device=device,
            dtype=dtype,
        )

    # shadows nn.Module.apply(fn) on purpose: this is the channel's public API
    def apply(  # type: ignore[override]
        self,
        z: torch.Tensor,
        h: torch.Tensor,
        snr_db: Number,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run the channel with given gains ``h`` (broadcastable to ``z``): ``h z + w``, then the
        receiver of :attr:`csi`. Differentiable w.r.t. ``z`` (and ``h``)."""
        check_symbols(z)
        n0 = noise_variance(snr_db, z)
        noise = complex_normal(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        y = h * z + noise * n0.sqrt()
        if self.csi == "perfect":
            return equalize(y, h, n0, self.equalizer)
        return y

    def forward(
        self,
        z: torch.Tensor,
        snr_db: Number,
        generator: torch.Generator | None = None,
        return_h: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Received symbols (complex, shape of ``z``); with ``return_h`` also the gains ``h``
        (``[B, 1]`` block / ``[B, n]`` fast for ``z`` of shape ``[B, n]``).

        The gains are drawn before the noise from the same ``generator``."""
        check_symbols(z)
        h = self.sample_h(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        y = self.apply(z, h, snr_db, generator=generator)
        return (y, h) if return_h else y

    def power_gain(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """``n`` independent draws of ``|h|^2`` ``[n]`` (one per sample; mean 1).

        For block fading this is the gain a sample's whole transmission sees. For fast fading it is
        still a single draw per sample (the marginal distribution of one symbol's gain), not the
        average over the sample's symbols — a conservative stand-in for a link-rate model.
        """
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        h = draw_fading(
            (int(n),),
            k_factor=self.k_factor,
            los_phase=self.los_phase,
            generator=generator,
            device=device,
            dtype=cdtype,
        )
        return (h.real.square() + h.imag.square()).to(dtype)
