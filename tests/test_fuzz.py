"""Property-based fuzzing of the whole API from its own OpenAPI spec (schemathesis), as a student and as an
admin, with schemathesis' default checks: no 5xx; every response matches the documented status codes, content
types, headers and schemas; every schema-valid request is accepted (the spec says what the server enforces);
and a protected operation refuses the same request without, or with an invalid, token.

`make test` runs a bounded number of examples per operation (FUZZ_EXAMPLES, default 15); `make fuzz` runs
many more. One pytest test per operation, listed from the spec at collection time (building the app
connects to nothing).
"""
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.conftest import _make_app, real_data_seed, report_figure
from tests.factories import token_for, user_create

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
METHODS = {"get", "post", "put", "patch", "delete"}
TALLY = Counter()
# Operations whose input no schema can fully describe, and the check that therefore does not apply: a picture's
# bytes must decode as a real image (422 otherwise: tests/network/test_pictures.py, test_profile.py); a job's
# end_date is never before its start_date — a rule between two fields, which JSON Schema cannot state (422
# otherwise: tests/network/test_profile.py). Every other check still runs on these operations.
EXCLUDED_CHECKS = {
    ("/api/me/profile/picture", "PUT"): [checks.positive_data_acceptance],
    ("/api/me/employment-history", "POST"): [checks.positive_data_acceptance],
    ("/api/me/employment-history/{employment_id}", "PATCH"): [checks.positive_data_acceptance],
}


def _operations():
    spec = _make_app("sqlite://", redis_url=None).test_client().get("/api/openapi.json").get_json()
    return sorted((path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in METHODS)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if TALLY:
        report_figure("fuzz", f"schemathesis: {sum(TALLY.values())} responses checked over {len(TALLY)} "
                              f"operation×role pairs (up to {MAX_EXAMPLES} examples per operation) with "
                              "schemathesis' default checks")


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
            headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
            response = case.call(headers=headers)
            TALLY[(f"{method} {path}", role)] += 1
            # The headers tell schemathesis the token is ours (valid), so its auth check probes without it.
            case.validate_response(response, headers=headers, excluded_checks=EXCLUDED_CHECKS.get((path, method)))

    run()
