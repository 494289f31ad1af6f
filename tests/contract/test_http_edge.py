"""The HTTP edge of every running service, by hand-made requests a tool would not think
of: hostile JSON bodies are a 422 Problem (never a 500, never a traceback in the log),
every answer carries nosniff and a Cache-Control, the pages only at their routes."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.contract.conftest import ADMIN_TOKEN, Launched

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# What Python's json (and so FastAPI) reads without complaint, and a request must not carry.
HOSTILE_BODIES = {
    "NaN": b'{"display_name": NaN, "title": NaN, "name": NaN, "platform": NaN}',
    "Infinity": b'{"display_name": Infinity, "title": -Infinity, "name": Infinity}',
    "lone surrogate escaped": b'{"display_name": "Lily \\ud83d", "title": "Lily \\ud83d"}',
    "lone surrogate raw": b'{"display_name": "Lily \xed\xa0\xbd", "title": "\xed\xa0\xbd"}',
    "surrogate as a key": b'{"\\udc00": 1, "display_name": "Lily"}',
    "huge integer": b'{"display_name": "Lily", "stock": 1' + b"0" * 5000 + b"}",
    "integer past 2**53": b'{"price_cents": 9007199254740993, "display_name": "Lily"}',
    "float overflowing to inf": b'{"price_cents": 1e999999, "display_name": "Lily"}',
    "deep nesting": b'{"display_name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "not UTF-8": b'{"display_name": "\xff\xfe"}',
}

# A JSON-body route of each service, anonymous (join) and behind the admin token.
ROUTES = [
    ("live", "/rooms/r_hostile/join", {}),
    ("live", "/rooms", ADMIN),
    ("orders", "/products", ADMIN),
    ("ingest", "/bindings", ADMIN),
    ("analytics", "/customers/links", ADMIN),
]


@pytest.mark.parametrize("body", list(HOSTILE_BODIES), ids=list(HOSTILE_BODIES))
@pytest.mark.parametrize(("service", "path", "headers"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_hostile_json_body_is_a_422_problem(
    launched: Launched, service: str, path: str, headers: dict[str, str], body: str
) -> None:
    url = launched.urls[service] + path
    sent = {"Content-Type": "application/json", **headers}
    answer = httpx.post(url, content=HOSTILE_BODIES[body], headers=sent, trust_env=False)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and problem["code"] == "invalid_request", problem
    assert problem["errors"][0]["loc"][0] == "body" and problem["detail"], problem


def test_no_hostile_body_left_a_traceback(launched: Launched) -> None:
    """Runs after the cases above (same module, in order): no request crashed (uvicorn logs
    each unhandled one as "Exception in ASGI application", with its traceback)."""
    for service in launched.urls:
        log = launched.log(service)
        assert "Exception in ASGI application" not in log, log[-3000:]


@pytest.mark.parametrize("service", ["ingest", "live", "orders", "analytics"])
def test_every_answer_carries_nosniff_and_a_cache_policy(launched: Launched, service: str) -> None:
    base = launched.urls[service]
    for answer in (
        httpx.get(f"{base}/healthz", trust_env=False),
        httpx.get(f"{base}/openapi.json", trust_env=False),
        httpx.get(f"{base}/no/such/path", trust_env=False),
        httpx.post(f"{base}/no/such/path", content=b"x", trust_env=False),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["cache-control"] == "no-store", answer.url
    missing = httpx.get(f"{base}/no/such/path", trust_env=False)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"


def test_missing_and_invalid_credentials_are_401_a_viewer_token_403(launched: Launched) -> None:
    live, orders = launched.urls["live"], launched.urls["orders"]
    room = httpx.post(f"{live}/rooms", json={"title": "Edge"}, headers=ADMIN, trust_env=False)
    room_id = room.raise_for_status().json()["id"]
    grant = httpx.post(
        f"{live}/rooms/{room_id}/join", json={"display_name": "Lily"}, trust_env=False
    ).json()
    viewer = {"Authorization": f"Bearer {grant['token']}"}
    for service, path in [
        ("live", f"/rooms/{room_id}/members"),
        ("orders", "/products"),
        ("analytics", "/segments"),
        ("ingest", "/bindings"),
    ]:
        url = launched.urls[service] + path
        missing = httpx.get(url, trust_env=False)
        garbage = httpx.get(url, headers={"Authorization": "Bearer x.y.z"}, trust_env=False)
        as_viewer = httpx.get(url, headers=viewer, trust_env=False)
        assert (missing.status_code, missing.json()["code"]) == (401, "unauthenticated"), url
        assert missing.headers["www-authenticate"] == "Bearer"
        assert (garbage.status_code, garbage.json()["code"]) == (401, "invalid_token"), url
        assert garbage.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert (as_viewer.status_code, as_viewer.json()["code"]) == (403, "forbidden"), url
    # A buyer route reads viewer tokens: a garbage one is 401 as well.
    order = httpx.get(
        f"{orders}/orders/o_1", headers={"Authorization": "Bearer x"}, trust_env=False
    )
    assert (order.status_code, order.json()["code"]) == (401, "invalid_token")


def test_pages_only_at_their_routes_with_their_policy(launched: Launched) -> None:
    live = launched.urls["live"]
    for page in ("/console", "/r/r_8f3a2b1c9d0e"):
        got = httpx.get(live + page, trust_env=False)
        head = httpx.head(live + page, trust_env=False)
        assert got.status_code == 200 and head.status_code == 200, page
        assert head.content == b"" and head.headers["content-type"].startswith("text/html")
        for answer in (got, head):
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert answer.headers["x-content-type-options"] == "nosniff"
    for copy in ("/static/console.html", "/static/viewer.html"):
        refused = httpx.get(live + copy, trust_env=False)
        assert refused.status_code == 404, copy
    style = httpx.get(f"{live}/static/css/qunlive.css", trust_env=False)
    assert style.status_code == 200 and style.headers["x-content-type-options"] == "nosniff"
    assert style.headers["cache-control"] == "no-cache"


def test_the_documents_list_the_problem_for_every_error(launched: Launched) -> None:
    for service, base in launched.urls.items():
        document = httpx.get(f"{base}/openapi.json", trust_env=False).json()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for status, response in operation["responses"].items():
                    if int(status) >= 400:
                        assert list(response["content"]) == ["application/problem+json"], (
                            service,
                            method,
                            path,
                            status,
                        )
        assert json.dumps(document).count("HTTPValidationError") == 0, service
