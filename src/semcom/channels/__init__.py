"""semcom.channels."""
