"""The operator pages (docs/operations.md, docs/ingest.md) state rules the code holds:
the room-id pattern, the settings they name, the ports and defaults they rely on."""

from __future__ import annotations

import re
from pathlib import Path

from services.analytics.settings import AnalyticsSettings
from services.ingest import importer
from services.ingest.settings import IngestSettings
from services.launcher import NATS_PORT, SERVICES
from services.live.entrypoints.pages import DEFAULT_PORTS
from services.live.settings import LiveSettings
from services.orders.settings import OrdersSettings
from shared.events.envelope import SUBJECT_TOKEN_PATTERN
from shared.settings import ServiceSettings

ROOT = Path(__file__).parent.parent
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
INGEST = (ROOT / "docs" / "ingest.md").read_text()
README = (ROOT / "README.md").read_text()
SQL_WORDS = {"UPDATE"}  # in capitals and backticks too, but no setting


def test_the_documented_room_id_rule_is_the_one_every_entry_checks() -> None:
    section = OPERATIONS.split("## Room ids", 1)[1].split("\n## ", 1)[0]
    documented = re.search(r"```\n(\^.+\$)\n```", section)
    assert documented, "docs/operations.md: the room-id pattern block is gone"
    assert documented.group(1) == SUBJECT_TOKEN_PATTERN
    assert f"`{SUBJECT_TOKEN_PATTERN}`" in README
    # The importer keeps its own copy of the rule for --room.
    assert importer.ROOM.pattern == SUBJECT_TOKEN_PATTERN


def test_every_setting_the_pages_name_is_read_by_a_service() -> None:
    fields = {
        name.upper()
        for cls in (LiveSettings, OrdersSettings, IngestSettings, AnalyticsSettings)
        for name in cls.model_fields
    }
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})[`=]", OPERATIONS + INGEST)) - SQL_WORDS
    assert named, "no setting found in the pages"
    assert named <= fields, f"named in docs but read by no service: {sorted(named - fields)}"


def test_the_ports_and_defaults_the_pages_rely_on() -> None:
    assert f"nats://127.0.0.1:{NATS_PORT}" in OPERATIONS
    assert f"`{ServiceSettings().nats_url}`" in OPERATIONS  # a service started without NATS_URL
    assert f"services use {min(SERVICES.values())}-{max(SERVICES.values())}" in OPERATIONS
    ports = DEFAULT_PORTS
    assert f"ports {ports['orders']}, {ports['ingest']} and {ports['analytics']}" in OPERATIONS
