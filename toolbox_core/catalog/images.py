"""Product image upload: size and type checked with Pillow, then re-encoded before storing.

Re-encoding keeps only the pixels: EXIF (GPS position, camera serial), ICC-less metadata,
comments and anything appended after the image's end (a polyglot file) are dropped.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, or_, select

from toolbox_core.catalog import models as m
from toolbox_core.catalog.storage import get_storage
from toolbox_core.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
from toolbox_core.ids import new_id

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"), "GIF": ("image/gif", "gif")}


def read_limited(stream: Any, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` from a file object; 413 if there is more."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    return data


def inspect_image(data: bytes) -> tuple[str, str, int, int]:
    """``(content_type, extension, width, height)`` of an accepted image, else 415."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidInput("the file is empty", code="empty_file")
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedMedia("the file is not an image we accept (JPEG, PNG, WebP or GIF)") from None
    if fmt not in FORMATS:
        raise UnsupportedMedia(f"{fmt} images are not accepted; use JPEG, PNG, WebP or GIF")
    content_type, ext = FORMATS[fmt]
    return content_type, ext, width, height


#: ``info`` entries that describe the pixels, not the photo (kept when re-encoding).
_DRAWING_INFO = frozenset({"transparency", "icc_profile", "gamma"})
_ANIMATION_INFO = _DRAWING_INFO | {"loop", "duration", "background", "disposal", "blend"}


def reencode_image(data: bytes) -> bytes:
    """The image decoded and encoded again in its own format, with no metadata kept.

    The EXIF orientation is applied to the pixels first, so a photo still stands upright.
    Animated GIFs and WebPs keep their frames.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
        fmt = img.format
        animated = getattr(img, "is_animated", False)
        out = io.BytesIO()
        if animated:
            img.info = {k: v for k, v in img.info.items() if k in _ANIMATION_INFO}
            img.save(out, format=fmt, save_all=True, loop=img.info.get("loop", 0),
                     duration=img.info.get("duration", 100))
            return out.getvalue()
        clean = ImageOps.exif_transpose(img)  # a copy of the pixels, orientation applied
        # Pillow writes back what ``info`` holds (EXIF, XMP, comments): keep only how to draw it.
        clean.info = {k: v for k, v in clean.info.items() if k in _DRAWING_INFO}
        if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        options: dict[str, Any] = {"JPEG": {"quality": 90, "optimize": True}, "PNG": {"optimize": True},
                                   "WEBP": {"quality": 90}, "GIF": {}}[fmt]
        clean.save(out, format=fmt, **options)
        return out.getvalue()


def upload_image(toolbox: Any, product_ref: str, data: bytes, alt: str = "") -> dict[str, Any]:
    """Store an image for a product: file first, then the row; the file is removed if the row fails."""
    from toolbox_core.catalog.service import Catalog

    content_type, ext, width, height = inspect_image(data)
    try:
        data = reencode_image(data)
    except (OSError, ValueError, SyntaxError):
        raise UnsupportedMedia("the image could not be decoded; save it again as JPEG, PNG, WebP or GIF") from None
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size  # after the EXIF rotation
    with toolbox.db.session() as session:
        pid = session.scalar(select(m.Product.id).where(or_(m.Product.id == product_ref, m.Product.handle == product_ref)))
    if pid is None:
        raise NotFound(f"product {product_ref!r} not found")
    image_id = new_id("img")
    key = f"products/{pid}/{image_id}.{ext}"
    storage = get_storage(toolbox)
    storage.put(key, data, content_type)
    catalog = Catalog(toolbox)
    try:
        with toolbox.db.transaction() as session:
            product = catalog._product(session, pid)
            position = session.scalar(select(func.count()).where(m.ProductImage.product_id == pid)) or 0
            session.add(m.ProductImage(
                id=image_id, product_id=pid, storage_key=key, content_type=content_type,
                width=width, height=height, size_bytes=len(data), position=position, alt=alt[:300],
            ))
            catalog._touch(session, product)
    except Exception:
        storage.delete(key)
        raise
    return {"id": image_id, "url": storage.url(key), "width": width, "height": height, "content_type": content_type}


def delete_image(toolbox: Any, image_id: str) -> None:
    from toolbox_core.catalog.service import Catalog

    catalog = Catalog(toolbox)
    with toolbox.db.transaction() as session:
        image = session.get(m.ProductImage, image_id)
        if image is None:
            raise NotFound(f"image {image_id!r} not found")
        key = image.storage_key
        product = catalog._product(session, image.product_id)
        session.delete(image)
        catalog._touch(session, product)
    get_storage(toolbox).delete(key)
