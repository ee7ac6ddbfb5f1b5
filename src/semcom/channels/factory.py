"""Build a channel from its config name and parameters: :func:`build_channel`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from semcom.channels.awgn import AWGNChannel
from semcom.channels.base import Channel
from semcom.channels.erasure import BitErasureChannel, PacketErasureChannel
from semcom.channels.fading import FadingChannel
from semcom.channels.gauss_markov import GaussMarkovFadingChannel


def _rayleigh(**params: Any) -> FadingChannel:
    return FadingChannel("rayleigh", **params)


def _rician(**params: Any) -> FadingChannel:
    return FadingChannel("rician", **params)


#: config name → (constructor, the class whose keyword arguments are the allowed parameters).
CHANNELS: dict[str, tuple[Callable[..., Channel], type[Channel]]] = {
    "awgn": (AWGNChannel, AWGNChannel),
    "rayleigh": (_rayleigh, FadingChannel),
    "rician": (_rician, FadingChannel),
    "gauss-markov": (GaussMarkovFadingChannel, GaussMarkovFadingChannel),
    "erasure": (BitErasureChannel, BitErasureChannel),
    "packet-erasure": (PacketErasureChannel, PacketErasureChannel),
}


def channel_parameters(name: str) -> list[str]:
    """Names of the parameters :func:`build_channel` accepts for channel ``name``.

    >>> channel_parameters("erasure")
    ['p', 'fill_value', 'straight_through']
    """
    _, cls = CHANNELS[name]
    params = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if cls is FadingChannel:
        params.remove("kind")  # fixed by the name
    return params


def channel_label(config: dict[str, Any]) -> str:
    """A short readable name of a channel config ``{"name": ..., **params}`` for tables and plots.

    >>> channel_label({"name": "rayleigh", "coherence": "block", "csi": "perfect"})
    'rayleigh (coherence=block, csi=perfect)'
    >>> channel_label({"name": "awgn"})
    'awgn'
    """
    params = [f"{k}={v}" for k, v in config.items() if k != "name"]
    return config["name"] + (f" ({', '.join(params)})" if params else "")


def build_channel(name: str, **params: Any) -> Channel:
    """Channel module for config name ``name`` with keyword ``params``.

    Names: ``awgn``, ``rayleigh``, ``rician`` (:class:`FadingChannel`), ``gauss-markov``,
    ``erasure`` (:class:`BitErasureChannel`), ``packet-erasure``. An unknown name, an unknown
    parameter, a missing required parameter or a bad value raises ``ValueError`` naming it.

    >>> build_channel("rayleigh", coherence="block", csi="perfect")
    FadingChannel(kind='rayleigh', coherence='block', csi='perfect', equalizer='zf')
    >>> build_channel("rayleigh", csi="full")
    Traceback (most recent call last):
    ...
    ValueError: csi must be one of 'perfect', 'none', got 'full'
    """
    if name not in CHANNELS:
        options = ", ".join(repr(n) for n in CHANNELS)
        raise ValueError(f"channel name must be one of {options}, got {name!r}")
    build, cls = CHANNELS[name]
    allowed = channel_parameters(name)
    for key in params:
        if key not in allowed:
            raise ValueError(
                f"unknown parameter {key!r} for channel {name!r}; allowed: "
                + (", ".join(allowed) if allowed else "none")
            )
    required = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name in allowed and p.default is inspect.Parameter.empty
    ]
    missing = [r for r in required if r not in params]
    if missing:
        raise ValueError(f"channel {name!r} needs parameter(s): {', '.join(missing)}")
    return build(**params)
