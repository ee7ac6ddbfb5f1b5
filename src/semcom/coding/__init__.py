"""semcom.coding."""
