"""Cart domain."""
