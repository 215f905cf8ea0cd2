"""The delivery log's filters, as the API (``GET /api/webhooks/deliveries``) and the console share them: outcome,
payload type, UTC days received, a part of the webhook-id — combined, paginated, two queries, 422 on bad ones."""
import json
from datetime import date, datetime, timezone

import pytest

from raf_network.webhook.services import delivery_list
from tests.conftest import count_queries
from tests.factories import bearer, user_create
from tests.webhook.helpers import delivery_add

LOG = "/api/webhooks/deliveries"


def _at(day, hour=12):
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture
def log(app):
    """Five deliveries over three days, of every outcome."""
    ids = {
        "snapshot": delivery_add(app, webhook_id="msg_Snapshot_1", type="courses.snapshot", received_at=_at(20, 0)),
        "delta": delivery_add(app, webhook_id="msg_delta_2", received_at=_at(21, 9)),
        "rejected": delivery_add(app, webhook_id="msg_delta_3", status="rejected", received_at=_at(21, 23),
                                 error={"message": "the payload is invalid; nothing was written"}),
        "failed": delivery_add(app, webhook_id="msg_100%_4", status="failed", received_at=_at(22, 1),
                               error={"message": "OperationalError: database is locked"}),
        "duplicate": delivery_add(app, webhook_id="msg_delta_2", status="duplicate", received_at=_at(22, 23)),
    }
    return app, ids


def _listed(app, **filters):
    with app.app_context():
        deliveries, total = delivery_list(page=1, page_size=50, **filters)
        return [delivery.id for delivery in deliveries], total


def test_each_filter_and_their_combination(log):
    app, ids = log
    assert _listed(app) == (sorted(ids.values(), reverse=True), 5)
    assert _listed(app, status="failed") == ([ids["failed"]], 1)
    assert _listed(app, type="courses.snapshot") == ([ids["snapshot"]], 1)
    # UTC days, both ends inclusive: 21 November from 00:00 to 23:59:59.
    assert _listed(app, received_from=_at(21).date(), received_to=_at(21).date()) == (
        [ids["rejected"], ids["delta"]], 2)
    assert _listed(app, received_from=_at(22).date())[1] == 2
    assert _listed(app, received_to=_at(20).date()) == ([ids["snapshot"]], 1)
    assert _listed(app, received_from=_at(22).date(), received_to=_at(21).date()) == ([], 0)  # an empty range
    assert _listed(app, received_from=date.min, received_to=date.max)[1] == 5  # the ends of the calendar
    # A part of the webhook-id, case-insensitively; % and _ are plain characters, not patterns.
    assert _listed(app, webhook_id="SNAPSHOT") == ([ids["snapshot"]], 1)
    assert _listed(app, webhook_id="100%") == ([ids["failed"]], 1)
    assert _listed(app, webhook_id="a_2")[1] == 2
    assert _listed(app, webhook_id="delta", status="applied", type="courses.delta") == ([ids["delta"]], 1)
    assert _listed(app, webhook_id="nothing-like-this") == ([], 0)


def test_the_api_filters_and_pages_with_two_queries(log):
    app, ids = log
    client = app.test_client()
    headers = bearer(app, user_create(app, role="faculty_administrator"))
    response = client.get(f"{LOG}?webhook_id=delta&page_size=1&page=2", headers=headers)
    assert response.status_code == 200
    assert [delivery["id"] for delivery in response.get_json()] == [ids["rejected"]]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    response = client.get(f"{LOG}?status=rejected&received_from=2026-11-21&received_to=2026-11-21", headers=headers)
    assert [delivery["status"] for delivery in response.get_json()] == ["rejected"]
    with app.app_context(), count_queries(app) as statements:
        delivery_list(page=1, page_size=50, status="applied", webhook_id="msg")
    assert len(statements) == 2


@pytest.mark.parametrize("query", [
    "status=lost", "type=courses.everything", "received_from=yesterday", "received_to=2026-11-31",
    "received_from=2026-11-22T10:00:00", "webhook_id=", "sort=id", "page_size=0",
])
def test_a_bad_filter_is_422_with_its_error(log, query):
    app, _ids = log
    headers = bearer(app, user_create(app, role="admin"))
    response = app.test_client().get(f"{LOG}?{query}", headers=headers)
    assert response.status_code == 422, query
    assert response.get_json()["errors"]["query"]


def test_the_filters_are_documented(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    parameters = {p["name"]: p for p in spec["paths"][LOG]["get"]["parameters"]}
    assert {"status", "type", "received_from", "received_to", "webhook_id", "page", "page_size"} <= set(parameters)
    assert parameters["status"]["schema"]["enum"] == ["applied", "duplicate", "rejected", "failed"]
    assert parameters["received_from"]["schema"]["format"] == "date"
    assert "422" in spec["paths"][LOG]["get"]["responses"]
