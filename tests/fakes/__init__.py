"""Fakes of outside services, in one place.

Each fake speaks the documented protocol over real HTTP on loopback (see
``../shared/specs/``), so the real httpx clients are exercised end to end.
"""
