"""Toolbox Commerce kernel.

The public API that plugins may rely on lives in :mod:`toolbox_core.api`; everything
else is internal and may change between releases.
"""

__version__ = "0.1.0"

#: Version of the kernel API offered to plugins. A plugin declares the range it
#: supports (``KERNEL_API = ">=1.0,<2"``) and is refused at start-up otherwise.
KERNEL_API_VERSION = "1.1"

#: The entry-point group through which installed plugins are discovered.
ENTRY_POINT_GROUP = "toolbox.plugins"
