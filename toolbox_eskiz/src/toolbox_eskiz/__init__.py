"""Toolbox Commerce plugin: Eskiz SMS gateway notifications and OTP delivery."""

__version__ = "0.2.0"
