"""Real tensors ↔ complex channel symbols, power normalisation and complex Gaussian draws.

An analog link sends a real feature tensor ``x`` ``[B, ...]`` as complex symbols: the ``m``
elements of each sample are flattened (row-major) and consecutive pairs ``(x[2i], x[2i+1])`` become
the symbol ``x[2i] + j x[2i+1]``, so a sample uses ``n = ceil(m / 2)`` complex channel uses. If
``m`` is odd, one zero is appended before pairing (the last symbol is purely real);
:func:`complex_to_real` drops it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from semcom import sharded_batch

_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def real_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Real ``[B, ...]`` (``m`` elements per sample) → complex ``[B, ceil(m / 2)]``.

    Consecutive pairs of the flattened sample become (real, imaginary) parts; an odd ``m`` is
    padded with one zero. float64 gives complex128; every other real dtype gives complex64.
    Differentiable (a reshape and a view).

    >>> real_to_complex(torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]))
    tensor([[1.+2.j, 3.+4.j],
            [5.+6.j, 7.+8.j]])
    >>> real_to_complex(torch.tensor([[1.0, 2.0, 3.0]]))
    tensor([[1.+2.j, 3.+0.j]])
    """
    if x.is_complex():
        raise TypeError("real_to_complex expects a real tensor, got a complex one")
    if x.dim() < 1:
        raise ValueError("real_to_complex expects a batch dimension, got a 0-d tensor")
    if x.dtype not in _COMPLEX_OF:
        x = x.to(torch.float32)
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[1] % 2:
        flat = torch.nn.functional.pad(flat, (0, 1))
    return torch.view_as_complex(flat.reshape(flat.shape[0], -1, 2).contiguous())


def complex_to_real(z: torch.Tensor, shape: Sequence[int] | torch.Size) -> torch.Tensor:
    """Inverse of :func:`real_to_complex`: complex ``[B, n]`` → real tensor of ``shape``.

    ``shape`` is the full shape including the batch dimension (e.g. ``x.shape`` of the tensor that
    was sent); it must hold ``2n`` or ``2n - 1`` elements per sample (the padding zero is dropped).

    >>> x = torch.arange(6.0).reshape(1, 3, 2)
    >>> torch.equal(complex_to_real(real_to_complex(x), x.shape), x)
    True
    """
    if not z.is_complex():
        raise TypeError("complex_to_real expects a complex tensor, got a real one")
    shape = tuple(int(s) for s in shape)
    flat = torch.view_as_real(z).reshape(z.shape[0], -1)
    per_sample = math.prod(shape[1:]) if shape and z.shape[0] == shape[0] else -1
    if per_sample not in (flat.shape[1], flat.shape[1] - 1):
        raise ValueError(
            f"cannot unpack complex symbols of shape {list(z.shape)} into a real tensor of "
            f"shape {list(shape)} (needs batch {z.shape[0]} and {flat.shape[1] - 1} or "
            f"{flat.shape[1]} elements per sample)"
        )
    return flat[:, :per_sample].reshape(shape)


def normalize_power(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each sample of ``z`` ``[B, ...]`` to unit mean energy per symbol.

    Returns ``z * sqrt(n / sum |z|^2)`` per sample (``n`` symbols per sample), with the mean energy
    clamped below by ``eps`` so an all-zero sample stays zero instead of becoming NaN. Works for
    complex symbols (energy ``|z|^2``) and real tensors alike; differentiable.

    >>> z = normalize_power(torch.tensor([[3.0 + 4.0j, 0.0j]]))
    >>> round((z.abs() ** 2).mean().item(), 6)
    1.0
    """
    if z.dim() < 1:
        raise ValueError("normalize_power expects a batch dimension, got a 0-d tensor")
    dims = tuple(range(1, z.dim()))
    energy = (z.real.square() + z.imag.square()) if z.is_complex() else z.square()
    mean = energy.mean(dim=dims, keepdim=True) if dims else energy
    return z * torch.rsqrt(mean.clamp_min(eps))


def complex_normal(
    shape: Sequence[int] | torch.Size,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.complex64,
) -> torch.Tensor:
    """Draws of ``CN(0, 1)`` of ``shape``: real and imaginary parts independent ``N(0, 1/2)``.

    With a ``generator`` the draws come from it, on its device, and are then moved to ``device``:
    a seeded CPU generator gives the same noise whether the symbols live on the CPU or a GPU.
    """
    if not dtype.is_complex:
        raise ValueError(f"dtype must be a complex dtype, got {dtype}")
    if generator is not None:
        draws = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
        return draws.to(device) if device is not None else draws
    return sharded_batch.randn(tuple(shape), device=device, dtype=dtype)


def mean_energy(z: torch.Tensor) -> torch.Tensor:
    """Mean energy per symbol of each sample, ``mean |z|^2`` over all but dim 0 → ``[B]``."""
    energy = (z.real.square() + z.imag.square()) if z.is_complex() else z.square()
    return energy.reshape(z.shape[0], -1).mean(dim=1)
