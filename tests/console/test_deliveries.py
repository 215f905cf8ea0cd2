"""Isporuke: the delivery log filtered as the API filters it (422 on a bad filter), a delivery's change set and
error, a replay and its outcome (the mass-deletion guard and its override), refusals that change nothing, constant
queries — and an officer replaying a failed delivery in the browser."""
import json
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import func, select

from raf_network.console.models import AuditEntry
from raf_network.extensions import db
from raf_network.webhook.models import WebhookDelivery
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.factories import bearer, user_create
from tests.webhook.helpers import deliver, deliveries, delivery_add, delta, entry_row, raf_snapshot


def _at(day, hour=12):
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(WebhookDelivery))


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.id)).all()


def _failed_move(app):
    """After the real timetable: a delivery moving one class to Raf01 that failed (an unexpected error rolled it
    back), as ``_failed_record`` leaves it. Returns (its id, the entry's key)."""
    entry = raf_snapshot()["data"]["schedule"][4]
    body = json.dumps(delta(schedule=[{**entry, "classroom": "Raf01"}])).encode()
    failed = delivery_add(app, webhook_id="msg_failed_move", status="failed", type="courses.delta", body=body,
                          error={"message": "OperationalError: database is locked"})
    return failed, entry["id"]


def test_the_log_is_filtered_like_the_api(app):
    staff = ConsoleClient(app)
    delivery_add(app, webhook_id="msg_Snapshot_1", type="courses.snapshot", received_at=_at(20))
    delivery_add(app, webhook_id="msg_delta_2", received_at=_at(21))
    delivery_add(app, webhook_id="msg_lost_3", status="failed", received_at=_at(22),
                 error={"message": "OperationalError: database is locked"})
    everything = page_text(staff.get("/console/deliveries"))
    assert all(webhook_id in everything for webhook_id in ("msg_Snapshot_1", "msg_delta_2", "msg_lost_3"))
    # The page's GET form sends every field; an empty one means "any".
    blank = page_text(staff.get("/console/deliveries?status=&type=&received_from=&received_to=&webhook_id="))
    assert '<span id="ukupno">3</span>' in blank
    failed = page_text(staff.get("/console/deliveries?status=failed"))
    assert "msg_lost_3" in failed and "msg_delta_2" not in failed and "neuspela" in failed
    snapshots = page_text(staff.get("/console/deliveries?type=courses.snapshot"))
    assert "msg_Snapshot_1" in snapshots and "msg_delta_2" not in snapshots
    days = page_text(staff.get("/console/deliveries?received_from=2026-11-21&received_to=2026-11-21"))
    assert "msg_delta_2" in days and "msg_lost_3" not in days and "msg_Snapshot_1" not in days
    searched = page_text(staff.get("/console/deliveries?webhook_id=SNAPSHOT"))
    assert '<span id="ukupno">1</span>' in searched and "msg_Snapshot_1" in searched
    assert 'value="SNAPSHOT"' in searched  # the form shows the filter it applied


@pytest.mark.parametrize("query", ["status=lost", "type=x", "received_from=juče", "page=0", "sort=id",
                                   "received_to=2026-02-30", "webhook_id=" + "x" * 256])
def test_a_bad_filter_is_a_422_page(embedded_app, query):
    staff = ConsoleClient(embedded_app)
    response = staff.get(f"/console/deliveries?{query}")
    assert response.status_code == 422 and "Uneti podaci nisu ispravni" in page_text(response)


def test_pages_of_the_log_keep_the_filters(embedded_app):
    staff = ConsoleClient(embedded_app)
    for number in range(30):
        delivery_add(embedded_app, webhook_id=f"msg_page_{number}", status="rejected" if number % 2 else "applied")
    html = page_text(staff.get("/console/deliveries?status=rejected&page_size=10"))
    assert "Strana 1 od 2" in html and "status=rejected" in html.split('rel="next"')[0].rsplit("href=", 1)[1]


def test_the_log_costs_the_same_queries_for_3_or_30_deliveries(app):
    staff = ConsoleClient(app)

    def queries():
        with count_queries(app) as statements:
            assert staff.get("/console/deliveries?status=applied&webhook_id=msg").status_code == 200
        return len(statements)

    for number in range(3):
        delivery_add(app, webhook_id=f"msg_few_{number}")
    few = queries()
    for number in range(27):
        delivery_add(app, webhook_id=f"msg_many_{number}")
    assert queries() == few
    with count_queries(app) as statements:
        assert staff.get(f"/console/deliveries/{deliveries(app)[0].id}").status_code == 200
    assert len(statements) <= few + 1


def test_a_delivery_shows_its_change_set_and_error(app):
    staff = ConsoleClient(app)
    assert deliver(app, raf_snapshot()).status_code == 200
    entry = raf_snapshot()["data"]["schedule"][4]
    moved = deliver(app, delta(schedule=[{**entry, "classroom": "Raf01"}])).get_json()["delivery"]
    refused = deliver(app, {"type": "courses.delta", "timestamp": "2026-11-26T11:00:00Z",
                            "data": {"schedule": [{**entry, "start": "25:00"}]}})
    assert refused.status_code == 422
    html = page_text(staff.get(f"/console/deliveries/{moved}"))
    assert "Izmenjeno" in html and "Termini rasporeda: 1" in html
    assert f"{entry['id']}: classroom {entry['classroom']} → Raf01" in html
    first = page_text(staff.get("/console/deliveries/1"))
    assert "Dodato" in first and "Predmeti: 74" in first and "Termini rasporeda: 326" in first
    rejected = page_text(staff.get(f"/console/deliveries/{deliveries(app)[-1].id}"))
    assert "odbijena" in rejected and "the payload is invalid" in rejected
    assert "data.schedule[0].start" in rejected and "Isporuka nije primenjena." in rejected
    assert staff.get("/console/deliveries/999999").status_code == 404


def test_a_replay_of_a_failed_delivery_applies_it_and_shows_the_outcome(app):
    staff = ConsoleClient(app)
    assert deliver(app, raf_snapshot()).status_code == 200
    failed, key = _failed_move(app)
    response = staff.post(f"/console/deliveries/{failed}/replay")
    replay = deliveries(app)[-1]
    assert response.status_code == 302 and response.headers["Location"] == f"/console/deliveries/{replay.id}"
    assert (replay.status, replay.signature, replay.original_id, replay.updated_count) == (
        "applied", "replay", failed, 1)
    assert entry_row(app, key).classroom == "Raf01"
    html = staff.flashed(f"/console/deliveries/{replay.id}")
    assert f"ponovo primenjena kao isporuka {replay.id}: dodato 0, izmenjeno 1, uklonjeno 0" in html
    assert "primenjena" in html and f"isporuka {failed}" in html
    [entry] = _audit(app, "delivery_replay")
    assert entry.target == f"delivery {failed}" and entry.details["replay"] == replay.id
    assert entry.details["force"] is False


def test_a_replay_keeps_the_mass_deletion_guard_unless_forced(app):
    staff = ConsoleClient(app)
    assert deliver(app, raf_snapshot()).status_code == 200
    shrinking = raf_snapshot(timestamp="2026-11-26T10:00:00Z")
    shrinking["data"]["schedule"] = shrinking["data"]["schedule"][:100]
    assert deliver(app, shrinking).status_code == 409
    stored = deliveries(app)[-1].id
    response = staff.post(f"/console/deliveries/{stored}/replay")
    assert response.status_code == 409
    html = page_text(response)
    assert "Ponavljanje je odbijeno (409)" in html and "mass deletion refused" in html
    assert len(app.test_client().get("/api/course-schedule").get_json()) == 326
    assert _audit(app, "delivery_replay")[-1].details["refused"] == 409
    forced = staff.post(f"/console/deliveries/{stored}/replay", {"force": "y"})
    assert forced.status_code == 302
    assert "uklonjeno 226" in staff.flashed(forced.headers["Location"])
    assert len(app.test_client().get("/api/course-schedule").get_json()) == 100
    assert _audit(app, "delivery_replay")[-1].details["force"] is True


def test_a_replay_without_the_forms_token_or_of_nothing_changes_nothing(embedded_app):
    staff = ConsoleClient(embedded_app)
    failed = delivery_add(embedded_app, status="failed", body=json.dumps(delta(schedule=[])).encode())
    before = _count(embedded_app)
    assert staff.post(f"/console/deliveries/{failed}/replay", token=False).status_code == 400
    assert staff.post(f"/console/deliveries/{failed}/replay", token="forged").status_code == 400
    assert staff.post("/console/deliveries/999999/replay").status_code == 404
    assert _count(embedded_app) == before and not _audit(embedded_app, "delivery_replay")


def test_an_officer_filters_the_log_and_replays_a_failed_delivery(staff_page):
    """The embedded default in the browser: Isporuke → only failed ones → the delivery → Ponovi isporuku."""
    app, page = staff_page.server.app, staff_page.page
    assert deliver(app, raf_snapshot()).status_code == 200
    failed, key = _failed_move(app)
    page.get_by_role("link", name="Isporuke").click()
    assert page.locator("#ukupno").inner_text() == "2"
    page.get_by_label("Ishod").select_option(label="neuspela")
    page.get_by_label("Webhook-id sadrži").fill("failed")
    page.get_by_role("button", name="Filtriraj").click()
    assert page.locator("#ukupno").inner_text() == "1"
    page.get_by_role("link", name=f"Isporuka {failed}").click()
    assert "database is locked" in page.locator("#greska").inner_text()
    page.get_by_role("button", name="Ponovi isporuku").click()
    assert "ponovo primenjena" in page.inner_text(".messages")
    assert "primenjena" in page.locator("#ishod-isporuke").inner_text()
    assert "classroom" in page.inner_text("main") and "Raf01" in page.inner_text("main")
    student = user_create(app, role="student")
    schedule = requests.get(staff_page.server.url + "/api/course-schedule", headers=bearer(app, student),
                            timeout=10).json()
    assert entry_row(app, key).classroom == "Raf01"
    assert any(item["classroom"] == "Raf01" for item in schedule)
