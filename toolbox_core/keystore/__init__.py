"""keystore domain."""
