"""Serving a stored object over HTTP, as a CDN would: the owning service's one way.

Content-addressed, so immutable: `ETag` is the sha256, `Cache-Control` says a year and
`immutable`, `If-None-Match` answers 304 without reading a byte. `Range` (one range,
what `<audio>` asks for) answers 206. The body streams chunk by chunk from JetStream,
never held whole. `nosniff`, and a sandboxing CSP: a stored file is never a page.
"""

from __future__ import annotations

import re

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from nats.errors import Error as NatsError

from shared.objects import CHUNK_BYTES, ObjectHead, Objects
from shared.problems import ApiError

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
OBJECT_HEADERS = {
    "Cache-Control": IMMUTABLE,
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
}

# The OpenAPI `responses=` of a route serving objects.
OBJECT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The bytes, streamed.", "content": {"application/octet-stream": {}}},
    206: {"description": "The range asked for (Range: bytes=a-b)."},
    304: {"description": "Not modified: the ETag matched (the object never changes)."},
    404: {"description": "No such object (never stored, or deleted)."},
    416: {"description": "The range lies outside the object."},
    503: {"description": "The object store did not answer (a node failing over): retry."},
}


def not_found(name: str) -> ApiError:
    return ApiError(404, f"no stored object {name[:80]!r}", "not_found")


def unavailable() -> ApiError:
    return ApiError(
        503,
        "the object store is not answering (a node failing over); try again",
        "object_store_unavailable",
        {"Retry-After": "1"},
    )


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range; None: serve it all (RFC 9110 lets a server
    ignore a Range it does not support, e.g. several ranges). Unsatisfiable: 416."""
    match = _RANGE.match(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "the range lies outside the object",
        "range_not_satisfiable",
        {"Content-Range": f"bytes */{size}"},
    )


async def serve_object(objects: Objects, name: str, request: Request) -> Response:
    try:
        head = await objects.head(name)
    except (NatsError, TimeoutError) as exc:
        raise unavailable() from exc
    if head is None:
        raise not_found(name)
    plan = _plan(head, request)
    if isinstance(plan, Response):
        return plan
    status, headers, start, end = plan
    if head.size > CHUNK_BYTES:
        return _streamed(objects, head, plan)
    # One chunk (a thumbnail, a card): fetched now and answered whole. It holds what a
    # streamed answer holds anyway (a chunk), without streaming's task per request.
    try:
        body = b"".join([chunk async for chunk in objects.chunks(head, start, end)])
    except (NatsError, TimeoutError) as exc:
        raise unavailable() from exc
    return Response(body, status_code=status, headers=headers, media_type=head.content_type)


Plan = tuple[int, dict[str, str], int, int]  # status, headers, [start, end) of the body


def _plan(head: ObjectHead, request: Request) -> Response | Plan:
    """The answer without a body (304, HEAD), or what the body must be."""
    headers = {**OBJECT_HEADERS, "ETag": head.etag}
    if _matches(request.headers.get("if-none-match", ""), head.etag):
        return Response(status_code=304, headers=headers)
    span = None
    if "range" in request.headers and _matches(
        request.headers.get("if-range", head.etag), head.etag
    ):
        span = _byte_range(request.headers["range"], head.size)
    start, end = span or (0, head.size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{head.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=head.content_type)
    return status, headers, start, end


def _streamed(objects: Objects, head: ObjectHead, plan: Plan) -> StreamingResponse:
    status, headers, start, end = plan
    return StreamingResponse(
        objects.chunks(head, start, end),
        status_code=status,
        headers=headers,
        media_type=head.content_type,
    )
