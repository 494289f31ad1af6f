"""Product photos: how many a product has, and why an upload is refused (a stable code each).

shared/images.py decides whether a file is a picture we take; its BadImage says why in
words. Here each reason gets the code and status a client branches on:

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

from shared.images import BadImage

MAX_PHOTOS = 10  # per product; OfferOpened/OfferUpdated carry at most this many

STATUSES: dict[str, int] = {
    "image_too_large": 413,
    "image_empty": 422,
    "not_an_image": 415,
    "unsupported_image_format": 415,
    "image_too_many_pixels": 422,
    "image_damaged": 422,
    "image_has_hidden_data": 422,
}

# How BadImage's words (shared/images.py) begin -> our code; the first match wins. The
# tests upload one file of each kind, so a change of wording there fails here, not in a
# client. Anything else it says (damaged, truncated, no pixels) is `image_damaged`.
_REASONS: tuple[tuple[str, str], ...] = (
    ("the file is empty", "image_empty"),
    ("the file carries data after the end", "image_has_hidden_data"),
    ("the file is ", "image_too_large"),  # "the file is N bytes; the limit is M"
    ("not a picture", "not_an_image"),
    ("the picture has more than", "image_too_many_pixels"),
    ("the picture has no pixels", "image_damaged"),
    ("the picture has ", "image_too_many_pixels"),  # "the picture has N pixels; the limit..."
)


class PhotoRefused(ValueError):
    """An upload that is not a photo we keep: `code` says why (see the table above)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.status = STATUSES[code]


def refusal(exc: BadImage) -> PhotoRefused:
    words = str(exc)
    if "pictures are not taken" in words:  # "GIF pictures are not taken: ..."
        return PhotoRefused("unsupported_image_format", words)
    for start, code in _REASONS:
        if words.startswith(start):
            return PhotoRefused(code, words)
    return PhotoRefused("image_damaged", words)
