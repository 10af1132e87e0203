"""Property-based requests generated from the service's own OpenAPI schema: no answer may be a 5xx.

schemathesis's pytest plugin does not load under this pytest, so the test drives its strategies with
hypothesis directly: one property per API operation.
"""

from __future__ import annotations

from collections import Counter

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.serve.conftest import deploy


def test_no_server_errors_for_any_generated_request(serve_url: str) -> None:
    base = serve_url + deploy("fuzz", {"settings": {"max_note_chars": 2000}})
    schema = schemathesis.openapi.from_dict(httpx.get(f"{base}/openapi.json", timeout=30).json())
    schema.config.base_url = base
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} >= {"/v1/deidentify", "/v1/ner", "/v1/summarize", "/v1/process"}
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call_and_validate(checks=[not_a_server_error], timeout=60)
            statuses[response.status_code] += 1

        no_server_error()
    assert sum(statuses.values()) >= 5 * len(operations), statuses
    assert statuses[200] > 0, statuses
