"""Browser access (CORS) to a service's API, for the pages live serves (viewer, console)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware


def allow_pages(
    app: FastAPI,
    origins: str,
    methods: Sequence[str],
    headers: Sequence[str] = ("Authorization", "Content-Type"),
) -> None:
    """Let pages from `origins` (comma-separated; "*" for any; empty for none) call `app`.

    Credentials travel as bearer headers, never cookies, so credentialed CORS stays off
    and "*" gives a page nothing it could not do with a token it already holds.
    """
    allowed = [origin.strip() for origin in origins.split(",") if origin.strip()]
    if allowed:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=allowed,
            allow_methods=list(methods),
            allow_headers=list(headers),
            max_age=600,
        )
