"""Fulfilment domain: shipments of orders by carriers, their tracking and status.

Public through :mod:`toolbox_core.api`: :class:`ShipmentService`, :class:`ShipmentView` and
``SHIPMENT_STATUSES``. A carrier plugin implements the optional methods of
:class:`toolbox_core.providers.FulfillmentProvider` on its shipping provider.
"""

from toolbox_core.fulfillment.service import (
    FINAL_SHIPMENT_STATUSES,
    SHIPMENT_STATUSES,
    ShipmentService,
    ShipmentView,
)

__all__ = ["FINAL_SHIPMENT_STATUSES", "SHIPMENT_STATUSES", "ShipmentService", "ShipmentView"]
