"""docs/api/ is generated from code (`make docs`); this fails when it is stale."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs" / "api"
SERVICES = ["ingest", "live", "orders", "analytics"]


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_and_openapi_documents_match_the_code(service: str) -> None:
    main = importlib.import_module(f"services.{service}.main")
    asyncapi = main.asyncapi().schema.to_specification().to_jsonable()
    openapi = main.create_app().openapi()
    stale = "is stale: run `make docs` and commit it"
    assert json.loads((DOCS / f"{service}.asyncapi.json").read_text()) == asyncapi, stale
    assert json.loads((DOCS / f"{service}.openapi.json").read_text()) == openapi, stale


def test_websocket_protocol_schema_matches_the_code() -> None:
    from services.live.protocol import json_schema

    document = json.loads((DOCS / "live.websocket.json").read_text())
    assert document == json.loads(json.dumps(json_schema())), "run `make docs` and commit it"


@pytest.mark.parametrize("service", SERVICES)
async def test_production_serves_no_swagger_ui_from_a_cdn(service: str) -> None:
    """Swagger UI and ReDoc load their assets from a CDN: off under ENV=production, while
    the document itself stays for generated clients."""
    import httpx

    from shared.settings import DEV_SECRET_PREFIX

    main = importlib.import_module(f"services.{service}.main")
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings_cls = type(bootstrap.build().settings)
    secrets = {
        name: f"production-{name}-" + "x" * 32
        for name, field in settings_cls.model_fields.items()
        if isinstance(field.default, str) and field.default.startswith(DEV_SECRET_PREFIX)
    }
    production = settings_cls(
        env="production", database_url="postgresql+asyncpg://qunlive@127.0.0.1/none", **secrets
    )
    for app, docs in (
        (main.create_app(bootstrap.build(production)), 404),
        (main.create_app(), 200),
    ):
        # ASGITransport runs no lifespan: nothing connects.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for page in ("/docs", "/redoc"):
                assert (await client.get(page)).status_code == docs, page
            assert (await client.get("/openapi.json")).status_code == 200


def test_the_event_catalogue_has_the_subject_of_every_chat_line() -> None:
    """A system chat line (a welcome) is published on a subject of its own: the AsyncAPI
    lists that channel too, not only the `type`'s."""
    from services.live.main import asyncapi
    from shared.events.live import ChatMessagePosted
    from shared.subjects import event_subject

    document = asyncapi().schema.to_specification().to_jsonable()
    addresses = {channel["address"] for channel in document["channels"].values()}
    for source in ("web", "telegram", "system"):
        line = ChatMessagePosted(
            room_id="r_1", message_id="m1", display_name="Lily", text="hi", source=source
        )
        assert event_subject(line).replace(".r_1.", ".{room_id}.") in addresses, source
