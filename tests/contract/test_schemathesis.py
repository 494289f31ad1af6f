"""schemathesis (a tool nobody here wrote) against each running service's /openapi.json,
with the admin token and without: zero server errors, zero answers outside the documented
status codes, content types, schemas and headers, and no request the schema forbids
accepted. Deterministic (fixed seed, no example database) and bounded (examples per
operation), so a failure here reproduces with the command it prints.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import ADMIN_TOKEN, Launched
from tests.support import REPO

SERVICES = ["ingest", "live", "orders", "analytics"]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
]
SEED = 14
EXAMPLES = 25
ARTIFACTS = REPO / "test-artifacts" / "schemathesis"
# Without credentials every operation behind the admin token answers 401 whatever it is
# sent: random bodies there test only the auth wall, which the examples and the coverage
# phase (each operation's boundary and negative cases) already reach. The public
# operations are fuzzed in the admin run, which sends them the same bodies.
PHASES = {"admin": "examples,coverage,fuzzing", "anonymous": "examples,coverage"}

pytestmark = pytest.mark.timeout(300)


def schemathesis_cli() -> list[str]:
    return [str(Path(sys.executable).parent / "st")]


@pytest.mark.parametrize("auth", ["admin", "anonymous"])
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_keeps_its_openapi_contract(
    launched: Launched, service: str, auth: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS / f"{service}-{auth}.json"
    command = [
        *schemathesis_cli(),
        "run",
        f"{launched.urls[service]}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES[auth],
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--continue-on-failure",
        "--request-timeout",
        "30",  # the suite's margin for a loaded machine (a 10 s limit was passed once in CI)
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    if auth == "admin":
        command[3:3] = ["--header", f"Authorization: Bearer {ADMIN_TOKEN}"]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=280, check=False, cwd=ARTIFACTS
    )
    (ARTIFACTS / f"{service}-{auth}.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (
        f"schemathesis found problems in {service} ({auth}):\n{run.stdout[-12000:]}{run.stderr}"
    )
