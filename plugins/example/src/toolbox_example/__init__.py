"""Example Toolbox Commerce plugin: a weight-based city courier."""
