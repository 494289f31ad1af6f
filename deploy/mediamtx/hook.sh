#!/bin/sh
# MediaMTX's runOnAvailable / runOnUnavailable hook (deploy/mediamtx/mediamtx.yml): tells live
# that a room's encoder went on or off the air.
#   sh /hooks/hook.sh ready | not-ready
# MediaMTX runs it without a shell of its own, with MTX_PATH (live/<room_id>) and
# MTX_SOURCE_TYPE (rtmpConn, srtConn, ...) set; the container's environment gives
# MEDIA_HOOK_SECRET and LIVE_INTERNAL_URL. POSIX sh and BusyBox wget: the image is Alpine.
# Contract: POST /media/hooks/ready {"room_id", "path", "protocol", "info"} and
# POST /media/hooks/not-ready {"room_id", "path", "reason"}, Bearer MEDIA_HOOK_SECRET, 204.
set -eu

event="${1:-}"
path="${MTX_PATH:-}"
secret="${MEDIA_HOOK_SECRET:-}"
live="${LIVE_INTERNAL_URL:-http://live:8000}"
# Tries and the pause after the first failure (doubled each time): live may be restarting.
tries="${HOOK_TRIES:-5}"
pause="${HOOK_PAUSE_S:-1}"

fail() {
    echo "qunlive hook: $*" >&2
    exit 1
}

[ -n "$secret" ] || fail "MEDIA_HOOK_SECRET is not set"
# Only live/<room_id> paths exist (mediamtx.yml); anything else never reaches live, and
# the check keeps the JSON below free of characters that would need escaping.
case "$path" in
    live/*) room="${path#live/}" ;;
    *) fail "unexpected path '$path'" ;;
esac
case "$room" in
    "" | *[!A-Za-z0-9_-]*) fail "unexpected path '$path'" ;;
esac

case "${MTX_SOURCE_TYPE:-}" in
    rtmpConn | rtmpsConn) protocol=rtmp ;;
    srtConn) protocol=srt ;;
    webRTCSession) protocol=webrtc ;;
    rtspSession | rtspsSession) protocol=rtsp ;;
    *) protocol="" ;;
esac

case "$event" in
    ready)
        if [ -n "$protocol" ]; then protocol_json="\"$protocol\""; else protocol_json=null; fi
        body="{\"room_id\": null, \"path\": \"$path\", \"protocol\": $protocol_json, \"info\": null}"
        ;;
    not-ready)
        body="{\"room_id\": null, \"path\": \"$path\", \"reason\": \"encoder_gone\"}"
        ;;
    *) fail "usage: hook.sh ready|not-ready (got '$event')" ;;
esac

# A live that accepts the connection and never answers must not hold the hook forever.
limit=""
if command -v timeout >/dev/null 2>&1; then limit="timeout ${HOOK_TIMEOUT_S:-10}"; fi

attempt=1
while :; do
    # shellcheck disable=SC2086 # $limit is empty or "timeout N", split on purpose
    if $limit wget -q -O /dev/null \
        --header "Authorization: Bearer $secret" \
        --header "Content-Type: application/json" \
        --post-data "$body" \
        "$live/media/hooks/$event"; then
        exit 0
    fi
    [ "$attempt" -lt "$tries" ] || fail "POST $live/media/hooks/$event for $path failed $tries times"
    sleep "$pause"
    attempt=$((attempt + 1))
    pause=$((pause * 2))
done
