"""Pictures are checked and re-encoded: real raster formats only, bounded in bytes and pixels, no metadata kept,
at most 512×512, stored once per content."""
import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from raf_network.network.models import Media
from raf_network.network.pictures import MAX_PIXELS, picture_process, picture_store

LIMIT = 5 * 1024 * 1024


def _encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo_with_gps():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x8825] = {1: "N", 2: (44.0, 48.0, 30.0), 3: "E", 4: (20.0, 27.0, 0.0)}  # GPS: Belgrade
    return _encoded(Image.new("RGB", (1600, 1200), (30, 120, 200)), "JPEG", exif=exif)


def test_a_photo_is_resized_rotated_and_loses_all_metadata():
    picture = picture_process(data=_photo_with_gps(), max_bytes=LIMIT)
    stored = Image.open(io.BytesIO(picture.data))
    assert (picture.content_type, picture.extension, stored.format) == ("image/jpeg", "jpg", "JPEG")
    # 1600×1200 turned upright is 1200×1600, then fitted into 512×512.
    assert (stored.width, stored.height) == (picture.width, picture.height) == (384, 512)
    assert dict(stored.getexif()) == {}
    assert b"PhoneMaker" not in picture.data


def test_transparency_is_kept_as_png():
    picture = picture_process(data=_encoded(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG"), max_bytes=LIMIT)
    assert picture.content_type == "image/png"
    assert Image.open(io.BytesIO(picture.data)).mode == "RGBA"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a picture"),
    (b"%PDF-1.4 not a picture", "not a picture"),
    (_encoded(Image.new("RGB", (10, 10)), "BMP"), "not a picture"),
    (_encoded(Image.new("RGB", (100, 100)), "JPEG")[:200], "damaged"),
])
def test_what_is_not_a_supported_picture_is_refused(data, message):
    with pytest.raises(ValidationFailed) as refused:
        picture_process(data=data, max_bytes=LIMIT)
    assert refused.value.code == 422
    assert message in refused.value.message.lower()


def test_too_many_bytes_are_refused_before_decoding():
    data = _encoded(Image.new("RGB", (64, 64)), "PNG")
    with pytest.raises(ValidationFailed, match="larger than"):
        picture_process(data=data, max_bytes=len(data) - 1)


@pytest.mark.parametrize("side", [7000, 20000])
def test_a_decompression_bomb_is_refused_from_its_header(side):
    assert side * side > MAX_PIXELS
    data = _encoded(Image.new("1", (side, side)), "PNG")  # a small file declaring a huge canvas
    assert len(data) < LIMIT
    with pytest.raises(ValidationFailed, match="pixels"):
        picture_process(data=data, max_bytes=LIMIT)


def test_the_same_picture_is_stored_once(embedded_app):
    data = _encoded(Image.new("RGB", (300, 200), (1, 2, 3)), "PNG")
    with embedded_app.app_context():
        first = picture_store(data=data, max_bytes=LIMIT)
        db.session.commit()
        second = picture_store(data=data, max_bytes=LIMIT)
        db.session.commit()
        assert first.key == second.key
        assert first.path == f"/media/{first.key}.jpg"
        assert db.session.scalar(select(func.count()).select_from(Media)) == 1
