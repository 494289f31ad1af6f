"""httpx logs every request's URL at INFO; Telegram's carry the bot token (`/bot<token>/`,
`/file/bot<token>/`) and WeCom's the robot key (`?key=`). One filter on the httpx logger
blanks them, for every client ingest makes (media downloads, the channels)."""

from __future__ import annotations

import logging
import re

HTTPX_LOG = logging.getLogger("httpx")
SECRET_IN_URL = re.compile(r"(/bot)[^/\s]+|((?:\?|&)key=)[^&\s\"]+")


class _UrlSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "<secret>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = _UrlSecrets()


def hide_url_secrets() -> None:
    """Install the filter (the same object: added once however often this is called)."""
    HTTPX_LOG.addFilter(_REDACT)
