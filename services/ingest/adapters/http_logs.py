"""httpx logs every request's URL at INFO; Telegram's carry the bot token (`/bot<token>/`,
`/file/bot<token>/`) and WeCom's the robot key (`?key=`). One filter on the httpx logger
blanks them, for every client ingest makes (media downloads, the channels)."""

from __future__ import annotations

import logging

from shared.logs import UrlSecrets

HTTPX_LOG = logging.getLogger("httpx")
_REDACT = UrlSecrets()


def hide_url_secrets() -> None:
    """Install the filter (the same object: added once however often this is called)."""
    HTTPX_LOG.addFilter(_REDACT)
