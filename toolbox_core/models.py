"""Imports every kernel model so ``Base.metadata`` is complete (Alembic, tests)."""

from toolbox_core.admin import models as admin_models  # noqa: F401
from toolbox_core.cart import models as cart_models  # noqa: F401
from toolbox_core.catalog import models as catalog_models  # noqa: F401
from toolbox_core.customers import models as customer_models  # noqa: F401
from toolbox_core.events import models as event_models  # noqa: F401
from toolbox_core.fulfillment import models as fulfillment_models  # noqa: F401
from toolbox_core.inventory import models as inventory_models  # noqa: F401
from toolbox_core.jobs import models as job_models  # noqa: F401
from toolbox_core.keystore import models as keystore_models  # noqa: F401
from toolbox_core.orders import models as order_models  # noqa: F401
from toolbox_core.payments import models as payment_models  # noqa: F401
