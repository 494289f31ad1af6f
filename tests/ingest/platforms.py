"""Telegram's and WhatsApp's media download APIs, as documented, on a local port.

Telegram Bot API (core.telegram.org/bots/api#getfile, #making-requests):
- `GET /bot<token>/getFile?file_id=` -> `{"ok": true, "result": {"file_id",
  "file_unique_id", "file_size", "file_path"}}`; an unknown file_id is
  `400 {"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"}`,
  a wrong token `401 {"ok": false, "error_code": 401, "description": "Unauthorized"}`;
- `GET /file/bot<token>/<file_path>` -> the bytes (404 when gone).

WhatsApp Cloud API (Graph API, "Retrieve media URL", "Download media"):
- `GET /<version>/<media id>` with `Authorization: Bearer <token>` -> `{"messaging_product":
  "whatsapp", "url", "mime_type", "sha256", "file_size", "id"}`; an unknown id is
  `400 {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
  "code": 100, "fbtrace_id"}}`, a wrong token 401 with code 190;
- the url (here `/whatsapp_business/attachments/?mid=<id>&ext=...&hash=...`), with the same
  bearer token -> the bytes.

`fail_first(ref, *statuses)` makes the next requests about a file answer those statuses
first (502, 429 with `retry_after`, ...), as a platform in trouble does.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

import imageio_ffmpeg
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TELEGRAM_TOKEN = "123456789:AAHtest-Bot-Token_x"
WHATSAPP_TOKEN = "EAAGtestAccessToken"
WHATSAPP_VERSION = "v21.0"


def jpeg(width: int = 800, height: int = 600, color: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):  # something to encode, not one flat colour
        image.paste((20, 120, 40), (x, 0, x + 10, height))
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def ogg_voice(seconds: float = 2.0) -> bytes:
    """A voice note as Telegram and WhatsApp send them: Ogg/Opus, made by the wheel's ffmpeg."""
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:a", "libopus", "-b:a", "24k", "-f", "ogg", "pipe:1"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


@dataclass
class Platforms:
    base_url: str = ""
    telegram: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id: path, data
    whatsapp: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id: mime, data
    failures: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # What was asked, by file: ("getFile" | "file" | "media" | "download", ref).
    requests: list[tuple[str, str]] = field(default_factory=list)

    def telegram_file(self, file_id: str, data: bytes, path: str, gone: bool = False) -> None:
        """A file getFile knows; `gone`: its download answers 404."""
        self.telegram[file_id] = (path, b"" if gone else data)

    def whatsapp_media(self, media_id: str, data: bytes, mime: str) -> None:
        self.whatsapp[media_id] = (mime, data)

    def fail_first(self, ref: str, *statuses: int) -> None:
        self.failures[ref].extend(statuses)

    def asked(self, kind: str, ref: str) -> int:
        return self.requests.count((kind, ref))

    def _failure(self, ref: str) -> int | None:
        planned = self.failures.get(ref)
        return planned.pop(0) if planned else None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/getFile", self.get_file),
                Route("/file/bot{token}/{path:path}", self.telegram_download),
                Route("/whatsapp_business/attachments/", self.whatsapp_download),
                Route(f"/{WHATSAPP_VERSION}/{{media_id}}", self.media_url),
            ]
        )

    async def get_file(self, request: Request) -> Response:
        file_id = request.query_params.get("file_id", "")
        self.requests.append(("getFile", file_id))
        if request.path_params["token"] != TELEGRAM_TOKEN:
            return _telegram_error(401, "Unauthorized")
        failure = self._failure(file_id)
        if failure == 429:
            return _telegram_error(429, "Too Many Requests: retry after 1", retry_after=1)
        if failure:
            return _telegram_error(failure, "Bad Gateway")
        if file_id not in self.telegram:
            return _telegram_error(400, "Bad Request: invalid file_id")
        path, data = self.telegram[file_id]
        result = {
            "file_id": file_id,
            "file_unique_id": hashlib.md5(file_id.encode()).hexdigest()[:16],
            "file_size": len(data),
            "file_path": path,
        }
        return JSONResponse({"ok": True, "result": result})

    async def telegram_download(self, request: Request) -> Response:
        path = request.path_params["path"]
        file_id = next((f for f, (p, _) in self.telegram.items() if p == path), "")
        self.requests.append(("file", file_id))
        if request.path_params["token"] != TELEGRAM_TOKEN:
            return _telegram_error(401, "Unauthorized")
        if not file_id or not self.telegram[file_id][1]:
            return _telegram_error(404, "Not Found")
        return Response(self.telegram[file_id][1], media_type="application/octet-stream")

    async def media_url(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self.requests.append(("media", media_id))
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            return _graph_error(401, "Invalid OAuth access token.", 190)
        failure = self._failure(media_id)
        if failure:
            return _graph_error(failure, "Service temporarily unavailable", 2)
        if media_id not in self.whatsapp:
            return _graph_error(400, "(#100) Invalid parameter", 100)
        mime, data = self.whatsapp[media_id]
        return JSONResponse({
            "messaging_product": "whatsapp",
            "url": f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}"
                   f"&ext=1755000000&hash=ATtest",
            "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": str(len(data)),
            "id": media_id,
        })  # fmt: skip

    async def whatsapp_download(self, request: Request) -> Response:
        media_id = request.query_params.get("mid", "")
        self.requests.append(("download", media_id))
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            return Response(status_code=401)
        if media_id not in self.whatsapp:
            return Response(status_code=404)
        mime, data = self.whatsapp[media_id]
        return Response(data, media_type=mime)


def _telegram_error(status: int, description: str, retry_after: int | None = None) -> Response:
    body: dict = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


def _graph_error(status: int, message: str, code: int) -> Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atest"}
    return JSONResponse({"error": error}, status_code=status)
