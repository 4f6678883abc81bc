"""File storage for product images: local files (embedded) or S3-compatible (MinIO, AWS).

Pick with ``TOOLBOX_STORAGE__BACKEND``. boto3 is imported only when the S3 backend is built,
so the embedded mode starts fast.
"""

from __future__ import annotations

from typing import Any, Protocol


class Storage(Protocol):
    """Where uploaded files live and how a browser reaches them."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (overwrite)."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key`` (``FileNotFoundError`` when missing)."""

    def delete(self, key: str) -> None:
        """Remove ``key``; missing keys are fine."""

    def url(self, key: str) -> str:
        """A public or presigned URL for ``key``."""


def build_storage(settings: Any) -> Storage:
    """The backend described by ``settings.storage``."""
    cfg = settings.storage
    if cfg.backend == "s3":
        from toolbox_core.catalog.storage.s3 import S3Storage

        return S3Storage(cfg)
    from toolbox_core.catalog.storage.local import LocalStorage

    return LocalStorage(cfg.local_path, cfg.local_base_url, settings)


def get_storage(toolbox: Any) -> Storage:
    """The process's storage backend for ``toolbox`` (built once)."""
    cached = getattr(toolbox, "_catalog_storage", None)
    if cached is None:
        cached = build_storage(toolbox.settings)
        toolbox._catalog_storage = cached
    return cached
