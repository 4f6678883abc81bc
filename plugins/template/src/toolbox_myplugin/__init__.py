"""Toolbox Commerce plugin template: rename me."""
