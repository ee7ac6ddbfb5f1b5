"""What crosses the link — payload bytes, analog symbols, a simulated PHY, nothing — as objects
that own measurement, timing, the rate and ratio fields of a record and the link statistics
(:mod:`semcom.transports.base`). Nothing outside this package branches on the kind of link."""

from semcom.transports.analog import AnalogTransport
from semcom.transports.base import Measurement, MeasurePlan, Transport, snr_generator
from semcom.transports.none import NoTransport
from semcom.transports.payload import PayloadTransport, round_trip
from semcom.transports.phy import PHYResult, PHYTransport
from semcom.transports.ratios import channel_bandwidth_ratio, compression_ratio

__all__ = [
    "AnalogTransport",
    "MeasurePlan",
    "Measurement",
    "NoTransport",
    "PHYResult",
    "PHYTransport",
    "PayloadTransport",
    "Transport",
    "channel_bandwidth_ratio",
    "compression_ratio",
    "round_trip",
    "snr_generator",
]
