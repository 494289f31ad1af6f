from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import ServiceSettings


def test_dev_defaults_run_without_setup() -> None:
    settings = ServiceSettings(service_name="live")
    assert settings.effective_database_url == "sqlite+aiosqlite:///.data/live.db"


def test_production_refuses_dev_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/qunlive")
    with pytest.raises(ValidationError, match="secret_key, admin_token"):
        ServiceSettings()


def test_production_needs_postgres_and_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("ADMIN_TOKEN", "a-real-admin-token")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        ServiceSettings(database_url="postgresql://db/q")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    with pytest.raises(ValidationError, match="PostgreSQL"):
        ServiceSettings()
    assert ServiceSettings(database_url="postgresql://db/q").env == "production"
