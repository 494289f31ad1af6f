from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.live.bootstrap import LiveApp, build
from services.live.main import create_app
from services.live.settings import LiveSettings
from shared.embedded_nats import NatsServer
from tests.support import serving

ADMIN = {"Authorization": "Bearer test-admin"}


def live_settings(nats_url: str, database_url: str, **overrides: object) -> LiveSettings:
    return LiveSettings(
        nats_url=nats_url,
        database_url=database_url,
        admin_token="test-admin",
        secret_key="test-secret-key-of-at-least-32-bytes!",
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
async def live_url(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[str]:
    settings = live_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp_path}/live.db")
    async with serving(create_app(build(settings))) as url:
        yield url


@pytest.fixture
async def two_lives(nats_server: NatsServer, database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Two live instances on one NATS and one database, as in production."""
    first = create_app(build(live_settings(nats_server.url, database_url)))
    second = create_app(build(live_settings(nats_server.url, database_url)))
    async with serving(first) as url_a, serving(second) as url_b:
        yield url_a, url_b


async def open_room(base_url: str, title: str = "Cherry night") -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        room = (await http.post("/rooms", json={"title": title}, headers=ADMIN)).json()
        await http.post(f"/rooms/{room['id']}/start", headers=ADMIN)
        return str(room["id"])


async def delete_line(base_url: str, room_id: str, message_id: str, reason: str) -> None:
    """A moderator deletes a chat line (204)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        deleted = await http.post(
            f"/rooms/{room_id}/moderation",
            json={"action": "delete", "message_id": message_id, "reason": reason},
            headers=ADMIN,
        )
        assert deleted.status_code == 204, deleted.text


async def join(base_url: str, room_id: str, name: str, **extra: object) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(f"/rooms/{room_id}/join", json={"display_name": name, **extra})
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


def ws_url(base_url: str, grant: dict[str, str]) -> str:
    return base_url.replace("http://", "ws://") + grant["websocket_path"]


__all__ = ["ADMIN", "LiveApp", "join", "live_settings", "open_room", "ws_url"]
