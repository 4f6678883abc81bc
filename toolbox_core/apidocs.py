"""``/docs`` (Swagger UI) and ``/redoc`` served with local assets: they work offline.

FastAPI's own pages load their JavaScript and CSS from a CDN (and ReDoc its fonts from
Google), so they are blank on a shop's closed network. The asset files come from the
``fastapi-offline`` package (MIT; Swagger UI and ReDoc builds, kept in step with FastAPI's CDN
versions) and are served under :data:`ASSETS_URL`; the pages are FastAPI's own HTML pointed at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the Swagger UI and ReDoc files are served.
ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL = "/docs", "/redoc", "/docs/oauth2-redirect"


def install_api_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Add ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` to an app built with ``docs_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            # The default online validator would load its badge from swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False,
        )


#: The one error shape every error response has (``toolbox_core.errors``), as an OpenAPI schema.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable (e.g. invalid_input)"},
                "message": {"type": "string", "description": "for people, in the request's locale when translated"},
                "details": {"description": "what the code needs (e.g. the fields), or null",
                            "anyOf": [{"type": "object"}, {"type": "array", "items": {}}, {"type": "null"}]},
                "request_id": {"type": "string", "description": "also the X-Request-ID response header"},
            },
        },
    },
}
_ERROR_REF = "#/components/schemas/Error"
#: FastAPI's own validation error schemas, which no response of this app has.
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")


def with_error_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI document with its real error shape: FastAPI declares every 422 as its
    ``HTTPValidationError`` (``{"detail": [...]}``), but the app answers every error as
    :data:`ERROR_SCHEMA`; each such response now points to ``Error``, and FastAPI's schemas go."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                media = response.get("content", {}).get("application/json", {})
                if media.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1] in _FASTAPI_ERRORS:
                    media["schema"] = {"$ref": _ERROR_REF}
                    response["description"] = "Invalid input (code invalid_input, the fields in details)"
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERRORS:
        components.pop(name, None)
    components["Error"] = ERROR_SCHEMA
    return schema


def install_error_shape(app: FastAPI) -> None:
    """Serve :func:`with_error_shape` of the document FastAPI builds (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_shape(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
