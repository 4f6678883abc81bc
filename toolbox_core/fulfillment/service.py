"""Shipments: created for an order by a carrier, moved through their statuses, order kept in step.

Every change happens in one transaction that locks the order (payment row, then order row,
the kernel's one lock order), writes the shipment, updates the order's ``fulfillment_status``
and emits ``shipment.created`` / ``shipment.status_changed`` in the same transaction. Carrier
calls (``create_shipment``, ``cancel_shipment``, ``label``) happen outside any transaction.

Status effects on the order:

* ``in_transit`` — held stock becomes sold; the order's fulfilment becomes ``in_transit``;
* ``delivered`` — the kernel's deliver path: the order is completed and a cash-on-delivery
  payment is captured;
* ``returned`` / ``canceled`` — the order's fulfilment becomes ``returned`` / ``canceled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolbox_core.asyncutil import resolve
from toolbox_core.errors import Conflict, InvalidInput, NotFound
from toolbox_core.events import emit
from toolbox_core.fulfillment.models import Shipment
from toolbox_core.ids import new_id
from toolbox_core.inventory import service as inventory
from toolbox_core.orders.models import Order
from toolbox_core.orders.service import deliver_in_session, is_online, lock_order, note, payment_of
from toolbox_core.params import INT64_MAX
from toolbox_core.providers import (
    Address,
    LineView,
    ShipmentDraft,
    ShipmentLabel,
    ShipmentRequest,
    supports,
)
from toolbox_core.schemas import iso_utc

SHIPMENT_STATUSES = ("created", "in_transit", "delivered", "returned", "canceled")
#: No carrier update moves a shipment out of these (except delivered → returned).
FINAL_SHIPMENT_STATUSES = ("delivered", "returned", "canceled")
#: How long the polling position of a provider is kept (a week without polls starts over).
POLL_POSITION_TTL = 7 * 24 * 3600
_ALLOWED: dict[str, tuple[str, ...]] = {
    "created": ("in_transit", "delivered", "returned", "canceled"),
    "in_transit": ("delivered", "returned", "canceled"),
    "delivered": ("returned",),
    "returned": (),
    "canceled": (),
}


@dataclass(frozen=True)
class ShipmentView:
    """A shipment as plugins and the admin API see it (amounts in tiyin)."""

    id: str
    order_id: str
    order_number: str | None
    provider_id: str
    carrier: str
    status: str
    external_id: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    label_url: str | None = None
    cost: int | None = None
    cod_amount: int = 0
    carrier_status: str | None = None
    provider_data: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_SHIPMENT_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return iso_utc(value)


def _view(shipment: Shipment, order: Order) -> ShipmentView:
    return ShipmentView(
        id=shipment.id, order_id=shipment.order_id, order_number=order.number, provider_id=shipment.provider_id,
        carrier=shipment.carrier, status=shipment.status, external_id=shipment.external_id,
        tracking_number=shipment.tracking_number, tracking_url=shipment.tracking_url,
        label_url=shipment.label_url, cost=shipment.cost, cod_amount=shipment.cod_amount,
        carrier_status=shipment.carrier_status, provider_data=dict(shipment.provider_data or {}),
        created_at=_iso(shipment.created_at), updated_at=_iso(shipment.updated_at),
    )


def _payload(shipment: Shipment, order: Order) -> dict[str, Any]:
    return {"shipment_id": shipment.id, "order_id": order.id, "order_number": order.number,
            "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url, "status": shipment.status,
            "phone": order.phone, "locale": order.locale}


def _check_amount(name: str, value: object) -> None:
    """Amounts are non-negative integers in tiyin, bounded like every amount (never bool or float)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise InvalidInput(f"{name} must be a non-negative integer (tiyin)", code="invalid_amount",
                           details={"field": name})


def _check_status(status: str) -> None:
    if status not in SHIPMENT_STATUSES:
        raise InvalidInput(f"unknown shipment status {status!r}", code="invalid_shipment_status",
                           details={"allowed": list(SHIPMENT_STATUSES)})


class ShipmentService:
    """Create shipments, change their status, and reach the carrier's optional methods."""

    def __init__(self, toolbox: Any) -> None:
        self.toolbox = toolbox

    # -------------------------------------------------------------- reads
    def get(self, shipment_id: str) -> ShipmentView:
        with self.toolbox.db.session() as session:
            shipment = session.get(Shipment, shipment_id)
            if shipment is None:
                raise NotFound("no such shipment", code="shipment_not_found")
            return _view(shipment, session.get(Order, shipment.order_id))

    def for_order(self, order_id: str) -> list[ShipmentView]:
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            rows = session.scalars(select(Shipment).where(Shipment.order_id == order_id)
                                   .order_by(Shipment.created_at)).all()
            return [_view(s, order) for s in rows]

    def find(self, provider_id: str, *, external_id: str | None = None, tracking_number: str | None = None,
             order_number: str | None = None) -> ShipmentView | None:
        """The provider's shipment with this carrier id, tracking number or our order number."""
        stmt = select(Shipment, Order).join(Order, Order.id == Shipment.order_id).where(
            Shipment.provider_id == provider_id)
        if external_id is not None:
            stmt = stmt.where(Shipment.external_id == external_id)
        elif tracking_number is not None:
            stmt = stmt.where(Shipment.tracking_number == tracking_number)
        elif order_number is not None:
            stmt = stmt.where(Order.number == order_number)
        else:
            raise ValueError("give external_id, tracking_number or order_number")
        with self.toolbox.db.session() as session:
            row = session.execute(stmt.limit(1)).first()
            return _view(row[0], row[1]) if row else None

    def open_shipments(self, provider_id: str, *, limit: int = 200) -> list[ShipmentView]:
        """The provider's shipments not yet final, least recently updated first (for polling)."""
        stmt = (select(Shipment, Order).join(Order, Order.id == Shipment.order_id)
                .where(Shipment.provider_id == provider_id,
                       Shipment.status.not_in(FINAL_SHIPMENT_STATUSES))
                .order_by(Shipment.updated_at).limit(limit))
        with self.toolbox.db.session() as session:
            return [_view(s, o) for s, o in session.execute(stmt).all()]

    def shipments_to_poll(self, provider_id: str, *, limit: int = 200) -> list[ShipmentView]:
        """The next ``limit`` open shipments of ``provider_id`` to ask the carrier about.

        Successive calls walk all open shipments in id order and wrap around (the position is in
        the key store, so any process continues where the last poll stopped): with more open
        shipments than ``limit``, every one is still polled within ``ceil(open / limit)`` calls.
        """
        key = f"fulfillment:poll:{provider_id}"
        after = self.toolbox.keystore.get(key) or ""
        base = (select(Shipment, Order).join(Order, Order.id == Shipment.order_id)
                .where(Shipment.provider_id == provider_id, Shipment.status.not_in(FINAL_SHIPMENT_STATUSES))
                .order_by(Shipment.id))
        with self.toolbox.db.session() as session:
            rows = session.execute(base.where(Shipment.id > after).limit(limit)).all()
            if len(rows) < limit and after:  # the end: wrap around to the start
                taken = {s.id for s, _ in rows}
                rows += [r for r in session.execute(base.where(Shipment.id <= after).limit(limit - len(rows))).all()
                         if r[0].id not in taken]
        views = [_view(s, o) for s, o in rows]
        position = views[-1].id if len(views) == limit else ""
        self.toolbox.keystore.set(key, position, POLL_POSITION_TTL)
        return views

    def request_for(self, order_id: str) -> ShipmentRequest:
        """What a carrier needs to ship ``order_id``; ``cash_on_delivery`` set for unpaid orders."""
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            if order is None:
                raise NotFound("no such order", code="order_not_found")
            payment = payment_of(session, order_id)
            unpaid = order.payment_status not in ("paid", "refunded") and (
                payment is None or payment.status != "captured")
            cod = order.total if unpaid and (payment is None or not is_online(self.toolbox, payment)) else 0
            address = Address(**order.address) if order.address else None
            lines = tuple(LineView(i.variant_id, i.sku, i.title, i.quantity, i.unit_price, i.weight_grams or None,
                                   i.mxik_code, i.package_code, i.vat_percent) for i in order.items)
            return ShipmentRequest(order_id=order.id, order_number=order.number or "", locale=order.locale,
                                   phone=order.phone, address=address, shipping=dict(order.shipping or {}),
                                   lines=lines, subtotal=order.subtotal, shipping_total=order.shipping_total,
                                   total=order.total, cash_on_delivery=cod, email=order.email)

    # -------------------------------------------------------------- changes
    def create(self, order_id: str, *, provider_id: str, carrier: str, draft: ShipmentDraft | None = None,
               cod_amount: int = 0, actor: str = "system") -> ShipmentView:
        """Record a shipment for ``order_id`` (idempotent on ``(provider_id, order_id)``).

        A second call for the same order and provider returns the first shipment unchanged.
        Emits ``shipment.created``; a draft with a later status also applies that status.
        """
        draft = draft or ShipmentDraft()
        _check_status(draft.status)
        _check_amount("cod_amount", cod_amount)
        if draft.cost is not None:
            _check_amount("cost", draft.cost)
        with self.toolbox.db.transaction() as session:
            order, payment = lock_order(session, order_id)
            existing = session.scalar(select(Shipment).where(Shipment.provider_id == provider_id,
                                                             Shipment.order_id == order_id))
            if existing is not None:
                return _view(existing, order)
            if order.status == "canceled":
                raise Conflict("a canceled order is not shipped", code="order_canceled")
            shipment = Shipment(
                id=new_id("shp"), order_id=order_id, provider_id=provider_id, carrier=carrier, status="created",
                external_id=draft.external_id, tracking_number=draft.tracking_number,
                tracking_url=draft.tracking_url, label_url=draft.label_url, cost=draft.cost,
                cod_amount=cod_amount, provider_data=dict(draft.data),
            )
            session.add(shipment)
            session.flush()
            note(order, "shipment_created", f"{carrier} {draft.tracking_number or ''}".strip(), actor)
            emit(session, "shipment.created", _payload(shipment, order))
            if draft.status != "created":
                self._apply(session, shipment, order, payment, draft.status, actor=actor, message="")
            return _view(shipment, order)

    def set_status(self, shipment_id: str, status: str, *, carrier_status: str | None = None,
                   actor: str = "system", message: str = "") -> ShipmentView:
        """Move a shipment to ``status`` and the order with it (see the module doc).

        The same status again is a no-op (webhooks repeat); a move out of a final status is a
        409 ``invalid_shipment_transition``. Emits ``shipment.status_changed``.
        """
        _check_status(status)
        with self.toolbox.db.transaction() as session:
            shipment = session.get(Shipment, shipment_id)
            if shipment is None:
                raise NotFound("no such shipment", code="shipment_not_found")
            order, payment = lock_order(session, shipment.order_id)
            shipment = session.scalar(select(Shipment).where(Shipment.id == shipment_id).with_for_update())
            if carrier_status is not None:
                shipment.carrier_status = carrier_status[:40]
            if status != shipment.status:
                if status not in _ALLOWED[shipment.status]:
                    raise Conflict(f"a {shipment.status} shipment cannot become {status}",
                                   code="invalid_shipment_transition",
                                   details={"status": shipment.status, "requested": status})
                self._apply(session, shipment, order, payment, status, actor=actor, message=message)
            return _view(shipment, order)

    def update(self, shipment_id: str, *, tracking_number: str | None = None, tracking_url: str | None = None,
               label_url: str | None = None, cost: int | None = None,
               provider_data: dict[str, Any] | None = None) -> ShipmentView:
        """Fill in carrier details learnt later (a label URL, the final cost); ``None`` keeps a value."""
        if cost is not None:
            _check_amount("cost", cost)
        with self.toolbox.db.transaction() as session:
            shipment = session.scalar(select(Shipment).where(Shipment.id == shipment_id).with_for_update())
            if shipment is None:
                raise NotFound("no such shipment", code="shipment_not_found")
            for key, value in (("tracking_number", tracking_number), ("tracking_url", tracking_url),
                               ("label_url", label_url), ("cost", cost)):
                if value is not None:
                    setattr(shipment, key, value)
            if provider_data:
                shipment.provider_data = {**(shipment.provider_data or {}), **provider_data}
            return _view(shipment, session.get(Order, shipment.order_id))

    def _apply(self, session: Session, shipment: Shipment, order: Order, payment: Any, status: str, *,
               actor: str, message: str) -> None:
        previous = shipment.status
        shipment.status = status
        if status == "in_transit":
            if order.status == "placed" and order.fulfillment_status in ("unfulfilled", "fulfilled"):
                inventory.convert(session, order.id)
                order.fulfillment_status = "in_transit"
        elif status == "delivered":
            if order.status == "placed":
                deliver_in_session(self.toolbox, session, order, payment, actor=actor)
            else:
                order.fulfillment_status = "delivered"
        else:  # returned, canceled
            order.fulfillment_status = status
        note(order, f"shipment_{status}", message or f"{shipment.carrier}: {previous} → {status}", actor)
        emit(session, "shipment.status_changed", {**_payload(shipment, order), "previous_status": previous})

    # -------------------------------------------------------------- through the carrier
    def _fulfiller(self, provider_id: str, capability: str) -> Any:
        provider = self.toolbox.shipping_providers.get(provider_id)
        if provider is None:
            raise InvalidInput(f"unknown shipping provider {provider_id!r}", code="unknown_shipping_provider")
        if not supports(provider, capability):
            raise InvalidInput(f"shipping provider {provider_id!r} cannot {capability.replace('_', ' ')}",
                               code="not_supported", details={"capability": capability})
        return provider

    def ship(self, order_id: str, provider_id: str | None = None, *, actor: str = "system") -> ShipmentView:
        """Create the carrier's shipment for ``order_id`` (its chosen provider by default); idempotent."""
        request = self.request_for(order_id)
        provider_id = provider_id or request.shipping.get("provider_id")
        if not provider_id:
            raise InvalidInput("the order has no shipping provider", code="unknown_shipping_provider")
        provider = self._fulfiller(provider_id, "create_shipment")
        with self.toolbox.db.session() as session:
            order = session.get(Order, order_id)
            existing = session.scalar(select(Shipment).where(Shipment.order_id == order_id,
                                                             Shipment.provider_id == provider_id))
            if existing is not None:
                return _view(existing, order)
            if order.status == "canceled":  # never ask a carrier to ship it
                raise Conflict("a canceled order is not shipped", code="order_canceled")
        draft: ShipmentDraft = resolve(provider.create_shipment(request))
        return self.create(order_id, provider_id=provider_id, carrier=getattr(provider, "name", provider_id),
                           draft=draft, cod_amount=request.cash_on_delivery, actor=actor)

    def cancel(self, shipment_id: str, *, actor: str = "system") -> ShipmentView:
        """Cancel at the carrier (its ``cancel_shipment``), then mark the shipment canceled."""
        shipment = self.get(shipment_id)
        if shipment.status == "canceled":
            return shipment
        if shipment.final:
            raise Conflict(f"a {shipment.status} shipment cannot be canceled", code="invalid_shipment_transition")
        provider = self._fulfiller(shipment.provider_id, "cancel_shipment")
        resolve(provider.cancel_shipment(shipment))
        return self.set_status(shipment_id, "canceled", actor=actor, message="canceled at the carrier")

    def label(self, shipment_id: str) -> ShipmentLabel:
        """The carrier's label document for the shipment."""
        shipment = self.get(shipment_id)
        provider = self._fulfiller(shipment.provider_id, "label")
        return resolve(provider.label(shipment))

    def refresh(self, shipment_id: str, *, actor: str = "system") -> ShipmentView:
        """Ask the carrier (``track``) for the current status and apply it when it moved forward."""
        shipment = self.get(shipment_id)
        provider = self._fulfiller(shipment.provider_id, "track")
        update = resolve(provider.track(shipment))
        if update is None:
            return shipment
        if update.status == shipment.status:
            if update.carrier_status and update.carrier_status != shipment.carrier_status:
                return self.set_status(shipment_id, shipment.status, carrier_status=update.carrier_status)
            return shipment
        if update.status not in _ALLOWED[shipment.status]:
            return shipment
        return self.set_status(shipment_id, update.status, carrier_status=update.carrier_status, actor=actor,
                               message=update.message)
