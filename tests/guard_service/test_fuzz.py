"""Fuzz the running service from its own OpenAPI document (schemathesis): no 500s, responses as documented.

The document is generated at collection time from ``create_app`` (nothing starts), one
test checks it is the very document the running server publishes, and each operation
is then fuzzed against the running two-worker server.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from tests.guard_service.conftest import FUZZ_TOKEN

from trainguard.guard.service import ServiceSettings, create_app

pytestmark = pytest.mark.service

DOCUMENT = create_app(ServiceSettings()).openapi()
CONFIG = SchemathesisConfig.from_dict({"auth": {"openapi": {"apiKey": {"bearer": FUZZ_TOKEN}}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)


def test_the_server_publishes_the_fuzzed_document(service) -> None:
    with service.client("fuzz") as c:
        assert c.get("/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, service) -> None:  # type: ignore[no-untyped-def]
    response = case.call_and_validate(base_url=service.url, timeout=30)
    STATUSES[f"{case.method} {case.path}"][response.status_code] += 1


def test_fuzzing_got_past_authentication_and_validation() -> None:
    if not STATUSES:
        pytest.skip("the fuzz cases did not run in this session")
    for op in ("POST /v1/guard/input", "POST /v1/guard/batch", "POST /v1/chat/completions"):
        assert STATUSES[op][200] > 0, f"{op}: no generated request was accepted ({STATUSES[op]})"
