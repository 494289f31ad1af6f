"""deploy/ checked offline (no Docker engine here): the compose file through a compose
implementation's own validator, the NATS configs through nats-server -t, the image's entry
point and health check against a real service process, the rest by reading the files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.embedded_nats import NatsServer, free_port, nats_server_binary

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
APP_SERVICES = ("ingest", "live", "orders", "analytics")
SECRETS = {
    "NATS_PASSWORD": "nats-password-0123",
    "POSTGRES_PASSWORD": "postgres-password-0123",
    "SECRET_KEY": "0123456789abcdef0123456789abcdef",
    "ADMIN_TOKEN": "admin-token-0123",
    "PAYMENT_SECRET": "payment-secret-0123",
    "TELEGRAM_SECRET_TOKEN": "telegram_secret_0123",
    "WHATSAPP_APP_SECRET": "whatsapp-secret-0123",
    "WHATSAPP_VERIFY_TOKEN": "whatsapp-verify-0123",
    "WEBHOOK_SECRET": "webhook-secret-0123",
    "TELEGRAM_BOT_TOKEN": "123456789:telegram-bot-token-0123",
    "WHATSAPP_ACCESS_TOKEN": "whatsapp-access-token-0123",
    "MEDIA_HOOK_SECRET": "media-hook-secret-0123",
}
# Required too, but not secrets: where encoders reach MediaMTX, where the groups' links go.
SETTINGS = {
    "MEDIA_PUBLIC_HOST": "media.example.com",
    "LIVE_PUBLIC_URL": "https://live.example.com",
    "ORDERS_PUBLIC_URL": "https://orders.example.com",
}


def with_required() -> dict[str, str]:
    """Every variable compose requires, with test values."""
    return SECRETS | SETTINGS


def compose_command() -> list[str] | None:
    """`docker compose` (v2) when it works without an engine, else Debian's docker-compose."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "no compose validator: neither `docker compose` nor `docker-compose` is installed "
            "(Debian: apt-get install --no-install-recommends docker-compose; see README, Tests)"
        )
    base = {k: v for k, v in os.environ.items() if k not in SECRETS and k not in SETTINGS}
    return subprocess.run(
        [*command, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=base | env,
        cwd=DEPLOY.parent,
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose file as the validator resolved it, secrets filled in."""
    result = run_compose_config(with_required())
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_compose_file_is_valid_and_has_the_production_topology(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    nats = sorted(name for name in services if re.fullmatch(r"nats-\d", name))
    assert nats == ["nats-1", "nats-2", "nats-3"]
    assert [services[n]["command"] for n in nats] == [["-c", f"/etc/nats/{n}.conf"] for n in nats]
    replicas = {name: services[name].get("deploy", {}).get("replicas", 1) for name in APP_SERVICES}
    assert replicas == {"ingest": 1, "live": 2, "orders": 2, "analytics": 1}
    for name in APP_SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["command"] == [name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert env["ENV"] == "production"
        assert str(env["STREAM_REPLICAS"]) == "3"
        servers = env["NATS_URL"].split(",")
        assert [s.rsplit("@", 1)[1] for s in servers] == [f"{n}:4222" for n in nats]
        assert env["DATABASE_URL"].endswith("@postgres:5432/qunlive")
        assert set(service["depends_on"]) == {"postgres", *nats}
    volumes = {
        v.split(":")[1] if isinstance(v, str) else v["target"]
        for v in services["postgres"]["volumes"]
    }
    assert "/var/lib/postgresql/data" in volumes
    published = sorted(
        int(p["published"]) if isinstance(p, dict) else int(str(p).rsplit(":", 2)[-2])
        for p in services["proxy"]["ports"]
    )
    assert published == [8001, 8002, 8003, 8004]
    assert not any("ports" in services[name] for name in (*APP_SERVICES, *nats, "postgres"))


def test_compose_refuses_to_start_without_its_secrets() -> None:
    result = run_compose_config({})
    assert result.returncode != 0
    assert "NATS_PASSWORD" in result.stderr or "POSTGRES_PASSWORD" in result.stderr
    missing_one = {k: v for k, v in with_required().items() if k != "SECRET_KEY"}
    result = run_compose_config(missing_one)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_every_secret_in_the_compose_file_is_required_and_nothing_else_is_hard_coded() -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"(:\?[^}]*)?\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") for use in uses), f"{name} has a use without :?"
    # No secret-looking literal value: every *PASSWORD/SECRET/TOKEN/KEY comes from ${VAR:?}.
    for match in re.finditer(
        r"^\s+([A-Z_]*(PASSWORD|SECRET|TOKEN|KEY)[A-Z_]*):\s*(.+)$", text, re.M
    ):
        assert match.group(3).startswith("${") and ":?" in match.group(3), match.group(0)


def test_dockerfile_is_multi_stage_non_root_with_a_readiness_health_check() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.M)
    assert stages == ["build", "runtime"]
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    assert user and not user[-1].startswith(("root", "0")), user
    assert "HEALTHCHECK" in runtime and "/app/deploy/healthcheck.py" in runtime
    assert "/readyz" in (DEPLOY / "healthcheck.py").read_text()
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in runtime
    assert "slim" in dockerfile.split("\n", 5)[-1] or "slim" in dockerfile
    # Everything the image copies is let through the build context's ignore file.
    allowed = re.findall(r"^!(\S+)", (DEPLOY / "Dockerfile.dockerignore").read_text(), re.M)
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert any(path.rstrip("/") == a.rstrip("/") for a in allowed), path
            assert (REPO / path).exists(), path


def test_nats_configs_are_valid_and_refuse_to_run_without_a_password() -> None:
    names = set()
    for n in (1, 2, 3):
        config = DEPLOY / "nats" / f"nats-{n}.conf"
        env = {k: v for k, v in os.environ.items() if k != "NATS_PASSWORD"}
        ok = subprocess.run(
            [nats_server_binary(), "-c", str(config), "-t"],
            capture_output=True,
            text=True,
            env=env | {"NATS_PASSWORD": "x"},
        )
        assert ok.returncode == 0, ok.stderr + ok.stdout
        refused = subprocess.run(
            [nats_server_binary(), "-c", str(config), "-t"], capture_output=True, text=True, env=env
        )
        assert refused.returncode != 0 and "NATS_PASSWORD" in refused.stderr + refused.stdout
        names.update(re.findall(r"^server_name: (\S+)", config.read_text(), re.M))
    assert names == {"nats-1", "nats-2", "nats-3"}
    cluster = (DEPLOY / "nats" / "cluster.conf").read_text()
    assert "jetstream" in cluster
    assert all(f"nats-route://nats-{n}:6222" in cluster for n in (1, 2, 3))


def test_proxy_sends_each_port_to_its_service_and_upgrades_websockets() -> None:
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    for port, service in zip((8001, 8002, 8003, 8004), APP_SERVICES, strict=True):
        server = nginx.split(f"listen {port};", 1)[1].split("server {", 1)[0]
        assert f"http://{service}:8000" in server, service
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    assert "resolver 127.0.0.11" in nginx  # every replica, re-resolved: scale without reload
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed: its own syntax check (nginx -t) was not run")
    result = subprocess.run(
        ["nginx", "-t", "-c", str(DEPLOY / "nginx" / "nginx.conf")], capture_output=True, text=True
    )
    assert "syntax is ok" in result.stderr, result.stderr


def test_prometheus_scrapes_every_replica_of_every_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "qunlive"]
    [dns] = job["dns_sd_configs"]
    assert sorted(dns["names"]) == sorted(APP_SERVICES)
    assert dns["type"] == "A" and dns["port"] == 8000
    assert job["metrics_path"] == "/metrics"
    assert "ENV PATH" in (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^\s+PORT=8000", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in COMPOSE.read_text()


def test_runbook_covers_start_scale_upgrade_backup_restore_and_health() -> None:
    runbook = (DEPLOY / "README.md").read_text().lower()
    for topic in ("## start", "## scale", "## upgrade", "## back up", "## restore"):
        assert topic in runbook, topic
    for needle in ("/healthz", "/readyz", "/metrics", "pg_dump", "pg_restore"):
        assert needle in runbook, needle
    assert "nats stream backup" in runbook and "nats stream restore" in runbook


@pytest.fixture
def image_env(nats_server: NatsServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    yield env | {
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "NATS_URL": nats_server.url,
        "DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }


def test_entry_point_starts_the_service_named_and_the_health_check_waits_for_ready(
    image_env: dict[str, str],
) -> None:
    entrypoint, check = (
        str(DEPLOY / "entrypoint.sh"),
        [sys.executable, str(DEPLOY / "healthcheck.py")],
    )
    usage = subprocess.run([entrypoint], capture_output=True, text=True, env=image_env, cwd=REPO)
    assert usage.returncode == 64 and "ingest, live, orders or analytics" in usage.stderr
    other = subprocess.run(
        [entrypoint, "python", "-c", "print('other command')"],
        capture_output=True,
        text=True,
        env=image_env,
        cwd=REPO,
    )
    assert other.stdout.strip() == "other command"
    assert subprocess.run(check, env=image_env, capture_output=True).returncode == 1  # nothing up
    service = subprocess.Popen(
        [entrypoint], env=image_env | {"SERVICE": "analytics"}, cwd=REPO, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(check, env=image_env, capture_output=True).returncode != 0:
            assert service.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "never healthy"
            time.sleep(0.2)
        port = image_env["PORT"]
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).json()
        assert health["service"] == "analytics"
    finally:
        service.terminate()
        service.wait(20)
