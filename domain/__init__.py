"""Parley's aggregates, their events and the product's rules. Pure Python, no I/O."""
