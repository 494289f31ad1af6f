"""Structured logs: one JSON object per line on stderr."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# A credential in a URL, never written to a log: Telegram's bot token in the path
# (`/bot<token>/`), WeCom's robot key (`?key=`), the viewer socket's `?token=`.
SECRET_IN_URL = re.compile(r"(/bot)[^/\s]+|([?&](?:key|token|access_token)=)[^&\s\"]+")
# uvicorn's and websockets' line per viewer socket (on "uvicorn.error"): a join storm is
# thousands of them, 4% of a live process's CPU in one (docs/decisions/0052-join-storm.md),
# and they said nothing the connection metrics and `viewer.joined` do not.
_PER_SOCKET = frozenset({'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"})


class UrlSecrets(logging.Filter):
    """Blanks the credentials a logged URL carries (see SECRET_IN_URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "<secret>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class QuietSockets(UrlSecrets):
    """Drops the per-socket info lines; blanks tokens in the socket lines that stay (a
    refused socket, at the same level, still says which path it asked for)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO and record.msg in _PER_SOCKET:
            return False
        return super().filter(record)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "faststream", "faststream.access.nats"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    sockets = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietSockets) for f in sockets.filters):
        sockets.addFilter(QuietSockets())
