"""semcom.runtime."""
