"""Photos keep the picture and lose what it says about who took it, and where."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from etl.photos import PhotoRejected, check_photo

#: EXIF tags a phone writes: Make, Model, BodySerialNumber, Artist, Orientation, GPSInfo.
MAKE, MODEL, SERIAL, ARTIST, ORIENTATION, GPS = 0x010F, 0x0110, 0xA431, 0x013B, 0x0112, 0x8825


def _phone_jpeg(orientation: int = 1) -> bytes:
    """A 40×20 JPEG as a phone sends it: position, serial number, owner, orientation."""
    image = Image.new("RGB", (40, 20), (250, 250, 250))
    image.paste((200, 20, 20), (0, 0, 10, 20))  # a red band on the left edge
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ARTIST] = "Huawei", "P60", "张三"
    exif[SERIAL] = "SN-4471-0042"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS).update({1: "N", 2: (32.0, 3.0, 30.0), 3: "E", 4: (118.0, 47.0, 4.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_a_phone_photo_loses_position_serial_and_owner() -> None:
    sent = _phone_jpeg()
    assert b"SN-4471-0042" in sent and Image.open(io.BytesIO(sent)).getexif().get_ifd(GPS)
    kept = check_photo(sent, max_bytes=5_000_000, filename="hole.jpg")
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == "JPEG" and image.size == (40, 20)
        assert not image.getexif() and "exif" not in image.info
        assert image.getpixel((2, 10))[0] > 150  # the picture itself is still there
    assert b"SN-4471-0042" not in kept.data and "张三".encode() not in kept.data
    assert b"Huawei" not in kept.data and kept.data != sent


def test_a_rotated_photo_stays_upright_once_its_orientation_tag_is_gone() -> None:
    kept = check_photo(_phone_jpeg(orientation=6), max_bytes=5_000_000)  # 90° clockwise
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.size == (20, 40) and (kept.width, kept.height) == (20, 40)
        assert image.getpixel((10, 2))[0] > 150  # the red band is now along the top


def test_png_text_chunks_are_dropped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "李四 13812345678")
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 0)).save(out, format="PNG", pnginfo=info)
    kept = check_photo(out.getvalue(), max_bytes=5_000_000)
    assert b"13812345678" not in kept.data
    assert Image.open(io.BytesIO(kept.data)).getpixel((4, 4)) == (0, 90, 0)


def test_a_damaged_photo_is_still_refused() -> None:
    with pytest.raises(PhotoRejected, match="not an image"):
        check_photo(b"%PDF-1.4 not an image", max_bytes=5_000_000, filename="x.jpg")
