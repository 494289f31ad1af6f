"""Pictures made in the test with Pillow: what a phone sends, and what an attacker does."""

from __future__ import annotations

import io
import zipfile

from PIL import ExifTags, Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def phone_jpeg(width: int = 400, height: int = 200) -> bytes:
    """A JPEG as a phone held upright writes it: the sensor's landscape pixels, EXIF
    Orientation 6 (turn 90° clockwise to show), and where it was taken (a GPS IFD). The
    left half is red, the right half blue: shown upright, red is on top."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "QunPhone"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 54.0, 26.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (116.0, 23.0, 29.0),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png_with_alpha(width: int = 300, height: int = 300) -> bytes:
    """A product cut out on a transparent background: a green square in the middle."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((30, 160, 60, 255), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def webp(width: int = 2400, height: int = 1200) -> bytes:
    """Larger than the full size: made smaller, never larger."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "WEBP", quality=80)
    return out.getvalue()


def plain_jpeg(shade: int, size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (shade, 255 - shade, 128)).save(out, "JPEG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (32, 32), 3).save(out, "GIF")
    return out.getvalue()


def bomb() -> bytes:
    """A 1-bit PNG of 12,000 x 6,000 pixels (72 megapixels) in a few KB: decoded as RGB
    it would take 216 MB."""
    out = io.BytesIO()
    Image.new("1", (12_000, 6_000), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    whole = phone_jpeg(800, 600)
    return whole[: len(whole) // 2]


def polyglot() -> bytes:
    """A JPEG that is also a zip archive (the archive appended after the picture's end)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.html", "<script>alert(document.cookie)</script>")
    return plain_jpeg(10) + archive.getvalue()


HTML_AS_JPEG = b"<!doctype html><html><body><script>alert(1)</script></body></html>\n"
