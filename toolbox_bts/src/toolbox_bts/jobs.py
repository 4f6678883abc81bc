"""Background work: shipments when an order is ready, tracking polls, the daily directory sync."""

from __future__ import annotations

import logging
from typing import Any

from toolbox_bts import directory
from toolbox_bts.client import BtsApiError, BtsError
from toolbox_core.api import (
    Conflict,
    Event,
    InvalidInput,
    PermanentFailure,
    Progress,
    RetryLater,
    ServiceUnavailable,
    ShipmentService,
    Toolbox,
)

log = logging.getLogger("toolbox.bts")


def _provider(toolbox: Toolbox) -> Any:
    return toolbox.shipping_providers["bts"]


def ship_when_ready(event: Event, toolbox: Toolbox) -> None:
    """Create the BTS shipment once an order is paid, or placed with cash on delivery (idempotent).

    Subscribed to ``order.placed`` (pay-on-delivery orders are ``placed`` at once; online ones
    wait) and ``payment.captured``. Orders shipped by another provider are skipped.
    """
    order_id = event.payload.get("order_id")
    if not order_id:
        return
    shipments = ShipmentService(toolbox)
    request = shipments.request_for(order_id)
    if request.shipping.get("provider_id") != "bts":
        return
    if event.name == "order.placed" and event.payload.get("status") != "placed":
        return  # an online payment is still awaited
    try:
        shipments.ship(order_id, "bts", actor="bts")
    except (Conflict, InvalidInput) as exc:
        raise PermanentFailure(f"order {request.order_number} not shipped: {exc}") from exc
    except BtsApiError as exc:  # BTS refused the data (422...): ops must fix the order or settings
        raise PermanentFailure(f"BTS refused order {request.order_number}: {exc.message}") from exc


def cancel_with_order(event: Event, toolbox: Toolbox) -> None:
    """An order was canceled: cancel its BTS shipment while BTS allows (else ops must stop the parcel)."""
    order_id = event.payload.get("order_id")
    if not order_id:
        return
    shipments = ShipmentService(toolbox)
    for shipment in shipments.for_order(order_id):
        if shipment.provider_id != "bts" or shipment.final:
            continue
        try:
            shipments.cancel(shipment.id, actor="bts")
        except Conflict as exc:
            raise PermanentFailure(f"order {shipment.order_number} canceled but its BTS parcel "
                                   f"{shipment.tracking_number} could not be: {exc}") from exc
        except ServiceUnavailable as exc:  # how cancel_shipment reports BTS being down
            raise RetryLater(f"BTS unavailable: {exc}", after=60) from exc


def poll_tracking(toolbox: Toolbox, progress: Progress) -> None:
    """Ask BTS for the status of every shipment not yet final (the webhook's fallback)."""
    shipments = ShipmentService(toolbox)
    open_ones = shipments.shipments_to_poll("bts", limit=500)
    progress.total(len(open_ones))
    moved = failed = 0
    for shipment in open_ones:
        try:
            if shipments.refresh(shipment.id, actor="bts").status != shipment.status:
                moved += 1
        except (BtsError, Conflict) as exc:
            failed += 1
            log.warning("BTS tracking of shipment %s failed: %s", shipment.id, exc)
        progress.advance(1)
    progress.message(f"{len(open_ones)} shipments polled, {moved} moved, {failed} failed")


def sync_directory(toolbox: Toolbox, progress: Progress) -> None:
    """Copy BTS regions, cities and branches into our tables (daily)."""
    report = directory.sync(toolbox, _provider(toolbox).client, progress)
    progress.message(f"{report.regions} regions, {report.cities} cities, {report.branches} branches, "
                     f"{report.deactivated} deactivated")
