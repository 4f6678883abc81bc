"""``toolbox_core.testing``: the test kit for the kernel and for plugin authors.

Installed with ``toolbox-core`` and registered as a pytest plugin (entry point ``pytest11``),
so a plugin's tests get these fixtures with no ``conftest.py`` of their own:

* ``sqlite_url`` / ``pg_url`` / ``redis_url`` / ``redis_clean`` — a fresh migrated database or
  a Redis database of this test session (PostgreSQL and Redis tests are skipped when the
  service is missing, and **fail** when ``CI`` or ``TOOLBOX_TEST_REQUIRE_SERVICES`` is set);
* ``settings``, ``toolbox``, ``client`` — embedded-mode settings, a kernel and a ``TestClient``;
* ``make_toolbox(plugins=[...], plugin_settings={...}, database="sqlite"|"postgres",
  redis=False, **settings)`` — a migrated :class:`~toolbox_core.api.Toolbox` with the chosen
  plugins enabled and their settings given (closed at teardown);
* ``serve_fake(app)`` — serve an ASGI app (a fake of an outside API, or the store itself via
  ``create_app``) over real HTTP on 127.0.0.1; returns its base URL.

* ``capture_events`` — ``events = capture_events(toolbox)``: events committed since
  (``events.names()``, ``events.of(name)``, ``events.one(name)``);
* ``start_worker`` — ``worker = start_worker(toolbox)``: in-process workers and relay in the
  background, as ``toolbox serve`` runs them; ``worker.drain()`` waits for deliveries (or call
  ``toolbox.events.drain()`` to deliver in the test's own thread);
* ``make_client`` — ``client = make_client(toolbox)``: a ``TestClient`` on that toolbox's app;
* ``in_request()`` — whether the calling code is serving a request (for a test's SQL listener);
* ``request_statements(engine)`` — a context manager listing the SQL the served requests run
  (request threads only), for statement-budget tests;
* ``outside_calls`` — every ``httpx`` request of the test; the test fails if one was sent inside
  an open database transaction.

Contract suites (:mod:`toolbox_core.testing.contracts`): ``PaymentProviderContract``,
``ShippingProviderContract``, ``NotificationChannelContract``, ``OtpSenderContract``,
``InventorySourceContract`` — subclass one in your tests with a ``provider`` fixture.

Test doubles: :class:`RecordingChannel` (a notification channel that keeps what it sends).
``add_variant`` (a sellable product) and ``admin_headers`` (an admin API key) set up data.

The helpers behind the fixtures are importable for use outside pytest:
:class:`ServedApp` and :func:`serve_asgi`.
"""

from toolbox_core.testing.catalog import add_variant, admin_headers
from toolbox_core.testing.http import ServedApp, serve_asgi
from toolbox_core.testing.observe import (
           CapturedEvent,
           CapturedEvents,
           RunningWorker,
           in_request,
           request_statements,
)
from toolbox_core.testing.recording import RecordingChannel

__all__ = ["CapturedEvent", "CapturedEvents", "RecordingChannel", "RunningWorker", "ServedApp",
           "add_variant", "admin_headers", "in_request", "request_statements", "serve_asgi"]
