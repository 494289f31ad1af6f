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
