"""Checkout domain."""
