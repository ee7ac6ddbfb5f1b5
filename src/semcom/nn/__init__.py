"""semcom.nn."""
