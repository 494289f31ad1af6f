"""Product photos: how many a product has, and why an upload is refused (a stable code each).

shared/images.py decides whether a file is a picture we take; its BadImage carries the
code and status a client branches on (the same in every service):

| code                       | status | the upload                                         |
|----------------------------|--------|----------------------------------------------------|
| `image_too_large`          | 413    | is over PHOTO_MAX_BYTES                            |
| `image_empty`              | 422    | has no bytes                                       |
| `not_an_image`             | 415    | is no picture at all (text, a page, a zip...)      |
| `unsupported_image_format` | 415    | is a picture, not JPEG, PNG or WebP (GIF, BMP...)  |
| `image_too_many_pixels`    | 422    | claims more than 40 megapixels (a decompression bomb) |
| `image_damaged`            | 422    | is truncated or broken                             |
| `image_has_hidden_data`    | 422    | carries data after the picture's end (a polyglot)  |
"""

from __future__ import annotations

from shared.images import STATUSES, BadImage

MAX_PHOTOS = 10  # per product; OfferOpened/OfferUpdated carry at most this many


class PhotoRefused(ValueError):
    """An upload that is not a photo we keep: `code` says why (see the table above)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.status = STATUSES[code]


def refusal(exc: BadImage) -> PhotoRefused:
    return PhotoRefused(exc.code, str(exc))
