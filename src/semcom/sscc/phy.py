"""The digital PHY of the SSCC baseline, simulated with Sionna's blocks on the CPU (float32).

Transmitter, per sample (:meth:`DigitalPHY.modulate`)::

    payload bytes [capacity_bytes] → bits → C blocks of k - 24 bits → CRC24A (CRCEncoder)
    → LDPC5GEncoder(k, n, num_bits_per_symbol=m) (rate matching + 38.212 bit interleaving)
    → Mapper("qam", m) (Gray, unit average energy) → C · n / m symbols, zero-padded to n_cu

Receiver (:meth:`DigitalPHY.demodulate`), given the received *equalised* symbols and the
per-symbol effective noise variance (``N0`` on AWGN, ``N0 / |h|^2`` after zero forcing)::

    Demapper("app", "qam", m)(y, no) → LLRs → LDPC5GDecoder (flooding BP, boxplus-phi)
    → CRCDecoder → payload bytes + a per-codeword ok mask

Sionna's demapper takes ``no`` as the noise variance **per complex symbol**
(``exp(-|y - c|^2 / no)``), which is the project's ``N0`` (noise ``CN(0, N0)``); the tests in
``tests/sscc`` check this against theory.

Decoding uses **CRC-aided early termination**: after every ``check_every`` BP iterations
(default 1, as a receiver checking each iteration) the codewords whose CRC passes stop (their
bits are final); the others go on from the saved BP state (continuing flooding BP from its
variable-to-check messages is exactly the uninterrupted schedule) up to ``bp_iterations`` in
total. A codeword that fails after ``bp_iterations`` keeps its last hard decisions. Codewords
are batched across samples in chunks.

Two practical notes:

* The PHY runs with ``num_threads`` intra-op threads (default 1): BP is thousands of small
  tensor operations, which run several times faster on one thread than on an oversubscribed pool.
* The PHY models baseband hardware, not the network: its tensor operations are hidden from
  ``torch.utils.flop_counter`` (device/edge FLOPs count the classifier only).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from semcom.sscc.framing import bits_to_bytes, bytes_to_bits
from semcom.sscc.layout import CRC_POLY, BlockLayout

#: LLR values per BP call (codewords × 5G mother-code length); bounds the decoder's memory.
MAX_LLRS_PER_CALL = 2**21
_PRECISION = "single"
_DEVICE = "cpu"


@contextlib.contextmanager
def uncounted() -> Iterator[None]:
    """Hide the enclosed tensor operations from ``torch`` dispatch modes (the FLOP counter): the
    PHY is baseband hardware, not part of the network's compute."""
    try:
        from torch.utils._python_dispatch import _disable_current_modes
    except ImportError:  # pragma: no cover - private API moved
        yield
        return
    with _disable_current_modes():
        yield


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the enclosed code with ``n`` intra-op threads (``None``: leave as is)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class _Codec:
    crc_encoder: Any
    crc_decoder: Any
    encoder: Any
    decoder: Any


@functools.lru_cache(maxsize=32)
def _codec(k: int, n: int, bits_per_symbol: int) -> _Codec:
    """Sionna CRC + 5G LDPC blocks for ``(k, n)`` codewords (cached: building costs ~0.1 s)."""
    from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

    from semcom.sscc.layout import CRC_BITS

    kw = {"precision": _PRECISION, "device": _DEVICE}
    crc_enc = CRCEncoder(CRC_POLY, k=k - CRC_BITS, **kw)
    crc_dec = CRCDecoder(crc_enc, **kw)
    enc = LDPC5GEncoder(k, n, num_bits_per_symbol=bits_per_symbol, check_input=False, **kw)
    dec = LDPC5GDecoder(
        enc, hard_out=True, return_infobits=True, return_state=True, num_iter=1, **kw
    )
    return _Codec(crc_enc, crc_dec, enc, dec)


@functools.lru_cache(maxsize=8)
def _mapping(bits_per_symbol: int) -> tuple[Any, Any]:
    """Sionna QAM ``Mapper`` and app ``Demapper`` for ``bits_per_symbol`` bits per symbol."""
    from sionna.phy.mapping import Demapper, Mapper

    kw = {"precision": _PRECISION, "device": _DEVICE}
    return Mapper("qam", bits_per_symbol, **kw), Demapper("app", "qam", bits_per_symbol, **kw)


@dataclass
class PHYResult:
    """What :meth:`DigitalPHY.demodulate` returns for ``B`` samples.

    Attributes:
        payload: received payload bytes, uint8 ``[B, capacity_bytes]`` (a failed codeword's bytes
            are whatever BP ended with).
        block_ok: bool ``[B, num_blocks]``, the CRC result of each codeword.
        iterations: int ``[B, num_blocks]``, BP iterations each codeword ran.
    """

    payload: np.ndarray
    block_ok: torch.Tensor
    iterations: torch.Tensor


class DigitalPHY:
    """CRC + 5G LDPC + QAM over a :class:`~semcom.sscc.layout.BlockLayout` (module docstring).

    Args:
        layout: codeword layout of one sample (sets ``n_cu``, the MCS and ``(k, n)``).
        bp_iterations: maximum BP iterations per codeword (``>= 1``).
        check_every: BP iterations between CRC checks for early termination (``>= 1``;
            ``>= bp_iterations`` disables early termination). Each check adds a ``2^-24``
            chance of accepting a wrong codeword.
        num_threads: torch intra-op threads while the PHY runs (``None``: unchanged).
    """

    def __init__(
        self,
        layout: BlockLayout,
        *,
        bp_iterations: int = 20,
        check_every: int = 1,
        num_threads: int | None = 1,
    ) -> None:
        if bp_iterations < 1:
            raise ValueError(f"bp_iterations must be >= 1, got {bp_iterations}")
        if check_every < 1:
            raise ValueError(f"check_every must be >= 1, got {check_every}")
        self.layout = layout
        self.bp_iterations = int(bp_iterations)
        self.check_every = int(check_every)
        self.num_threads = num_threads

    # --- pieces --------------------------------------------------------------------------------
    @property
    def m(self) -> int:
        """Bits per QAM symbol."""
        return self.layout.mcs.bits_per_symbol

    def _blocks(self) -> _Codec:
        lay = self.layout
        return _codec(lay.k, lay.n, self.m)

    def encode_blocks(self, info: torch.Tensor) -> torch.Tensor:
        """Payload bits float ``[N, k - 24]`` → coded bits float ``[N, n]`` (CRC + LDPC)."""
        c = self._blocks()
        with uncounted(), torch_threads(self.num_threads), torch.no_grad():
            return c.encoder(c.crc_encoder(info.float()))

    def map_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """Coded bits ``[..., j·m]`` → QAM symbols complex64 ``[..., j]`` (unit average energy)."""
        mapper, _ = _mapping(self.m)
        with uncounted(), torch_threads(self.num_threads), torch.no_grad():
            return mapper(bits.float())

    def llrs(self, y: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
        """App LLRs (Sionna's logit sign: ``log P(b=1)/P(b=0)``) ``[..., j·m]`` of received
        symbols ``y`` complex ``[..., j]`` with per-symbol noise variance ``noise_var``
        (broadcastable to ``y``; the variance of the complex noise, i.e. ``N0``)."""
        _, demapper = _mapping(self.m)
        no = torch.as_tensor(noise_var, dtype=torch.float32)
        with uncounted(), torch_threads(self.num_threads), torch.no_grad():
            return demapper(y.to(torch.complex64), no.clamp(max=1e12))

    def decode_blocks(self, llr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """LLRs ``[N, n]`` → payload bits float ``[N, k - 24]``, CRC ok bool ``[N]`` and BP
        iterations run int ``[N]`` (CRC-aided early termination, module docstring)."""
        c = self._blocks()
        num = llr.shape[0]
        info = torch.zeros(num, self.layout.k - self.layout.crc_bits)
        ok = torch.zeros(num, dtype=torch.bool)
        iters = torch.zeros(num, dtype=torch.int64)
        chunk = max(1, MAX_LLRS_PER_CALL // max(1, c.encoder.n_ldpc))
        with uncounted(), torch_threads(self.num_threads), torch.no_grad():
            for start in range(0, num, chunk):
                part = llr[start : start + chunk].float()
                active = torch.arange(len(part))
                state: torch.Tensor | None = None
                done = 0
                while len(active):
                    step = min(self.check_every, self.bp_iterations - done)
                    u_hat, state = c.decoder(part[active], num_iter=step, msg_v2c=state)
                    done += step
                    bits, valid = c.crc_decoder(u_hat)
                    valid = valid[..., 0]
                    final = valid | (done >= self.bp_iterations)
                    rows = start + active[final]
                    info[rows], ok[rows], iters[rows] = bits[final], valid[final], done
                    active, state = active[~final], state[~final]
        return info, ok, iters

    # --- the whole chain -----------------------------------------------------------------------
    def modulate(self, payload: np.ndarray) -> torch.Tensor:
        """Payloads uint8 ``[B, capacity_bytes]`` → channel symbols complex64 ``[B, n_cu]``:
        ``num_blocks`` codewords of ``n / m`` QAM symbols each, then zeros (no energy)."""
        lay = self.layout
        payload = np.asarray(payload, dtype=np.uint8)
        if payload.ndim != 2 or payload.shape[1] != lay.capacity_bytes:
            raise ValueError(
                f"payload must be uint8 [B, {lay.capacity_bytes}], got {list(payload.shape)}"
            )
        b = payload.shape[0]
        out = torch.zeros(b, lay.n_cu, dtype=torch.complex64)
        if lay.num_blocks == 0 or b == 0:
            return out
        info = bytes_to_bits(payload.reshape(b * lay.num_blocks, lay.bytes_per_block))
        symbols = self.map_bits(self.encode_blocks(info))  # [B·C, n/m]
        out[:, : lay.used_symbols] = symbols.reshape(b, lay.used_symbols)
        return out

    def demodulate(self, y: torch.Tensor, noise_var: torch.Tensor | float) -> PHYResult:
        """Received equalised symbols complex ``[B, n_cu]`` and the per-symbol noise variance
        (float, ``[B]``, ``[B, 1]`` or ``[B, n_cu]``) → :class:`PHYResult`."""
        lay = self.layout
        b = y.shape[0]
        if y.dim() != 2 or y.shape[1] != lay.n_cu:
            raise ValueError(f"received symbols must be [B, {lay.n_cu}], got {list(y.shape)}")
        if lay.num_blocks == 0 or b == 0:
            empty = torch.zeros(b, lay.num_blocks, dtype=torch.bool)
            return PHYResult(np.zeros((b, lay.capacity_bytes), np.uint8), empty, empty.long())
        no = torch.as_tensor(noise_var, dtype=torch.float32)
        if no.dim() == 1:
            no = no[:, None]
        no = no.expand(b, lay.n_cu)[:, : lay.used_symbols]
        used = y[:, : lay.used_symbols].reshape(b * lay.num_blocks, lay.symbols_per_block)
        llr = self.llrs(used, no.reshape(used.shape))
        info, ok, iters = self.decode_blocks(llr)
        payload = bits_to_bytes(info).reshape(b, lay.capacity_bytes)
        return PHYResult(payload, ok.reshape(b, lay.num_blocks), iters.reshape(b, lay.num_blocks))
