"""Toolbox Commerce plugin: BTS Express courier shipping."""

__version__ = "0.2.0"
