"""The distributed video path (deploy/mediamtx/, the mediamtx service, nginx's /hls/), checked
offline: MediaMTX's binary is in none of the registries here, so its config is read against
the keys MediaMTX documents, cross-checked with the compose file, nginx and live's contract,
and the hook script is run for real (BusyBox sh and wget, as in the Alpine-based image)
against a local HTTP server standing in for live."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.test_deploy_files import DEPLOY, REPO, run_compose_config, with_required

MEDIAMTX = DEPLOY / "mediamtx"
CONFIG = MEDIAMTX / "mediamtx.yml"
HOOK = MEDIAMTX / "hook.sh"
AUTH_REQUESTS = Path(__file__).with_name("mediamtx_auth_requests.json")


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The keys of MediaMTX v1.20.1's reference configuration, the file its docs publish as the
# list of every parameter: https://github.com/bluenviron/mediamtx/blob/v1.20.1/mediamtx.yml
# (https://mediamtx.org/docs/references/configuration-file). rpiCamera* path keys left out.
DOCUMENTED_GLOBAL_KEYS = words(
    """
    api apiAddress apiAllowOrigins apiEncryption apiServerCert apiServerKey apiTrustedProxies
    authHTTPAddress authHTTPExclude authHTTPFingerprint authInternalUsers authJWTAudience
    authJWTClaimKey authJWTExclude authJWTIssuer authJWTJWKS authJWTJWKSFingerprint authMethod
    dumpPackets hls hlsAddress hlsAllowOrigins hlsAlwaysRemux hlsCDNSecret hlsDirectory
    hlsEncryption hlsMuxerCloseAfter hlsPartDuration hlsSegmentCount hlsSegmentDuration
    hlsSegmentMaxSize hlsServerCert hlsServerKey hlsTrustedProxies hlsVariant logDestinations
    logFile logLevel logStructured metrics metricsAddress metricsAllowOrigins metricsEncryption
    metricsServerCert metricsServerKey metricsTrustedProxies moq moqAllowOrigins moqHTTP2Address
    moqHTTP3Address moqQUICAddress moqServerCert moqServerKey moqTrustedProxies multicastIPRange
    multicastRTCPPort multicastRTPPort multicastSRTCPPort multicastSRTPPort playback
    playbackAddress playbackAllowOrigins playbackEncryption playbackServerCert playbackServerKey
    playbackTrustedProxies pprof pprofAddress pprofAllowOrigins pprofEncryption pprofServerCert
    pprofServerKey pprofTrustedProxies readTimeout rtcpAddress rtmp rtmpAddress rtmpEncryption
    rtmpServerCert rtmpServerKey rtmpTrustedProxies rtmpsAddress rtpAddress rtsp rtspAddress
    rtspAuthMethods rtspEncryption rtspServerCert rtspServerKey rtspTransports rtspTrustedProxies
    rtspsAddress runOnConnect runOnConnectRestart runOnDisconnect srt srtAddress srtcpAddress
    srtpAddress sysLogPrefix udpMaxPayloadSize udpReadBufferSize webrtc webrtcAdditionalHosts
    webrtcAddress webrtcAllowOrigins webrtcEncryption webrtcHandshakeTimeout webrtcICEServers2
    webrtcIPsFromInterfaces webrtcIPsFromInterfacesList webrtcLocalTCPAddress
    webrtcLocalUDPAddress webrtcSTUNGatherTimeout webrtcServerCert webrtcServerKey
    webrtcTrackGatherTimeout webrtcTrustedProxies writeQueueSize writeTimeout pathDefaults paths
    """
)
DOCUMENTED_PATH_KEYS = words(
    """
    alwaysAvailable alwaysAvailableFile alwaysAvailableTracks forward maxReaders moqTransport
    overridePublisher record recordDeleteAfter recordFormat recordMaxPartSize recordPartDuration
    recordPath recordSegmentDuration rtpSDP rtspAnyPort rtspDemuxMpegts rtspRangeStart
    rtspRangeType rtspScale rtspTransport rtspUDPSourcePortRange runOnAvailable
    runOnAvailableRestart runOnDemand runOnDemandCloseAfter runOnDemandRestart
    runOnDemandStartTimeout runOnInit runOnInitRestart runOnOffline runOnOnline runOnOnlineRestart
    runOnRead runOnReadRestart runOnRecordSegmentComplete runOnRecordSegmentCreate runOnUnDemand
    runOnUnavailable runOnUnread source sourceFingerprint sourceOnDemand sourceOnDemandCloseAfter
    sourceOnDemandStartTimeout sourceRedirect srtPublishPassphrase srtReadPassphrase
    useAbsoluteTimestamp whepBearerToken whepHandshakeTimeout whepSTUNGatherTimeout
    whepTrackGatherTimeout
    """
)
# Replaced in v1.20.0 by runOnAvailable / runOnUnavailable (still read, with a warning):
# internal/conf/path.go at v1.20.1.
DEPRECATED_PATH_KEYS = frozenset({"runOnReady", "runOnReadyRestart", "runOnNotReady"})
# Documented values (comments of the same file).
AUTH_ACTIONS = {"publish", "read", "playback", "api", "metrics", "pprof"}
HLS_VARIANTS = {"mpegts", "fmp4", "lowLatency"}
RECORD_FORMATS = {"fmp4", "mpegts"}
# docs/2-features/06-authentication.md at v1.20.1: the body MediaMTX POSTs.
AUTH_BODY_FIELDS = {
    *("user", "password", "token", "ip", "action", "path"),
    *("protocol", "id", "query", "userAgent"),
}
AUTH_PROTOCOLS = {"rtsp", "rtmp", "hls", "webrtc", "srt", "moq"}  # internal/auth/request.go

ROOM_ID = "r_0123456789ab"
HOOK_SECRET = "media-hook-secret-0123"


def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def port_of(address: str) -> int:
    """MediaMTX listener addresses are ":PORT" (any interface)."""
    host, _, port = address.rpartition(":")
    assert host == "", f"{address}: listens on one interface only"
    return int(port)


def room_path() -> tuple[str, dict[str, Any]]:
    [(name, settings)] = config()["paths"].items()
    return name, settings


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """{source (relative to deploy/, or the volume's name): (target, read-only)}, from either
    form a validator prints (docker compose v2: mappings; docker-compose 1.x: strings)."""
    found = {}
    for volume in service["volumes"]:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            read_only = mode == ["ro"]
        else:
            source, target = volume["source"], volume["target"]
            read_only = bool(volume.get("read_only"))
        found[source.rsplit("/deploy/", 1)[-1]] = (target, read_only)
    return found


def published_ports(service: dict[str, Any]) -> list[tuple[int, int, str]]:
    """[(published, target, protocol)], from either form a validator prints."""
    found = []
    for port in service["ports"]:
        if isinstance(port, str):
            spec, _, protocol = port.partition("/")
            published, target = spec.rsplit(":", 2)[-2:]
            found.append((int(published), int(target), protocol or "tcp"))
        else:
            found.append((int(port["published"]), int(port["target"]), port.get("protocol", "tcp")))
    return sorted(found)


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = run_compose_config(with_required())
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


# ---- mediamtx.yml ----


def test_config_uses_only_documented_keys_and_values() -> None:
    cfg = config()
    assert set(cfg) <= DOCUMENTED_GLOBAL_KEYS, set(cfg) - DOCUMENTED_GLOBAL_KEYS
    for name, settings in cfg["paths"].items():
        assert set(settings) <= DOCUMENTED_PATH_KEYS, (name, set(settings) - DOCUMENTED_PATH_KEYS)
        assert not set(settings) & DEPRECATED_PATH_KEYS, name
    assert "pathDefaults" not in cfg or not set(cfg["pathDefaults"]) & DEPRECATED_PATH_KEYS
    assert cfg["hlsVariant"] in HLS_VARIANTS
    assert {e["action"] for e in cfg["authHTTPExclude"]} <= AUTH_ACTIONS
    assert room_path()[1]["recordFormat"] in RECORD_FORMATS


def test_live_authorises_publish_read_playback_and_api() -> None:
    cfg = config()
    assert cfg["authMethod"] == "http"
    address = urlsplit(cfg["authHTTPAddress"])
    # live listens on PORT=8000 in the image (deploy/Dockerfile), whatever its embedded port.
    image_port = re.search(r"^\s+PORT=(\d+)", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert image_port
    assert (address.scheme, address.hostname, address.port, address.path) == (
        "http",
        "live",
        int(image_port.group(1)),
        "/media/auth",
    )
    # Only the unpublished metrics listener skips live: never publish, read or playback.
    assert [e["action"] for e in cfg["authHTTPExclude"]] == ["metrics"]
    assert "authInternalUsers" not in cfg  # not used with authMethod http


def test_encoders_get_rtmp_and_srt_and_viewers_low_latency_hls() -> None:
    cfg = config()
    assert cfg["rtmp"] is True and port_of(cfg["rtmpAddress"]) == 1935
    assert cfg["rtmpEncryption"] == "no"
    assert cfg["srt"] is True and port_of(cfg["srtAddress"]) == 8890
    assert cfg["hls"] is True and cfg["hlsVariant"] == "lowLatency"
    assert cfg["hlsAlwaysRemux"] is True
    # The encoder's 1 s keyframes (the console's recommendation) make 1 s segments.
    assert cfg["hlsSegmentDuration"] == "1s"
    # Not offered: each would be another way in that live does not know about.
    assert cfg["rtsp"] is False and cfg["webrtc"] is False and cfg["moq"] is False
    assert cfg["pprof"] is False


def test_only_room_paths_exist_recorded_and_hooked() -> None:
    name, settings = room_path()
    assert name.startswith("~")  # a regular expression (paths, in the reference config)
    pattern = re.compile(name[1:])
    assert pattern.search(f"live/{ROOM_ID}")
    for other in ("live/", "live/r_1/x", "other/r_1", f"xlive/{ROOM_ID}", "live/r 1"):
        assert not pattern.search(other), other
    assert settings["source"] == "publisher"
    assert settings["record"] is True
    # The playback server reads fMP4 recordings; %path keeps each room in its own folder.
    assert settings["recordFormat"] == "fmp4"
    assert settings["recordPath"].startswith("/recordings/%path/")
    assert settings["recordDeleteAfter"] == "0s"
    assert settings["runOnAvailable"] == "sh /hooks/hook.sh ready"
    assert settings["runOnUnavailable"] == "sh /hooks/hook.sh not-ready"
    assert settings["runOnAvailableRestart"] is False


# ---- docker-compose.yml ----


def test_compose_runs_mediamtx_pinned_with_its_config_hook_and_recordings(
    resolved: dict[str, Any],
) -> None:
    service = resolved["services"]["mediamtx"]
    # A pinned release of the Alpine-based variant: the hooks need its sh and wget.
    assert re.fullmatch(r"bluenviron/mediamtx:\d+\.\d+\.\d+-ffmpeg", service["image"])
    assert mounts(service) == {
        "mediamtx/mediamtx.yml": ("/mediamtx.yml", True),  # where the image reads its config
        "mediamtx/hook.sh": ("/hooks/hook.sh", True),
        "recordings": ("/recordings", False),
    }
    assert "recordings" in resolved["volumes"]  # a named volume, kept across upgrades
    assert "live" in service["depends_on"]  # a list or, resolved, a mapping
    env = service["environment"]
    live_env = resolved["services"]["live"]["environment"]
    assert env["MEDIA_HOOK_SECRET"] == live_env["MEDIA_HOOK_SECRET"]
    live_url = urlsplit(env["LIVE_INTERNAL_URL"])
    auth = urlsplit(config()["authHTTPAddress"])
    assert (live_url.hostname, live_url.port) == (auth.hostname, auth.port)
    assert not any(name.startswith("MTX_") for name in env)  # MTX_* would override the config
    health = service["healthcheck"]["test"]
    assert f"http://127.0.0.1:{port_of(config()['metricsAddress'])}/metrics" in health


def test_compose_publishes_only_the_encoder_ports(resolved: dict[str, Any]) -> None:
    cfg = config()
    assert published_ports(resolved["services"]["mediamtx"]) == [
        (1935, port_of(cfg["rtmpAddress"]), "tcp"),
        (8890, port_of(cfg["srtAddress"]), "udp"),
    ]
    # HLS, playback, API and metrics are reached on the compose network only.


def test_live_runs_in_mediamtx_mode_with_the_public_addresses(resolved: dict[str, Any]) -> None:
    env = resolved["services"]["live"]["environment"]
    host = with_required()["MEDIA_PUBLIC_HOST"]
    assert env["MEDIA_MODE"] == "mediamtx"
    assert env["PUBLISH_RTMP_URL"] == f"rtmp://{host}:1935"
    assert env["PUBLISH_SRT_URL"] == f"srt://{host}:8890"
    assert env["PLAYBACK_URL_TEMPLATE"] == "/hls/live/{room_id}/index.m3u8"
    assert env["REPLAY_URL_TEMPLATE"] == ""
    # The playlist path behind /hls/ is MediaMTX's: <path>/index.m3u8, path live/<room_id>.
    path = env["PLAYBACK_URL_TEMPLATE"].format(room_id=ROOM_ID).removeprefix("/hls/")
    assert path == f"live/{ROOM_ID}/index.m3u8"
    assert re.compile(room_path()[0][1:]).search(path.removesuffix("/index.m3u8"))


def test_live_reads_every_setting_compose_gives_it() -> None:
    from services.live.settings import LiveSettings

    fields = set(LiveSettings.model_fields)
    if "media_mode" not in fields:
        pytest.skip("live's video settings (media_mode, ...) are not on this branch yet")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    names = {n.lower() for n in compose["services"]["live"]["environment"]} - {"<<"}
    assert names <= fields, names - fields


def test_env_example_lists_every_required_variable() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    listed = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / ".env.example").read_text(), re.M))
    assert {"MEDIA_HOOK_SECRET", "MEDIA_PUBLIC_HOST"} <= required
    assert required <= listed, required - listed


# ---- nginx ----


def live_server_block() -> str:
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    return nginx.split("listen 8002;", 1)[1].split("\n    server {", 1)[0]


def location(block: str, prefix: str) -> str:
    match = re.search(r"location " + re.escape(prefix) + r" \{(.*?)\n        \}", block, re.S)
    assert match, prefix
    return match.group(1)


def test_nginx_serves_mediamtx_hls_under_hls_on_lives_port() -> None:
    hls = location(live_server_block(), "/hls/")
    target = re.search(r"set \$(\w+) http://mediamtx:(\d+);", hls)
    assert target and int(target.group(2)) == port_of(config()["hlsAddress"])
    assert f"proxy_pass ${target.group(1)};" in hls
    # MediaMTX's subfolder recipe: strip the prefix, put it back on redirects.
    assert "rewrite ^/hls/(.*)$ /$1 break;" in hls
    assert "proxy_redirect / /hls/;" in hls
    assert "proxy_buffering off;" in hls  # LL-HLS blocking reloads stream through
    assert "proxy_hide_header WWW-Authenticate;" in hls


def test_nginx_serves_playback_and_hides_lives_media_api() -> None:
    block = live_server_block()
    playback = location(block, "/playback/")
    target = re.search(r"set \$(\w+) http://mediamtx:(\d+);", playback)
    assert target and int(target.group(2)) == port_of(config()["playbackAddress"])
    assert "proxy_redirect / /playback/;" in playback
    assert re.search(r"location /media/ \{ return 404; \}", block)


def test_prometheus_scrapes_mediamtx_metrics() -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "mediamtx"]
    port = port_of(config()["metricsAddress"])
    assert job["static_configs"] == [{"targets": [f"mediamtx:{port}"]}]


# ---- the auth requests live's endpoint is tested with ----


def test_auth_request_fixture_is_mediamtx_documented_body() -> None:
    fixture = json.loads(AUTH_REQUESTS.read_text())
    room, key = fixture["room"]["room_id"], fixture["room"]["key"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", key)
    pattern = re.compile(room_path()[0][1:])
    seen = set()
    for case in fixture["cases"]:
        body = case["request"]
        assert set(body) == AUTH_BODY_FIELDS, case["name"]
        assert body["action"] in AUTH_ACTIONS and body["action"] != "metrics"  # excluded
        assert case["expect"] in {"allow", "deny"}
        if body["action"] in {"publish", "read"}:
            assert body["protocol"] in AUTH_PROTOCOLS and body["id"], case["name"]
            assert pattern.search(body["path"]), case["name"]
        else:
            assert body["protocol"] == "" and body["id"] is None, case["name"]
        if body["password"]:
            assert body["token"] == body["password"]  # getToken with authMethod http
        if body["protocol"] == "rtmp" and body["password"]:
            assert body["query"] == f"user={body['user']}&pass={body['password']}"
        right = body["password"] == key and body["path"] == f"live/{room}"
        if case["expect"] == "allow":
            assert body["action"] in {"publish", "read"}
            assert right or body["action"] == "read"
        seen.add((body["action"], body["protocol"], case["expect"]))
    assert {
        ("publish", "rtmp", "allow"),
        ("publish", "rtmp", "deny"),
        ("publish", "srt", "allow"),
        ("publish", "srt", "deny"),
        ("read", "hls", "allow"),
        ("read", "hls", "deny"),
        ("api", "", "deny"),
        ("playback", "", "deny"),
    } <= seen


# ---- hook.sh, run for real ----


class FakeLive:
    """Records the hook's requests and answers each with the next status (then 204)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
                )
                self.send_response(fake.statuses.pop(0) if fake.statuses else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_live() -> Iterator[FakeLive]:
    live = FakeLive()
    yield live
    live.close()


@pytest.fixture(scope="module")
def hook_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH for the hook: BusyBox's applets only, as in the Alpine image (its sh, wget,
    timeout, sleep); without BusyBox, the system's sh and wget (same options)."""
    busybox = shutil.which("busybox")
    if busybox:
        bin_dir = tmp_path_factory.mktemp("busybox-bin")
        for applet in ("sh", "wget", "timeout", "sleep"):
            (bin_dir / applet).symlink_to(busybox)
        return str(bin_dir)
    if shutil.which("sh") and shutil.which("wget"):
        return os.environ["PATH"]
    pytest.skip("neither busybox nor sh+wget: hook.sh was not run (apt-get install busybox)")


def run_hook(
    hook_path: str, event: str, live_url: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": hook_path,
        "MEDIA_HOOK_SECRET": HOOK_SECRET,
        "LIVE_INTERNAL_URL": live_url,
        "MTX_PATH": f"live/{ROOM_ID}",
        "MTX_SOURCE_TYPE": "rtmpConn",
        "HOOK_PAUSE_S": "0",
    }
    # As in mediamtx.yml: `sh /hooks/hook.sh <event>`, no shell around it.
    return subprocess.run(
        ["sh", str(HOOK), event],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
        executable=shutil.which("sh", path=hook_path),
    )


@pytest.mark.parametrize(
    ("source_type", "protocol"),
    [("rtmpConn", "rtmp"), ("srtConn", "srt"), ("webRTCSession", "webrtc"), ("", None)],
)
def test_hook_reports_ready_with_the_contract_body(
    hook_path: str, fake_live: FakeLive, source_type: str, protocol: str | None
) -> None:
    result = run_hook(hook_path, "ready", fake_live.url, MTX_SOURCE_TYPE=source_type)
    assert result.returncode == 0, result.stderr
    [request] = fake_live.requests
    assert request["path"] == "/media/hooks/ready"
    assert request["headers"]["Authorization"] == f"Bearer {HOOK_SECRET}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "room_id": None,
        "path": f"live/{ROOM_ID}",
        "protocol": protocol,
        "info": None,
    }


def test_hook_reports_not_ready_as_encoder_gone(hook_path: str, fake_live: FakeLive) -> None:
    result = run_hook(hook_path, "not-ready", fake_live.url, MTX_SOURCE_TYPE="srtConn")
    assert result.returncode == 0, result.stderr
    [request] = fake_live.requests
    assert request["path"] == "/media/hooks/not-ready"
    assert request["headers"]["Authorization"] == f"Bearer {HOOK_SECRET}"
    assert json.loads(request["body"]) == {
        "room_id": None,
        "path": f"live/{ROOM_ID}",
        "reason": "encoder_gone",
    }


def test_hook_retries_while_live_is_away_then_gives_up(hook_path: str, fake_live: FakeLive) -> None:
    fake_live.statuses = [503, 502]
    assert run_hook(hook_path, "ready", fake_live.url).returncode == 0
    assert len(fake_live.requests) == 3  # two refusals, then 204
    fake_live.requests.clear()
    fake_live.statuses = [401, 401]
    result = run_hook(hook_path, "not-ready", fake_live.url, HOOK_TRIES="2")
    assert result.returncode != 0 and "failed 2 times" in result.stderr
    assert len(fake_live.requests) == 2


@pytest.mark.parametrize(
    ("event", "env"),
    [
        ("ready", {"MTX_PATH": "other/r_1"}),
        ("ready", {"MTX_PATH": "live/"}),
        ("ready", {"MTX_PATH": 'live/r_1", "x": "y'}),
        ("ready", {"MEDIA_HOOK_SECRET": ""}),
        ("started", {}),
    ],
)
def test_hook_refuses_what_is_not_a_room_path(
    hook_path: str, fake_live: FakeLive, event: str, env: dict[str, str]
) -> None:
    result = run_hook(hook_path, event, fake_live.url, **env)
    assert result.returncode != 0
    assert fake_live.requests == []


# ---- the runbook ----


def test_runbook_has_the_video_section_for_ops() -> None:
    runbook = (DEPLOY / "README.md").read_text()
    video = runbook.split("## Video", 1)[1].split("\n## ", 1)[0]
    for needle in ("1935/tcp", "8890/udp", "OBS", "streamid=publish:live/", "/media/auth"):
        assert needle in video, needle
    for needle in ("recordings", "/playback/", "MEDIA_HOOK_SECRET", "MEDIA_PUBLIC_HOST"):
        assert needle in video, needle
    assert (REPO / "docs" / "decisions" / "0021-mediamtx-for-distributed-video.md").exists()
