"""Toolbox Commerce plugin: Eskiz SMS gateway notifications and OTP delivery."""

__version__ = "0.1.0"
