"""Every request field the API documents is bounded: a meta-test over the OpenAPI schema.

The kernel and the five shipped plugins are enabled; every request body, query, path and header
parameter is walked (through ``$ref``, ``anyOf``, arrays and maps). An integer needs a
``minimum`` and a ``maximum`` (a Python ``int`` has no size, the database columns do: past
them SQL fails with a 500); a string needs a ``maxLength``. A new endpoint with a bare
``int`` or ``str`` fails here, naming the field.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from toolbox_core.app import create_app

#: The shipped plugins and the least settings each needs to load.
PLUGINS = {
    "payme": {"merchant_id": "m1", "key": "payme-key"},
    "click": {"service_id": 1, "merchant_id": 1, "secret_key": "click-secret"},
    "bts": {"login": "shop", "password": "secret", "webhook_secret": "w" * 32},
    "eskiz": {"email": "shop@example.uz", "password": "secret"},
    "moysklad": {"token": "moysklad-token"},
}

#: Fields bounded elsewhere than in their schema (``fnmatch`` patterns), each with the reason.
ALLOWED = (
    # An uploaded image: a file, read with its own byte limit (read_limited, http.max_upload_bytes).
    "POST /admin/products/{ref}/images body.file",
    # The cart's schemas and routes (toolbox_core/cart, owned by the cart module): a line's
    # quantity is capped by the *setting* cart.max_quantity_per_line (so no fixed maximum in
    # the schema; the check is in Python, before any SQL); shipping data is checked by a
    # validator (≤ 10 entries, keys ≤ 64, values ≤ 200 characters) and then by the provider;
    # a cart or variant id in a cart's path is only looked up (a longer one is a 404).
    "* /store/carts/* body.quantity",
    "POST /store/carts/{cart_id}/shipping body.data{}",
    "* /store/carts/* path:cart_id",
    "* /store/carts/{cart_id}/lines/{variant_id} path:variant_id",
)


def unbounded_fields(spec: dict[str, Any]) -> list[str]:
    """``"METHOD /path place.field: what is missing"`` for every unbounded request field."""
    schemas = spec.get("components", {}).get("schemas", {})
    found: list[str] = []

    def walk(schema: Any, where: str, seen: frozenset[str]) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        if schema.get("readOnly"):
            return  # answered, never read (e.g. an address's id)
        kind = schema.get("type")
        fixed = "enum" in schema or "const" in schema
        if kind == "integer" and not fixed:
            if "maximum" not in schema and "exclusiveMaximum" not in schema:
                found.append(f"{where}: integer without maximum")
            if "minimum" not in schema and "exclusiveMinimum" not in schema:
                found.append(f"{where}: integer without minimum")
        if kind == "string" and not fixed and "maxLength" not in schema and schema.get("format") not in (
                "date", "date-time"):
            found.append(f"{where}: string without maxLength")
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for part in schema.get(key, ()):
                walk(part, where, seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}{{}}", seen)
        for name, part in schema.get("properties", {}).items():
            walk(part, f"{where}.{name}", seen)

    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", ()):
                walk(parameter.get("schema", {}), f"{label} {parameter['in']}:{parameter['name']}", frozenset())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), f"{label} body", frozenset())
    return sorted({f for f in found if not any(fnmatchcase(f.rsplit(": ", 1)[0], a) for a in ALLOWED)})


def test_every_request_field_of_the_kernel_and_the_shipped_plugins_is_bounded(make_toolbox):
    toolbox = make_toolbox(list(PLUGINS), PLUGINS)
    spec = create_app(toolbox=toolbox).openapi()
    assert len(spec["paths"]) > 50  # the plugins' routes are in
    assert unbounded_fields(spec) == []


class _Careless(BaseModel):
    """A body as a new endpoint might be written: bare ``int`` and ``str``."""

    count: int
    fine: int = Field(0, ge=0, le=10)
    name: str
    tags: list[str] = []
    labels: dict[str, str] = {}


def test_an_unbounded_field_is_named():
    app = FastAPI()

    @app.post("/things/{key}")
    def make(key: str, body: _Careless, page: int = 1) -> None: ...

    assert unbounded_fields(app.openapi()) == [
        "POST /things/{key} body.count: integer without maximum",
        "POST /things/{key} body.count: integer without minimum",
        "POST /things/{key} body.labels{}: string without maxLength",
        "POST /things/{key} body.name: string without maxLength",
        "POST /things/{key} body.tags[]: string without maxLength",
        "POST /things/{key} path:key: string without maxLength",
        "POST /things/{key} query:page: integer without maximum",
        "POST /things/{key} query:page: integer without minimum",
    ]
