"""The media process's settings: live's, with dev defaults that production refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.live.media.supervisor import MediaConfig
from services.live.settings import LiveSettings


def test_production_refuses_the_dev_media_hook_secret() -> None:
    production = {
        "env": "production",
        "database_url": "postgresql://db/q",
        "secret_key": "k" * 40,
        "admin_token": "a-real-admin-token",
    }
    with pytest.raises(ValidationError, match="media_hook_secret"):
        LiveSettings(**production)
    assert LiveSettings(**production, media_hook_secret="m" * 32).env == "production"


def test_media_lands_under_the_data_dir_unless_told(tmp_path: Path) -> None:
    config = MediaConfig.from_settings(LiveSettings(data_dir=str(tmp_path)))
    assert config.media_dir == tmp_path / "media"
    assert (config.bind_host, config.latency_ms) == ("127.0.0.1", 120)
    assert config.live_url == "http://127.0.0.1:8002"
    elsewhere = LiveSettings(media_dir=str(tmp_path / "video"), live_internal_url="http://l:1/")
    assert MediaConfig.from_settings(elsewhere).media_dir == tmp_path / "video"
    assert MediaConfig.from_settings(elsewhere).live_url == "http://l:1"
