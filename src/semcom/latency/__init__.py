"""semcom.latency."""
