"""How every service reads ids and times at its HTTP edge.

A room id travels on as a NATS subject token, so a malformed one is refused here
(422) with the same rule the events use, never stored to break later work. Times
must carry their zone: use pydantic's `AwareDatetime` in request models, so a
naive time is a 422 that says so rather than a comparison error later.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from shared.events.envelope import SUBJECT_TOKEN_PATTERN

RoomIdPath = Annotated[
    str,
    Path(
        pattern=SUBJECT_TOKEN_PATTERN,
        description="The room's id: 1-64 letters, digits, '_' or '-'.",
        examples=["r_8f3a2b1c9d0e"],
    ),
]
