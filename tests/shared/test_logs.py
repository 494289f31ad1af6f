"""The service logs: what uvicorn and websockets say per viewer socket."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.logs import configure_logging

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZWI6MSJ9.c2lnbmF0dXJl"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def service_log(capsys: pytest.CaptureFixture[str]) -> Iterator[Lines]:
    """Logging as a service configures it (the handler bound to the test's stderr when the
    test runs), put back afterwards; reads the JSON lines written so far."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    started = False

    def lines() -> list[dict[str, Any]]:
        nonlocal started
        if not started:
            configure_logging("live")
            started = True
            return []
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_socket_that_opens_and_closes_writes_no_line_and_no_token(service_log: Lines) -> None:
    service_log()
    # As uvicorn's websockets-sansio protocol and websockets' ServerProtocol log them.
    log = logging.getLogger("uvicorn.error")
    log.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/rooms/r_1/ws?token={TOKEN}")
    log.info("connection open")
    log.info("connection closed")
    assert service_log() == []


def test_a_refused_socket_is_still_logged_without_its_token(service_log: Lines) -> None:
    service_log()
    log = logging.getLogger("uvicorn.error")
    log.info('%s - "WebSocket %s" 403', "127.0.0.1:5000", f"/rooms/r_1/ws?a=1&token={TOKEN}&b=2")
    [line] = service_log()
    assert TOKEN not in json.dumps(line)
    assert line["msg"] == '127.0.0.1:5000 - "WebSocket /rooms/r_1/ws?a=1&token=<secret>&b=2" 403'


def test_other_lines_pass_unchanged(service_log: Lines) -> None:
    service_log()
    logging.getLogger("uvicorn.error").warning("connection open")  # not info: kept
    logging.getLogger("qunlive.live").info("room %s opened", "r_1")
    assert [line["msg"] for line in service_log()] == ["connection open", "room r_1 opened"]
