"""Pictures people upload and the portal import brings: checked and re-encoded with Pillow, stored in the database.

Only real raster formats are accepted (JPEG, PNG, WebP, GIF; never SVG, which is a document that can carry script).
The input is bounded twice: its size in bytes (``MAX_PICTURE_BYTES``) before anything is decoded, and its pixel
count, read from the header, before the pixels are decoded (a small file can declare a huge canvas: a decompression
bomb). What is stored is always a fresh encoding made here — at most 512×512, orientation applied, no metadata at
all (so no EXIF, no GPS position) — keyed by the sha256 of its bytes, in the ``media`` table: nothing on local disk,
so it works on an ephemeral filesystem and behind several web processes.
"""
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from raf_network.errors import NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.network.models import Media

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
MAX_SIDE = 512
# Decoded size bound: a 24-megapixel phone photo passes, a declared 40000×40000 canvas does not.
MAX_PIXELS = 40_000_000
JPEG_QUALITY = 85
NOT_AN_IMAGE = "The file is not a picture in a supported format (JPEG, PNG, WebP or GIF)."


@dataclass(frozen=True)
class Picture:
    """A re-encoded picture, ready to store."""

    key: str
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes


def _refuse(message):
    return ValidationFailed(message, errors={"picture": [message]})


def picture_process(*, data, max_bytes):
    """Check ``data`` and re-encode it (JPEG, or PNG when it has transparency). Raises ValidationFailed (422)."""
    if not data:
        raise _refuse("The picture is empty.")
    if len(data) > max_bytes:
        raise _refuse(f"The picture is larger than {max_bytes} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            if image.width * image.height > MAX_PIXELS:
                raise _refuse(f"The picture is {image.width}×{image.height} pixels; at most {MAX_PIXELS} pixels "
                              "are accepted.")
            if image.format == "JPEG":
                image.draft("RGB", (MAX_SIDE * 2, MAX_SIDE * 2))  # decode at a reduced scale: much less work
            image.load()
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(f"The picture declares too many pixels; at most {MAX_PIXELS} are accepted.") from None
    except UnidentifiedImageError:
        raise _refuse(NOT_AN_IMAGE) from None
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt data behind a valid header
        raise _refuse("The picture is damaged or incomplete.") from None
    image = ImageOps.exif_transpose(image)  # apply the camera's orientation before the metadata goes
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    if has_alpha:
        image.save(output, format="PNG", optimize=True)
        content_type, extension = "image/png", "png"
    else:
        image.save(output, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        content_type, extension = "image/jpeg", "jpg"
    encoded = output.getvalue()
    return Picture(key=hashlib.sha256(encoded).hexdigest(), content_type=content_type, extension=extension,
                   width=image.width, height=image.height, data=encoded)


def picture_store(*, data, max_bytes):
    """Process ``data`` and store it unless the same picture is stored already; returns its ``Media`` row.
    No commit: the caller's transaction (the picture is stored together with what refers to it)."""
    picture = picture_process(data=data, max_bytes=max_bytes)
    media = db.session.get(Media, picture.key)
    if media is None:
        media = Media(key=picture.key, content_type=picture.content_type, extension=picture.extension,
                      width=picture.width, height=picture.height, size=len(picture.data), data=picture.data)
        db.session.add(media)
    return media


def media_get(*, key):
    """The stored picture with this key, or None."""
    return db.session.scalar(select(Media).where(Media.key == key))


def media_find(*, key, extension):
    """The stored picture served at ``/media/<key>.<extension>``; NotFound for an unknown key or another
    extension than its own."""
    media = media_get(key=key)
    if media is None or media.extension != extension:
        raise NotFound("no such picture")
    return media
