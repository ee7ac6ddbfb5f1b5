"""semcom: semantic communication for device–edge co-inference.

Split a network between a weak device and an edge server, compress what crosses the wireless link,
and measure accuracy, real bits on the wire, channel robustness, latency and on-device cost.
"""

__version__ = "0.1.0"
