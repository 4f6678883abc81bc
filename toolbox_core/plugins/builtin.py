"""The kernel's own features, registered through the same plugin manager as outside plugins.

Each module here implements hooks from :mod:`toolbox_core.hookspecs`; together they are the
reference implementation of every hook. Order matters only for display.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "toolbox_core.builtin.system",
    "toolbox_core.events.plugin",
    "toolbox_core.customers.plugin",
    "toolbox_core.catalog.plugin",
    "toolbox_core.inventory.plugin",
    "toolbox_core.shipping.plugin",
    "toolbox_core.payments.plugin",
    "toolbox_core.cart.plugin",
    "toolbox_core.checkout.plugin",
    "toolbox_core.orders.plugin",
    "toolbox_core.fulfillment.plugin",
)
