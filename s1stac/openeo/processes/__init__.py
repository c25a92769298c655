"""Implementations of the registered processes, by theme (registered in ``registry.py``)."""
