"""Toolbox Commerce plugin: Click SHOP API payments."""

__version__ = "0.2.1"
