"""Template plugin module. Keep the hooks you need, delete the rest.

Every hook is documented in ``toolbox_core/hookspecs.py``; import only from ``toolbox_core.api``.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from toolbox_core.api import Toolbox, hookimpl

#: The kernel API versions this plugin is written for; the kernel refuses others at start-up.
KERNEL_API = ">=1.0,<2"


class MyPluginSettings(BaseModel):
    """Set as TOOLBOX_MYPLUGIN__API_TOKEN etc., or under [myplugin] in toolbox.toml."""

    api_token: SecretStr
    base_url: str = "https://api.example.uz"


@hookimpl
def settings_model() -> type[BaseModel]:
    return MyPluginSettings


@hookimpl
def startup(toolbox: Toolbox) -> None:
    """Open clients here; read settings with toolbox.plugin_settings("myplugin")."""
