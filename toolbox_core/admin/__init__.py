"""Admin API access: API keys with scopes."""
