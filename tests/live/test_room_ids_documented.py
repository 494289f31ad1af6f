"""Room ids as docs/operations.md describes them: live mints `r_` + 12 hex digits, within
the subject-token rule; an id that is no room of live's, malformed or not, is a 404."""

from __future__ import annotations

import re

import httpx

from shared.events.envelope import SUBJECT_TOKEN_PATTERN
from tests.live.conftest import ADMIN


async def test_live_mints_the_documented_room_ids_and_answers_404_for_others(
    live_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as http:
        ids = [
            (await http.post("/rooms", json={"title": f"show {n}"}, headers=ADMIN)).json()["id"]
            for n in range(3)
        ]
        for room_id in ids:
            assert re.fullmatch(r"r_[0-9a-f]{12}", room_id), room_id
            assert re.match(SUBJECT_TOKEN_PATTERN, room_id)
        assert len(set(ids)) == 3
        for other in ("r_000000000000", "bad.id"):
            response = await http.get(f"/rooms/{other}")
            assert response.status_code == 404, response.text
            assert response.json()["detail"] == f"no room {other}"
