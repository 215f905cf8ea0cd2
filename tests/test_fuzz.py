"""Property-based fuzzing of the whole API from its own OpenAPI spec (schemathesis), as a student and as an
admin: no 5xx, and every response matches the documented status codes, content types and schemas.

`make test` runs a bounded number of examples per operation (FUZZ_EXAMPLES, default 15); `make fuzz` runs
many more. One pytest test per operation, listed from the spec at collection time (building the app
connects to nothing).
"""
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks

from tests.conftest import _make_app, real_data_seed, report_figure
from tests.factories import token_for, user_create

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]
METHODS = {"get", "post", "put", "patch", "delete"}
TALLY = Counter()


def _operations():
    spec = _make_app("sqlite://", redis_url=None).test_client().get("/api/openapi.json").get_json()
    return sorted((path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in METHODS)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if TALLY:
        report_figure("fuzz", f"schemathesis: {sum(TALLY.values())} responses checked over {len(TALLY)} "
                              f"operation×role pairs (up to {MAX_EXAMPLES} examples per operation) for 5xx, "
                              "status codes, content types and schemas")


@pytest.fixture
def fuzz_app(make_pg_app):
    # Limits would turn repeated sign-in attempts into 429s; rate limiting has tests of its own.
    app = make_pg_app(RATELIMIT_ENABLED=False)
    real_data_seed(app)
    app.fuzz_tokens = {
        role: token_for(app, user_create(app, role=role, email=f"fuzz-{role}@example.test"))
        for role in ("student", "admin")
    }
    return app


@pytest.mark.parametrize("path, method", _operations())
def test_operation_conforms_to_its_spec(path, method, fuzz_app):
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        for role, token in fuzz_app.fuzz_tokens.items():
            # The in-process client advertises gzip but does not decode it; gzip is tested elsewhere.
            response = case.call(headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"})
            TALLY[(f"{method} {path}", role)] += 1
            case.validate_response(response, checks=CHECKS)

    run()
