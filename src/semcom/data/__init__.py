"""semcom.data."""
