"""semcom.report."""
