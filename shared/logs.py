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


# A credential in a URL's query (the viewer socket's `?token=`): never written to a log.
_SECRET_IN_QUERY = re.compile(r"((?:^|[?&])(?:token|access_token)=)[^&\s\"]+")
# uvicorn's and websockets' line per viewer socket (on "uvicorn.error"): a join storm is
# thousands of them, 4% of a live process's CPU in one (docs/decisions/0052-join-storm.md),
# and they said nothing the connection metrics and `viewer.joined` do not.
_PER_SOCKET = frozenset({'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"})


def redact(text: str) -> str:
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class QuietSockets(logging.Filter):
    """Drops the per-socket info lines; takes tokens out of the socket lines that stay (a
    refused socket, at the same level, still says which path it asked for)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO and record.msg in _PER_SOCKET:
            return False
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


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
