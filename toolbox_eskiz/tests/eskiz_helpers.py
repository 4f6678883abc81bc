"""Shared values of the eskiz tests (a uniquely named module: a bare ``conftest`` import collides)."""

CALLBACK_TOKEN = "cb-token-0123456789abcdef"
