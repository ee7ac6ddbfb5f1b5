"""semcom.train."""
