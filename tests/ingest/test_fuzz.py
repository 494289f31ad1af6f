"""Garbage at every ingest endpoint, signed and unsigned: never a 500, never a crash.

Hypothesis drives a sync client, so the service runs in its own thread and loop
(real uvicorn, real nats-server, SQLite), as it would in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.bootstrap import build
from services.ingest.main import create_app
from shared.embedded_nats import free_port, start_nats_server
from tests.ingest import payloads as p
from tests.ingest.conftest import ADMIN, ingest_settings


def json_values(hostile: bool) -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=hostile, allow_infinity=hostile)
        | st.text(max_size=24)
        | st.text(min_size=100, max_size=300)  # past the limits of ids and names
    )
    if hostile:  # what Python writes for NaN; half an emoji, as JavaScript cuts it
        leaves |= st.sampled_from(["\ud83d", "樱桃 \ud83d", "\ude00x", "\udfff\ud800"])
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=16,
    )


JSON = json_values(hostile=False)  # what an HTTP client sends as json=
HOSTILE_JSON = json_values(hostile=True)  # raw bodies may hold anything

DOCUMENTED = {
    "/webhooks/telegram": [
        p.telegram_message("+1"),
        p.telegram_edit("+2"),
        p.telegram_join([p.telegram_user(5, "A")]),
        p.telegram_left(p.telegram_user(6, "B")),
    ],
    "/webhooks/whatsapp": [
        p.whatsapp_body([p.whatsapp_text(group_id="G"), p.whatsapp_reaction("wamid.T")]),
        p.whatsapp_statuses(),
    ],
    "/webhooks/generic": [
        p.generic_message(),
        {
            "type": "member_joined",
            "chat_id": "g",
            "event_id": "e",
            "at": "2026-01-01T00:00:00",
            "user": {"id": "u", "name": "n"},
        },
    ],
}


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """A documented payload with some values replaced by garbage and some keys dropped."""

    def walk(node: Any) -> Any:
        if draw(st.integers(0, 7)) == 0:
            return draw(HOSTILE_JSON)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if draw(st.integers(0, 9)) != 0}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(base)


@st.composite
def webhook_request(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    path = draw(st.sampled_from(sorted(DOCUMENTED)))
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            HOSTILE_JSON.map(lambda v: json.dumps(v).encode()),
            st.sampled_from(DOCUMENTED[path])
            .flatmap(mutated)
            .map(lambda v: json.dumps(v).encode()),
        )
    )
    signed = draw(st.booleans())
    if not signed:
        headers = draw(st.dictionaries(
            st.sampled_from(["X-Telegram-Bot-Api-Secret-Token", "X-Hub-Signature-256",
                             "X-Qunlive-Timestamp", "X-Qunlive-Signature"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
            .map(str.strip),  # h11 refuses surrounding spaces before the request leaves
        ))  # fmt: skip
    elif path == "/webhooks/telegram":
        headers = p.telegram_headers()
    elif path == "/webhooks/whatsapp":
        headers = p.whatsapp_headers(body)
    else:
        skew = draw(st.sampled_from([0, 0, 0, -400, 400]))
        headers = p.generic_headers(body, timestamp=p.now() + skew)
    return path, body, headers


@pytest.fixture(scope="module")
def ingest_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    nats_server = start_nats_server(tmp / "js")
    app = create_app(build(ingest_settings(nats_server.url, f"sqlite+aiosqlite:///{tmp}/f.db")))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "ingest did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    httpx.post(
        f"{url}/bindings",
        json={"platform": "telegram", "chat_id": str(p.GROUP_ID), "room_id": "r_fuzz"},
        headers=ADMIN,
    ).raise_for_status()
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(20)
        nats_server.stop()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_webhooks_never_answer_500(ingest_url: str) -> None:
    with httpx.Client(base_url=ingest_url, timeout=10) as http:

        @FUZZ
        @given(webhook_request())
        def check(request: tuple[str, bytes, dict[str, str]]) -> None:
            path, body, headers = request
            response = http.post(path, content=body, headers=headers)
            assert response.status_code in (200, 400, 401, 413, 422), (response, body[:300])

        check()
        assert http.get("/healthz").status_code == 200


def test_admin_and_handshake_endpoints_never_answer_500(ingest_url: str) -> None:
    text = st.text(max_size=40)
    with httpx.Client(base_url=ingest_url, timeout=10) as http:

        @FUZZ
        @given(
            st.sampled_from(["/bindings", "/replay"]),
            JSON,
            st.dictionaries(
                st.sampled_from(
                    ["hub.mode", "hub.verify_token", "hub.challenge", "room_id", "recent"]
                ),
                text,
            ),
            text,
            text,
            st.booleans(),
        )
        def check(path: str, body: Any, query: dict[str, str], a: str, b: str, admin: bool) -> None:
            headers = ADMIN if admin else {}
            responses = [
                http.post(path, json=body, headers=headers),
                http.get("/bindings", params=query, headers=headers),
                http.get("/unbound", params=query, headers=headers),
                http.get("/webhooks/whatsapp", params=query),
                http.delete(f"/bindings/{quote(a, safe='') or 'x'}/{quote(b)}", headers=headers),
            ]
            for response in responses:
                assert response.status_code < 500, (response, response.text[:300])

        check()
