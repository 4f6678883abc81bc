"""Toolbox Commerce plugin: Payme (Paycom) Merchant API payments."""

__version__ = "0.1.0"
