"""Every refusal of POST /offers/{id}/checkout, worded as FastAPI worded it when the route
was FastAPI's (these answers were recorded from that route before it was read by hand,
http.serve_checkout): the status, the whole Problem, the challenge of a 401."""

from __future__ import annotations

import time
from typing import Any

from shared.auth import issue_desk_token
from tests.orders.conftest import SECRET, Orders

JSON = "application/json"
KEY = "key-12345678"
ONE = b'{"quantity": 1}'
TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 422: "Unprocessable Entity"}
NO_TOKEN = "a viewer token (join the room first) required"
NOT_AN_OBJECT = "Input should be a valid dictionary or object to extract fields from"


def invalid(*errors: tuple[list[Any], str, str]) -> tuple[int, str, str, list[dict[str, Any]]]:
    """A 422 for what the schema refuses: each (loc, msg, type), and the detail listing them."""
    listed = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in errors]
    detail = "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in errors)
    return 422, "invalid_request", detail, listed


def json_error(position: int, why: str) -> tuple[int, str, str, list[dict[str, Any]]]:
    return invalid((["body", position], f"invalid JSON: {why}", "json_invalid"))


# name: (headers (None: the buyer's token), body, (status, code, detail, errors), challenge)
CASES: dict[str, tuple[dict[str, str], bytes, tuple[Any, ...], str | None]] = {
    "no token": ({"Authorization": ""}, ONE, (401, "unauthenticated", NO_TOKEN, None), "Bearer"),
    "not Bearer": (
        {"Authorization": "Basic abc"},
        ONE,
        (401, "unauthenticated", NO_TOKEN, None),
        "Bearer",
    ),
    "Bearer, no token": (
        {"Authorization": "Bearer"},
        ONE,
        (401, "unauthenticated", NO_TOKEN, None),
        "Bearer",
    ),
    "invalid token": (
        {"Authorization": "Bearer abc.def.ghi"},
        ONE,
        (401, "invalid_token", "invalid token: join the room again", None),
        'Bearer error="invalid_token"',
    ),
    "no token, no key, bad body: the token first": (
        {"Authorization": "", "Idempotency-Key": ""},
        b'{"quantity": 0}',
        (401, "unauthenticated", NO_TOKEN, None),
        "Bearer",
    ),
    "no key": (
        {"Idempotency-Key": ""},
        ONE,
        invalid((["header", "idempotency-key"], "Field required", "missing")),
        None,
    ),
    "key too short": (
        {"Idempotency-Key": "k" * 7},
        ONE,
        invalid(
            (
                ["header", "idempotency-key"],
                "String should have at least 8 characters",
                "string_too_short",
            )
        ),
        None,
    ),
    "key too long": (
        {"Idempotency-Key": "k" * 101},
        ONE,
        invalid(
            (
                ["header", "idempotency-key"],
                "String should have at most 100 characters",
                "string_too_long",
            )
        ),
        None,
    ),
    "JSON syntax": ({}, b'{"quantity": ', json_error(13, "Expecting value"), None),
    "JSON syntax before the token": (
        {"Authorization": ""},
        b'{"quantity": ',
        json_error(13, "Expecting value"),
        None,
    ),
    "NaN": ({}, b'{"quantity": NaN}', json_error(0, "NaN is not JSON"), None),
    "not UTF-8": ({}, b'{"variant": "\xff"}', json_error(0, "not UTF-8"), None),
    "lone surrogate": (
        {},
        b'{"variant": "\\ud800"}',
        json_error(0, "a lone UTF-16 surrogate is not text"),
        None,
    ),
    "past 2**53": (
        {},
        b'{"quantity": 9007199254740993}',
        json_error(0, "integer beyond 2**53: clients cannot read it exactly"),
        None,
    ),
    "a list": ({}, b"[1]", invalid((["body"], NOT_AN_OBJECT, "model_attributes_type")), None),
    "null": ({}, b"null", invalid((["body"], NOT_AN_OBJECT, "model_attributes_type")), None),
    "no body": ({}, b"", invalid((["body"], "Field required", "missing")), None),
    "no body, no type": (
        {"Content-Type": ""},
        b"",
        invalid((["body"], "Field required", "missing")),
        None,
    ),
    "no media type": (
        {"Content-Type": ""},
        ONE,
        invalid((["body"], NOT_AN_OBJECT, "model_attributes_type")),
        None,
    ),
    "text/plain": (
        {"Content-Type": "text/plain"},
        ONE,
        invalid((["body"], NOT_AN_OBJECT, "model_attributes_type")),
        None,
    ),
    "quantity 0": (
        {},
        b'{"quantity": 0}',
        invalid(
            (
                ["body", "quantity"],
                "Input should be greater than or equal to 1",
                "greater_than_equal",
            )
        ),
        None,
    ),
    "quantity as text": (
        {},
        b'{"quantity": "1"}',
        invalid((["body", "quantity"], "Input should be a valid integer", "int_type")),
        None,
    ),
    "quantity 1.0": (
        {},
        b'{"quantity": 1.0}',
        invalid((["body", "quantity"], "Input should be a valid integer", "int_type")),
        None,
    ),
    "variant too long": (
        {},
        b'{"variant": "' + b"v" * 41 + b'"}',
        invalid(
            (["body", "variant"], "String should have at most 40 characters", "string_too_long")
        ),
        None,
    ),
    "no key and a bad body: one 422 listing both, the header first": (
        {"Idempotency-Key": ""},
        b'{"quantity": 0, "variant": 5}',
        invalid(
            (["header", "idempotency-key"], "Field required", "missing"),
            (
                ["body", "quantity"],
                "Input should be greater than or equal to 1",
                "greater_than_equal",
            ),
            (["body", "variant"], "Input should be a valid string", "string_type"),
        ),
        None,
    ),
}


async def test_every_refusal_is_the_problem_fastapi_gave(orders: Orders) -> None:
    offer = await orders.offer(stock=5)
    buyer = orders.buyer("ann")["Authorization"]
    for name, (headers, body, (status, code, detail, errors), challenge) in CASES.items():
        sent = {"Authorization": buyer, "Idempotency-Key": KEY, "Content-Type": JSON, **headers}
        sent = {header: value for header, value in sent.items() if value}  # "": not sent
        response = await orders.http.post(
            f"/offers/{offer['id']}/checkout", headers=sent, content=body
        )
        expected = {
            "type": "about:blank",
            "title": TITLES[status],
            "status": status,
            "code": code,
            "detail": detail,
            **({"errors": errors} if errors else {}),
        }
        assert (response.status_code, response.json()) == (status, expected), name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.headers.get("www-authenticate") == challenge, name
    assert (await orders.get(f"/offers/{offer['id']}"))["left"] == 5  # nothing was held


async def test_a_desk_token_wrong_method_unknown_offer_and_media_types(orders: Orders) -> None:
    offer = await orders.offer(stock=5)
    url = f"/offers/{offer['id']}/checkout"
    buyer = orders.buyer("ann")["Authorization"]
    desk = issue_desk_token("pp_1", "admin", time.time() + 600, SECRET)
    refused = await orders.http.post(
        url, headers={"Authorization": f"Bearer {desk}", "Idempotency-Key": KEY}, json={}
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "a pickup desk token opens the pickup desk only"
    wrong = await orders.http.get(url, headers={"Authorization": buyer})
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert wrong.json()["code"] == "method_not_allowed"
    headers = {"Authorization": buyer, "Idempotency-Key": KEY, "Content-Type": JSON}
    nowhere = await orders.http.post("/offers/off_nope/checkout", headers=headers, content=ONE)
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "not_found")
    # Any JSON media type is read (parameters, +json), as FastAPI reads one.
    for media_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        placed = await orders.http.post(
            url,
            headers={**headers, "Content-Type": media_type, "Idempotency-Key": media_type},
            content=ONE,
        )
        assert placed.status_code in (201, 409), placed.text
        assert placed.headers["x-content-type-options"] == "nosniff"
        assert placed.headers["cache-control"] == "no-store"


def test_the_openapi_entry_is_the_routes_own() -> None:
    """Served by hand, documented by FastAPI from the endpoint's signature: the security
    scheme, the key's header and its limits, the body, the answers and their Problems."""
    from services.orders.main import create_app

    document = create_app().openapi()
    operation = document["paths"]["/offers/{offer_id}/checkout"]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    [path, header] = operation["parameters"]
    assert (path["name"], path["in"], header["name"], header["in"]) == (
        "offer_id",
        "path",
        "idempotency-key",
        "header",
    )
    assert (header["required"], header["schema"]["minLength"], header["schema"]["maxLength"]) == (
        True,
        8,
        100,
    )
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CheckoutIn"}
    answers = operation["responses"]
    assert sorted(answers) == ["201", "401", "403", "404", "409", "422"]
    assert answers["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/CheckoutOut")
    for status, schema in (
        ("401", "Problem"),
        ("404", "Problem"),
        ("409", "CheckoutRefused"),
        ("422", "CheckoutRefused"),
    ):
        refusal = answers[status]["content"]["application/problem+json"]["schema"]
        assert refusal == {"$ref": f"#/components/schemas/{schema}"}, status
    assert operation["description"].startswith("Hold stock and create an order")
