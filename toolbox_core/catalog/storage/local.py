"""Local files under ``storage.local_path``, served by the app under ``storage.local_base_url``."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from toolbox_core.urls import absolute_url

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str], base_url: str, settings: Any = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.base_url = base_url.rstrip("/")
        self.settings = settings

    def path(self, key: str) -> Path:
        """The file of ``key``; refuses keys that would leave the storage folder."""
        if not _SAFE_KEY.match(key) or ".." in key.split("/"):
            raise FileNotFoundError(key)
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def url(self, key: str) -> str:
        return self.public_prefix() + key

    def public_prefix(self) -> str:
        """``url(key) == public_prefix() + key`` (lets readers build URLs by concatenation).

        Absolute: a path ``local_base_url`` (``/media``) is joined to ``public_base_url``, else
        to the current request's base URL (see :mod:`toolbox_core.urls`).
        """
        base = absolute_url(self.settings, self.base_url) if self.settings is not None else self.base_url
        return f"{base}/"
