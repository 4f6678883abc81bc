"""The plugin system: discovery through entry points, validation, and hook calls."""

from toolbox_core.plugins.manager import PluginError, PluginInfo, PluginManager, discover, hookimpl

__all__ = ["PluginError", "PluginInfo", "PluginManager", "discover", "hookimpl"]
