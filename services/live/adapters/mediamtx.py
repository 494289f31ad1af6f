"""MediaMTX's control API, for the one thing its auth hook cannot do: cut a publisher
that is already on air (a rotated key, an ended room). MediaMTX asks live's auth hook
only when a connection starts.

API (v3): GET /v3/paths/get/{name} tells the path's source {type, id}; POST
/v3/<kind>/kick/{id} closes it. live authenticates as user `live` with the media hook
secret, which its own auth hook accepts for the `api` action.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)

# PathSource.type -> the API collection that can kick it.
KICKABLE = {
    "rtmpConn": "rtmpconns",
    "rtmpsConn": "rtmpsconns",
    "srtConn": "srtconns",
    "webRTCSession": "webrtcsessions",
    "rtspSession": "rtspsessions",
    "rtspsSession": "rtspssessions",
}
API_USER = "live"


class MediaMtxApi:
    def __init__(self, api_url: str, secret: str, timeout_s: float = 3.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/"), auth=(API_USER, secret), timeout=timeout_s
        )

    async def cut_publisher(self, room_id: str) -> bool:
        """Close whatever publishes to the room's path; False when nothing did (or MediaMTX
        could not be asked: the encoder then stays until it stops, and is refused on its
        next connection)."""
        try:
            answer = await self._http.get(f"/v3/paths/get/live/{room_id}")
            if answer.status_code == 404:
                return False
            answer.raise_for_status()
            source = answer.json().get("source") or {}
            kind = KICKABLE.get(source.get("type", ""))
            if kind is None or not source.get("id"):
                return False
            kicked = await self._http.post(f"/v3/{kind}/kick/{source['id']}")
            kicked.raise_for_status()
            return True
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not cut the publisher of %s in MediaMTX: %s", room_id, exc)
            return False

    async def close(self) -> None:
        await self._http.aclose()
