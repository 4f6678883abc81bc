"""Notifications: a template registry per event and locale, and ``toolbox.notify`` (sent by a job)."""
