"""semcom.eval."""
