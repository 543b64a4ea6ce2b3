"""Photos sent with a report: images only, size-limited, identified by their SHA-256.

A file is accepted when Pillow can read it as one of :data:`FORMATS` (the bytes are
checked, not the name or the declared type, so a renamed PDF is refused), it is no
larger than the configured limit, and its pixel count is sane (a decompression bomb
is refused before it is decoded).  An accepted photo is re-encoded from its pixels, so
that nothing but the picture is kept: EXIF (the GPS position where it was taken, the
phone's serial number, the owner's name), XMP, IPTC and text chunks are dropped and the
original bytes are not stored.  The camera's orientation is applied to the pixels first,
so the photo still shows upright.  The checksum of what is stored lets anyone verify
later that the evidence was not altered.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from gis.errors import EtlError, InvalidInput

#: Image formats a phone or tablet sends, as Pillow names them → the MIME type stored.
FORMATS: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: Most pixels an accepted photo may have (a 50-megapixel camera fits).
MAX_PIXELS = 60_000_000


class PhotoRejected(EtlError, InvalidInput):
    """The file is not an accepted image, or too large; the message says which and the fix."""


@dataclass(frozen=True)
class Photo:
    """An accepted photo: its bytes, MIME type, size and checksum."""

    data: bytes
    content_type: str
    sha256: str
    width: int
    height: int

    @property
    def size_bytes(self) -> int:
        """Size of the file in bytes."""
        return len(self.data)


def check_photo(data: bytes, *, max_bytes: int, filename: str | None = None) -> Photo:
    """Accept ``data`` as a photo or say why not.

    Parameters
    ----------
    data
        The uploaded file.
    max_bytes
        The size limit (``WANGGE_PHOTO_MAX_BYTES``).
    filename
        Named in messages only.

    Raises
    ------
    PhotoRejected
        Empty, too large, not an image, an image of another format, or too many pixels.
    """
    name = f"{filename!r}" if filename else "the photo"
    if not data:
        raise PhotoRejected(f"{name} is empty; attach a JPEG, PNG or WebP image")
    if len(data) > max_bytes:
        raise PhotoRejected(
            f"{name} is {len(data) / 1e6:.1f} MB, more than the {max_bytes / 1e6:.1f} MB "
            "allowed; send a smaller or more compressed image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, width, height = image.format, image.width, image.height
                if width * height > MAX_PIXELS:
                    raise PhotoRejected(
                        f"{name} has {width}×{height} pixels, more than {MAX_PIXELS:,}; "
                        "send a smaller image"
                    )
                image.verify()
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(
            f"{name} is not an image Wangge can read; attach a JPEG, PNG or WebP photo"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected(f"{name} is a damaged image ({exc}); take or export it again") from None
    if kind not in FORMATS:
        raise PhotoRejected(
            f"{name} is a {kind} image; only {', '.join(FORMATS)} photos are accepted"
        )
    clean = strip_metadata(data, kind)
    return Photo(clean.data, FORMATS[kind], hashlib.sha256(clean.data).hexdigest(), *clean.size)


@dataclass(frozen=True)
class _Clean:
    data: bytes
    size: tuple[int, int]


def strip_metadata(data: bytes, kind: str) -> _Clean:
    """The image of ``data`` re-encoded in its format ``kind`` with no metadata at all.

    Pillow writes only what it is given: without ``exif=``, ``pnginfo=`` or ``xmp=`` the
    new file holds the pixels (and, for colour fidelity, the ICC profile) and nothing
    else.  JPEG and WebP are re-compressed at quality 90, which keeps a photo of a
    broken street light as evidence while dropping what it said about its taker.
    """
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        icc = image.info.get("icc_profile")
        if kind == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        out = io.BytesIO()
        options: dict = {"icc_profile": icc} if icc else {}
        if kind in ("JPEG", "WEBP"):
            options["quality"] = 90
        upright.save(out, format=kind, **options)
        return _Clean(out.getvalue(), upright.size)
