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


async def test_start_up_waits_while_jetstream_elects_its_leaders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cluster that just started answers timeouts and 503s for a while: start-up steps
    are tried again (up to JETSTREAM_WAIT_S); any other error stops the start at once."""
    from nats.errors import TimeoutError as NatsTimeoutError
    from nats.js.errors import ServiceUnavailableError

    from shared import runtime

    monkeypatch.setattr(runtime, "JETSTREAM_RETRY_PAUSE_S", 0.0)
    failures: list[BaseException] = [NatsTimeoutError(), ServiceUnavailableError()]
    tries = 0

    async def attempt() -> None:
        nonlocal tries
        tries += 1
        if failures:
            raise failures.pop(0)

    await runtime._while_jetstream_settles("subscribers", attempt)
    assert tries == 3

    async def broken() -> None:
        raise ValueError("not a JetStream hiccup")

    with pytest.raises(ValueError):
        await runtime._while_jetstream_settles("subscribers", broken)

    monkeypatch.setattr(runtime, "JETSTREAM_WAIT_S", -1.0)  # the wait is over
    failures.append(NatsTimeoutError())
    with pytest.raises(NatsTimeoutError):
        await runtime._while_jetstream_settles("subscribers", attempt)
