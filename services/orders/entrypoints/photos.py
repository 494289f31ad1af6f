"""HTTP: a product's photos for the host (upload, order, alt text, remove), and their
sizes served to anyone (`GET /photos/{name}`: public, immutable, content-addressed)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from services.orders.domain.photos import MAX_PHOTOS, PhotoRefused
from services.orders.entrypoints.deps import HostDep, OrdersDep
from services.orders.entrypoints.http import PhotoOut, photos_out
from shared.api import api_router
from shared.object_http import OBJECT_RESPONSES, serve_object
from shared.problems import ApiError, problem

router = api_router(tags=["catalog"])

PhotoIdPath = Annotated[str, Path(max_length=64, examples=["pho_3f9a1c2b7d4e"])]
# A multipart body is the file plus the boundaries, part headers and the alt text.
MULTIPART_SLACK = 64 * 1024
UPLOAD_PATH = re.compile(r"/products/[^/]+/photos")
# A refused upload's body is read and forgotten up to this many times the limit (nginx, in
# front, passes no more than the limit anyway).
DROP_AT_MOST = 8

UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    409: {"description": f"The product has {MAX_PHOTOS} photos already (`too_many_photos`)."},
    411: {"description": "No Content-Length (`length_required`): send the upload in one piece."},
    413: {"description": "The file is over PHOTO_MAX_BYTES (`image_too_large`): nothing stored."},
    415: {
        "description": "Not a picture (`not_an_image`: text, a page, an archive...), or not "
        "JPEG, PNG or WebP (`unsupported_image_format`: GIF...): nothing stored."
    },
    422: {
        "description": "A picture we do not keep: `image_empty` (no bytes), "
        "`image_too_many_pixels` (over 40 megapixels: a decompression bomb), `image_damaged` "
        "(truncated or broken), `image_has_hidden_data` (data after the picture's end: a "
        "polyglot); or a field missing (`invalid_request`). Nothing stored."
    },
}


class PhotoUpload(BaseModel):
    """multipart/form-data: the photo and, if wanted, its alt text."""

    file: UploadFile = Field(description="A JPEG, PNG or WebP photo (read by its content).")
    alt: str = Field(default="", max_length=300, description="What it shows, for screen readers.")


class PhotoOrderIn(BaseModel):
    photo_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        max_length=MAX_PHOTOS,
        description="Every photo of the product, once each, in the order to show them.",
    )


class PhotoEdit(BaseModel):
    alt: str = Field(max_length=300, description="What the photo shows, for screen readers.")


@router.post(
    "/products/{product_id}/photos",
    status_code=201,
    response_model=list[PhotoOut],
    responses=UPLOAD_ANSWERS,
)
async def add_photo(
    product_id: str,
    body: Annotated[PhotoUpload, Form(media_type="multipart/form-data")],
    orders: OrdersDep,
    host: HostDep,
) -> list[PhotoOut]:
    """Add a photo (multipart: `file`, optional `alt`), up to 10 per product. Read by its
    content, not its name; turned upright, stripped of EXIF (a phone's GPS position) and
    stored as JPEGs of three sizes (`thumb` 240, `card` 720, `full` 1600 px). Open offers
    of the product show it at once. Answers the product's photos."""
    data = await body.file.read(orders.photos.max_bytes + 1)
    try:
        rows = await orders.photos.add(product_id, host.id, host.is_admin, data, body.alt)
    except PhotoRefused as exc:
        raise ApiError(exc.status, str(exc), exc.code) from None
    return photos_out(rows)


@router.get("/products/{product_id}/photos", response_model=list[PhotoOut])
async def list_photos(product_id: str, orders: OrdersDep, host: HostDep) -> list[PhotoOut]:
    """The product's photos in the host's order (the first is the card's)."""
    return photos_out(await orders.photos.of_product(product_id, host.id, host.is_admin))


@router.put(
    "/products/{product_id}/photos/order",
    response_model=list[PhotoOut],
    responses={
        409: {
            "description": "The list does not name each of the product's photos exactly once "
            "(`photo_order_mismatch`): reload them and try again."
        }
    },
)
async def order_photos(
    product_id: str, body: PhotoOrderIn, orders: OrdersDep, host: HostDep
) -> list[PhotoOut]:
    """Put the photos in this order; the first becomes the card's."""
    rows = await orders.photos.reorder(product_id, host.id, host.is_admin, body.photo_ids)
    return photos_out(rows)


@router.patch("/products/{product_id}/photos/{photo_id}", response_model=list[PhotoOut])
async def edit_photo(
    product_id: str, photo_id: PhotoIdPath, body: PhotoEdit, orders: OrdersDep, host: HostDep
) -> list[PhotoOut]:
    """Change a photo's alt text. Answers the product's photos."""
    rows = await orders.photos.describe(product_id, photo_id, host.id, host.is_admin, body.alt)
    return photos_out(rows)


@router.delete("/products/{product_id}/photos/{photo_id}", response_model=list[PhotoOut])
async def remove_photo(
    product_id: str, photo_id: PhotoIdPath, orders: OrdersDep, host: HostDep
) -> list[PhotoOut]:
    """Remove a photo (its stored sizes too, unless another photo is the same picture).
    Answers the product's photos left."""
    return photos_out(await orders.photos.remove(product_id, photo_id, host.id, host.is_admin))


PHOTO_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OBJECT_RESPONSES,
    200: {"description": "The JPEG, streamed.", "content": {"image/jpeg": {}}},
}


@router.get("/photos/{name}", response_class=Response, responses=PHOTO_RESPONSES)
async def get_photo(name: str, request: Request, orders: OrdersDep) -> Response:
    """One size of a product photo, by the name an offer or product gives (`<sha256>.jpg`):
    public, cached for ever (the name is its content), `ETag`, `If-None-Match` 304, `Range`."""
    return await serve_object(orders.photos.objects, name, request)


@router.head("/photos/{name}", response_class=Response, include_in_schema=False)
async def head_photo(name: str, request: Request, orders: OrdersDep) -> Response:
    return await serve_object(orders.photos.objects, name, request)


class UploadLimit:
    """Refuses a photo upload over the limit before it is parsed: FastAPI parses (and
    spools to disk) a multipart body before any dependency runs, the host's check too.
    The server holds a body to its Content-Length, so that is what is checked (none: 411).
    A refused body is read and dropped as it comes (nothing kept) before the answer: a
    client still sending, a browser too, could not read an answer sent earlier."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and UPLOAD_PATH.fullmatch(scope["path"])
        ):
            refused = self._refusal(scope)
            if refused is not None:
                await _drop_body(receive, DROP_AT_MOST * self.limit)
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        lengths = [v for k, v in scope["headers"] if k == b"content-length"]
        if len(lengths) != 1 or not lengths[0].isdigit():
            return problem(411, "send the upload with a Content-Length", "length_required")
        if int(lengths[0]) > self.limit:
            return problem(
                413,
                f"the upload is {int(lengths[0])} bytes; a photo may be "
                f"{self.limit - MULTIPART_SLACK} bytes",
                "image_too_large",
            )
        return None


async def _drop_body(receive: Receive, at_most: int) -> None:
    """Read and forget the body, up to `at_most` bytes (past that, the answer goes out
    anyway: a client sending for ever gets it when it reads)."""
    dropped = 0
    while dropped <= at_most:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))
