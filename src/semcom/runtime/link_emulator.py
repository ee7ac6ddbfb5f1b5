"""Emulate a rate-limited, lossy uplink on the device before the bytes go to the socket.

The model (the same one :mod:`semcom.latency` uses, plus packet loss):

* the payload of ``n`` bytes is cut into ``ceil(n / mtu_bytes)`` packets (the last one shorter);
* sending a packet of ``m`` bytes holds the link for ``8 m / R`` seconds (``R`` = ``rate_bps``);
* each transmission of a packet is lost independently with probability ``P`` (``loss``); a lost
  packet is sent again (the loss is known at once: no timeout or acknowledgement delay is
  modelled) and every retransmission costs its transmit time again;
* after ``max_retransmissions`` retransmissions of one packet the transfer fails with
  :class:`LinkDropped`.

The number of transmissions of one packet is geometric with mean ``1 / (1 - P)``, so the expected
hold time is ``8 n / R / (1 - P)`` seconds (:func:`expected_transmit_s`; exact for an unbounded
retry cap, and the cap only removes the rare tail of failed transfers). Only payload bits are
counted — no IP/TCP/HTTP headers — as in the latency model ``T = T_device + bits / R + T_edge``.
Draws come from a seeded generator, so a run is reproducible.

>>> link = LinkEmulator(rate_bps=1e6, loss=0.0, mtu_bytes=1400)
>>> t = link.plan(3000)
>>> t.packets, t.transmissions, round(t.seconds, 6)
(3, 3, 0.024)
>>> round(expected_transmit_s(1000, 1e6, 0.2), 6)
0.01
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MTU_BYTES = 1400
DEFAULT_MAX_RETRANSMISSIONS = 10


class LinkDropped(RuntimeError):
    """A packet was lost more times than the retry cap allows; the payload did not arrive."""


@dataclass(frozen=True)
class LinkTransfer:
    """What one emulated transfer cost.

    Attributes:
        payload_bytes: bytes handed to the link.
        packets: packets the payload was cut into.
        transmissions: packet transmissions including retransmissions (``>= packets``).
        seconds: time the link was held, s (``8 * bytes actually transmitted / rate``).
    """

    payload_bytes: int
    packets: int
    transmissions: int
    seconds: float

    @property
    def retransmissions(self) -> int:
        """Transmissions beyond the first of each packet."""
        return self.transmissions - self.packets


def expected_transmit_s(nbytes: int, rate_bps: float, loss: float = 0.0) -> float:
    """Expected hold time of ``nbytes`` over the emulated link: ``8 n / R / (1 - P)`` seconds.

    ``rate_bps = inf`` gives 0 s (a free link); ``nbytes = 0`` gives 0 s.
    """
    _check(rate_bps, loss)
    if nbytes == 0 or math.isinf(rate_bps):
        return 0.0
    return 8.0 * nbytes / rate_bps / (1.0 - loss)


def _check(rate_bps: float, loss: float) -> None:
    if not rate_bps > 0:
        raise ValueError(f"rate_bps must be > 0 bit/s, got {rate_bps}")
    if not 0.0 <= loss < 1.0:
        raise ValueError(f"loss must be a probability in [0, 1), got {loss}")


class LinkEmulator:
    """Hold the bytes for their transmit time, with seeded packet loss and retransmission.

    Args:
        rate_bps: link rate ``R``, bit/s (``> 0``; ``inf`` = no rate limit).
        loss: probability ``P`` that one packet transmission is lost, ``0 <= P < 1``.
        mtu_bytes: payload bytes per packet (default 1400, an Ethernet MTU less IP/TCP headers).
        max_retransmissions: retransmissions allowed per packet before :class:`LinkDropped`.
        seed: seed of the loss draws.
        sleep: how to wait (``time.sleep``; tests pass a fake).
    """

    def __init__(
        self,
        rate_bps: float = math.inf,
        loss: float = 0.0,
        *,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
        max_retransmissions: int = DEFAULT_MAX_RETRANSMISSIONS,
        seed: int | None = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        _check(rate_bps, loss)
        if mtu_bytes < 1:
            raise ValueError(f"mtu_bytes must be >= 1, got {mtu_bytes}")
        if max_retransmissions < 0:
            raise ValueError(f"max_retransmissions must be >= 0, got {max_retransmissions}")
        self.rate_bps = float(rate_bps)
        self.loss = float(loss)
        self.mtu_bytes = int(mtu_bytes)
        self.max_retransmissions = int(max_retransmissions)
        self._rng = random.Random(seed)
        self._sleep = sleep

    def expected_seconds(self, nbytes: int) -> float:
        """Expected hold time of ``nbytes``, s (:func:`expected_transmit_s`)."""
        return expected_transmit_s(nbytes, self.rate_bps, self.loss)

    def plan(self, nbytes: int) -> LinkTransfer:
        """Draw the losses of one transfer of ``nbytes`` and return its cost (no waiting).

        Raises :class:`LinkDropped` when a packet exceeds the retry cap.
        """
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        packets = math.ceil(nbytes / self.mtu_bytes)
        transmissions = 0
        sent_bytes = 0
        for i in range(packets):
            size = min(self.mtu_bytes, nbytes - i * self.mtu_bytes)
            attempts = 1
            while self.loss > 0 and self._rng.random() < self.loss:
                if attempts > self.max_retransmissions:
                    raise LinkDropped(
                        f"packet {i + 1}/{packets} lost {attempts} times (loss {self.loss}); "
                        f"gave up after {self.max_retransmissions} retransmissions"
                    )
                attempts += 1
            transmissions += attempts
            sent_bytes += attempts * size
        seconds = 0.0 if math.isinf(self.rate_bps) else 8.0 * sent_bytes / self.rate_bps
        return LinkTransfer(nbytes, packets, transmissions, seconds)

    def send(self, data: bytes) -> LinkTransfer:
        """Hold ``data`` for its emulated transfer time (sleeping), then return the cost."""
        transfer = self.plan(len(data))
        if transfer.seconds > 0:
            self._sleep(transfer.seconds)
        return transfer
