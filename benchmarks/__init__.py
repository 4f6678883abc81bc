"""Benchmarks: scripts that print figures as ``name: value unit`` lines (run ``python -m benchmarks NAME``)."""
