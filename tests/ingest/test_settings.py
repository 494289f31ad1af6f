from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.ingest.settings import IngestSettings


def test_production_refuses_the_dev_webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/qunlive")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ADMIN_TOKEN", "a-real-admin-token")
    secrets = (
        "TELEGRAM_SECRET_TOKEN",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WEBHOOK_SECRET",
    )
    with pytest.raises(ValidationError, match=", ".join(s.lower() for s in secrets)):
        IngestSettings()
    for variable in secrets:
        monkeypatch.setenv(variable, f"real-{variable.lower()}")
    assert IngestSettings().env == "production"
