"""Toolbox Commerce plugin: MoySklad stock and catalog sync."""

__version__ = "0.2.0"
