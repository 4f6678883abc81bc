"""Uploaded images are re-encoded: EXIF (GPS), comments and bytes appended after the image are gone."""

from __future__ import annotations

import io

from PIL import Image

APPENDED = b"<script>alert(1)</script>PK\x03\x04 appended archive"


def jpeg_with_gps_and_a_tail() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to show
    exif[0x8825] = {1: "N", 2: (41.0, 18.0, 0.0), 3: "E", 4: (69.0, 16.0, 0.0)}  # GPS: Tashkent
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 120, 200)).save(buf, "JPEG", exif=exif, comment=b"shot by staff phone")
    return buf.getvalue() + APPENDED


def test_the_stored_image_has_no_metadata_and_nothing_appended(client, admin, make_product):
    make_product()
    original = jpeg_with_gps_and_a_tail()
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the upload does carry a position
    response = client.post("/admin/products/drill-x18/images", files={"file": ("p.jpg", original, "image/jpeg")},
                           headers=admin)
    assert response.status_code == 201, response.text
    image = response.json()
    assert (image["width"], image["height"]) == (20, 40)  # the orientation was applied to the pixels
    served = client.get(image["url"])
    assert served.headers["x-content-type-options"] == "nosniff"
    stored = served.content
    assert APPENDED not in stored and b"staff phone" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and img.size == (20, 40)
        assert not img.getexif() and "comment" not in img.info


def test_a_file_that_only_looks_like_an_image_format_we_do_not_take_is_refused(client, admin, make_product):
    make_product()
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    response = client.post("/admin/products/drill-x18/images", files={"file": ("a.png", buf.getvalue(), "image/png")},
                           headers=admin)
    assert response.status_code == 415
