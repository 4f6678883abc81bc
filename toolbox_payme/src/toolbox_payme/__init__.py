"""Toolbox Commerce plugin: Payme (Paycom) Merchant API payments."""

__version__ = "0.2.1"
