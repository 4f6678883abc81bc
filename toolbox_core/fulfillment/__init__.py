"""Fulfilment domain: shipments of orders by carriers, their tracking and status.

Public through :mod:`toolbox_core.api`: :class:`ShipmentService`, :class:`ShipmentView` and
``SHIPMENT_STATUSES``. A carrier plugin implements the optional methods of
:class:`toolbox_core.providers.FulfillmentProvider` on its shipping provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.fulfillment.service import (
        FINAL_SHIPMENT_STATUSES,
        SHIPMENT_STATUSES,
        ShipmentService,
        ShipmentView,
    )

__all__ = ["FINAL_SHIPMENT_STATUSES", "SHIPMENT_STATUSES", "ShipmentService", "ShipmentView"]


def __getattr__(name: str) -> Any:
    """The service's public names, imported on first use: the built-in plugin
    (``toolbox_core.fulfillment.plugin``) is loaded at every start and needs none of them."""
    if name in __all__:
        from toolbox_core.fulfillment import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
