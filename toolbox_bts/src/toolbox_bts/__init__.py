"""Toolbox Commerce plugin: BTS Express courier shipping."""

__version__ = "0.1.0"
