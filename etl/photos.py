"""Photos sent with a report: images only, size-limited, identified by their SHA-256.

A file is accepted when Pillow can read it as one of :data:`FORMATS` (the bytes are
checked, not the name or the declared type, so a renamed PDF is refused), it is no
larger than the configured limit, and its pixel count is sane (a decompression bomb
is refused before it is decoded).  The checksum stored with it lets anyone verify
later that the evidence was not altered.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

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
    return Photo(data, FORMATS[kind], hashlib.sha256(data).hexdigest(), width, height)
