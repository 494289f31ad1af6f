"""NATS_URL may name a cluster: every server, comma-separated; logs never show credentials."""

from __future__ import annotations

import pytest

from shared.runtime import _without_credentials
from shared.settings import ServiceSettings, split_servers


def test_nats_url_lists_the_servers_of_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://u:p@nats-1:4222, nats://u:p@nats-2:4222,nats-3:4222")
    assert ServiceSettings().nats_servers == [
        "nats://u:p@nats-1:4222",
        "nats://u:p@nats-2:4222",
        "nats-3:4222",
    ]
    assert ServiceSettings(nats_url="nats://127.0.0.1:4333").nats_servers == [
        "nats://127.0.0.1:4333"
    ]
    with pytest.raises(ValueError):
        split_servers(" , ")


def test_logged_server_list_has_no_password() -> None:
    shown = _without_credentials(["nats://qunlive:s3cr@t@nats-1:4222", "nats://127.0.0.1:4333"])
    assert shown == "nats://nats-1:4222,nats://127.0.0.1:4333"
    assert "s3cr" not in shown
