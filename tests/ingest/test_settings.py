from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.ingest.settings import IngestSettings


def test_production_refuses_the_dev_webhook_secrets_and_platform_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/qunlive")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ADMIN_TOKEN", "a-real-admin-token")
    secrets = (
        "TELEGRAM_SECRET_TOKEN",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WEBHOOK_SECRET",
        "TELEGRAM_BOT_TOKEN",
        "WHATSAPP_ACCESS_TOKEN",
    )
    with pytest.raises(ValidationError, match=", ".join(s.lower() for s in secrets)):
        IngestSettings()
    for variable in secrets:
        monkeypatch.setenv(variable, f"real-{variable.lower()}")
    assert IngestSettings().env == "production"


def test_the_media_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_RETRY_DELAYS_S", "[0.5, 2]")
    monkeypatch.setenv("TELEGRAM_API_BASE", "http://127.0.0.1:9/")
    settings = IngestSettings()
    assert settings.media_retry_delays_s == (0.5, 2.0)
    assert settings.telegram_api_base == "http://127.0.0.1:9"  # joined without a double /
    for name, value in (
        ("MEDIA_RETRY_DELAYS_S", "[]"),
        ("MEDIA_RETRY_DELAYS_S", "[0]"),
        ("WHATSAPP_API_VERSION", "21"),
        ("WHATSAPP_GRAPH_BASE", "graph.facebook.com"),
        ("GROUP_VOICE_MAX_S", "601"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(ValidationError, match=name.lower()):
                IngestSettings()


def test_the_outbound_time_zone_is_one_the_system_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IngestSettings().outbound_timezone == "Asia/Shanghai"
    monkeypatch.setenv("OUTBOUND_TIMEZONE", "Europe/Paris")
    assert IngestSettings().outbound_timezone == "Europe/Paris"
    monkeypatch.setenv("OUTBOUND_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="not a time zone"):
        IngestSettings()
