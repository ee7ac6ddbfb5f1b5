"""semcom.systems."""
