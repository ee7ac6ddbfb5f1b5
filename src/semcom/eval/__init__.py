"""Evaluation: measure systems through their transports and turn measurements into records."""
