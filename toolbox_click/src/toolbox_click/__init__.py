"""Toolbox Commerce plugin: Click SHOP API payments."""

__version__ = "0.1.0"
