"""``InventoryService``: the stock operations a plugin may use (exported by ``toolbox_core.api``).

Each call opens its own short transaction, so call it from a route, a job or a subscriber —
never while you hold a transaction of your own. Reservations belong to checkout; a plugin only
reads stock and sets absolute stocked quantities (as an inventory source would).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from toolbox_core.inventory import service
from toolbox_core.inventory.service import LevelView
from toolbox_core.providers import StockLevel

if TYPE_CHECKING:  # pragma: no cover
    from toolbox_core.kernel import Toolbox


class InventoryService:
    """Read stock and set stocked quantities: ``InventoryService(toolbox)``."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox

    def available(self, skus: Iterable[str]) -> dict[str, int]:
        """Units available to sell (stocked − reserved, all locations) per SKU; unknown SKUs: 0."""
        with self.toolbox.db.session() as session:
            return service.available_by_sku(session, skus)

    def levels(self, sku: str) -> list[LevelView]:
        """Per-location ``LevelView(sku, location_code, stocked, reserved)`` of ``sku``, by location code."""
        with self.toolbox.db.session() as session:
            return service.levels(session, sku)

    def set_levels(self, levels: Iterable[StockLevel], *, source: str) -> list[str]:
        """Set absolute stocked quantities (``reserved`` is kept); returns the SKUs whose level changed.

        ``source`` names who set them (your plugin's id) in the ``inventory.updated`` event,
        written in the same transaction for the changed SKUs only. A SKU not in the catalog
        (``unknown_sku``) or a negative or non-integer quantity is ``InvalidInput``. For a whole
        feed from an outside system, implement an ``InventorySource`` instead.
        """
        with self.toolbox.db.transaction() as session:
            return service.apply_levels(session, levels, source=source)
