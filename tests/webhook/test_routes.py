"""The course service's webhook as the sender and the app's readers see it (embedded default and PostgreSQL)."""
import copy
import json
import logging
import time

import pytest

from raf_network.courses.models import CatalogueChange
from raf_network.extensions import db
from tests.conftest import count_queries
from tests.factories import bearer, user_create
from tests.webhook.helpers import (
    cache_state,
    catalogue_rows,
    catalogue_writes,
    deliver,
    deliveries,
    delta,
    entry_row,
    raf_snapshot,
    signed_headers,
)

# ---- applying ------------------------------------------------------------------------------------

def test_the_real_raf_timetable_arrives_signed_and_is_served_at_once(app):
    client = app.test_client()
    before = client.get("/api/course-schedule")
    assert before.get_json() == []
    response = deliver(app, raf_snapshot(), client=client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "applied" and body["created"] == 74 + 326
    assert body["updated"] == 0 and body["removed"] == 0
    after = client.get("/api/course-schedule")
    assert len(after.get_json()) == 326
    assert after.headers["ETag"] != before.headers["ETag"]
    uup = [e for e in after.get_json() if e["course"]["name"] == "Uvod u programiranje" and e["kind"] == "P"]
    assert uup and uup[0]["start_time"] == "11:15:00" and uup[0]["classroom"] == "Kolarac2"


def test_a_delta_moving_one_entry_to_another_room_changes_only_that_entry(snapshot_applied):
    app = snapshot_applied
    client = app.test_client()
    moved = copy.deepcopy(raf_snapshot()["data"]["schedule"][17])
    rows_before = catalogue_rows(app)
    etag_before = client.get("/api/course-schedule").headers["ETag"]
    client.get("/api/examination-periods")

    response = deliver(app, delta(schedule=[{**moved, "classroom": "Raf01"}]))

    assert response.status_code == 200
    assert response.get_json() | {"delivery": None} == {
        "delivery": None, "status": "applied", "created": 0, "updated": 1, "removed": 0}
    rows_after = catalogue_rows(app)
    entry = entry_row(app, moved["id"])
    changed = [(before, after) for before, after in zip(rows_before["schedule_entry"], rows_after["schedule_entry"],
                                                       strict=True) if before != after]
    assert len(changed) == 1 and changed[0][1][0] == entry.id
    assert entry.classroom == "Raf01" and entry.sequence == 1
    assert {table: rows for table, rows in rows_after.items() if table != "schedule_entry"} == {
        table: rows for table, rows in rows_before.items() if table != "schedule_entry"}
    served = client.get("/api/course-schedule")
    assert served.headers["ETag"] != etag_before
    assert [e["classroom"] for e in served.get_json() if e["id"] == entry.id] == ["Raf01"]
    # Exactly the schedule family was invalidated: exam periods are still served from the cache.
    assert client.get("/api/examination-periods").headers["X-Cache"].startswith("hit")
    with app.app_context():
        recorded = db.session.get(CatalogueChange, deliveries(app)[-1].change_id)
        assert recorded.source == f"webhook:{response.get_json()['delivery']}"
        assert recorded.changes["updated"]["schedule"] == {
            moved["id"]: {"classroom": [moved["classroom"], "Raf01"]}}


def test_an_identical_snapshot_under_a_new_webhook_id_writes_nothing(snapshot_applied, caplog):
    app = snapshot_applied
    rows_before, cache_before = catalogue_rows(app), cache_state(app)
    with count_queries(app) as statements, caplog.at_level(logging.INFO):
        response = deliver(app, raf_snapshot())
    assert response.status_code == 200
    assert response.get_json()["status"] == "applied"
    assert [response.get_json()[k] for k in ("created", "updated", "removed")] == [0, 0, 0]
    assert catalogue_writes(statements) == []
    assert catalogue_rows(app) == rows_before and cache_state(app) == cache_before
    assert not [r for r in caplog.records if "timetable changed by webhook delivery" in r.getMessage()]


def test_a_change_is_handed_to_the_notification_job(snapshot_applied, caplog):
    app = snapshot_applied
    moved = raf_snapshot()["data"]["schedule"][0]
    with caplog.at_level(logging.INFO):
        response = deliver(app, delta(schedule=[{**moved, "day": "PET"}]))
    delivery_id = response.get_json()["delivery"]
    # The notification job ran for this delivery's catalogue change (inline here); nobody is subscribed, so it
    # notified no one.
    change_id = next(delivery.change_id for delivery in deliveries(app) if delivery.id == delivery_id)
    assert any(f"catalogue change {change_id} (webhook:{delivery_id}): notifications []" in record.getMessage()
               for record in caplog.records)


def test_a_snapshot_removes_what_it_no_longer_lists_including_seeded_data(seeded):
    payload = raf_snapshot()
    dropped = payload["data"]["schedule"].pop(3)
    response = deliver(seeded, payload)
    assert response.status_code == 200
    body = response.get_json()
    # The seed's real colloquium week and its 78 exams are not in the snapshot either.
    assert body["removed"] == 1 + 1 + 78 and body["created"] == 0
    assert entry_row(seeded, dropped["id"]).deleted_at is not None
    assert seeded.test_client().get("/api/examination-periods").get_json() == []
    assert len(seeded.test_client().get("/api/course-schedule").get_json()) == 325


def test_a_delta_deletes_by_key_and_english_day_codes_are_accepted(snapshot_applied):
    app = snapshot_applied
    entries = raf_snapshot()["data"]["schedule"]
    response = deliver(app, delta(
        schedule=[{**entries[0], "day": "FRI", "start": "08:00", "end": "09:30"}],
        deleted={"schedule": [entries[1]["id"]]}))
    assert response.status_code == 200
    assert response.get_json()["updated"] == 1 and response.get_json()["removed"] == 1
    entry = entry_row(app, entries[0]["id"])
    assert entry.day == 4 and entry.start_time.strftime("%H:%M") == "08:00"
    assert entry_row(app, entries[1]["id"]).deleted_at is not None


def test_exam_periods_and_exams_arrive_and_are_served(app):
    payload = raf_snapshot()
    payload["data"]["exam_periods"] = [{"id": "jan-2027", "name": "Januarski rok 2027", "start_date": "2027-01-18",
                                        "end_date": "2027-02-07", "visible": True}]
    payload["data"]["exams"] = [{"id": "jan-2027-uup", "period": "jan-2027", "course": "uvod-u-programiranje",
                                 "date": "2027-01-20", "time": "9-14", "classroom": "Raf06 (a)",
                                 "professor": "Urosevic Dragan"}]
    assert deliver(app, payload).status_code == 200
    client = app.test_client()
    periods = client.get("/api/examination-periods").get_json()
    assert [p["name"] for p in periods] == ["Januarski rok 2027"]
    exams = client.get(f"/api/examination-entries?examination_period={periods[0]['id']}").get_json()
    assert [(e["date"], e["time"], e["course"]["name"]) for e in exams] == [
        ("2027-01-20", "9-14", "Uvod u programiranje")]


# ---- refusals: each has its answer and leaves the catalogue and the cache untouched --------------

def _unchanged(app):
    """Snapshot of catalogue tables + cache (generations and ETags) to compare after a refusal."""
    return catalogue_rows(app), cache_state(app)


def _error(response, status):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    return body


def test_a_bad_signature_is_refused_and_only_logged(snapshot_applied, caplog):
    app = snapshot_applied
    before, recorded = _unchanged(app), len(deliveries(app))
    body = json.dumps(delta(schedule=[])).encode()
    headers = signed_headers(app, body)
    with caplog.at_level(logging.WARNING):
        tampered = deliver(app, body.replace(b"[]", b"[ ]"), headers=headers)
        other_key = deliver(app, body, secret="whsec_" + "B" * 32)
        unsigned = deliver(app, body, headers={})
    for response in (tampered, other_key, unsigned):
        _error(response, 401)
    assert _unchanged(app) == before and len(deliveries(app)) == recorded
    assert sum("webhook delivery refused" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_stale_or_future_timestamp_is_refused(snapshot_applied, skew):
    app = snapshot_applied
    before, recorded = _unchanged(app), len(deliveries(app))
    response = deliver(app, delta(schedule=[]), timestamp=int(time.time()) + skew)
    assert "5 minutes" in _error(response, 401)["message"]
    assert _unchanged(app) == before and len(deliveries(app)) == recorded


def test_a_replayed_webhook_id_returns_the_original_outcome_and_changes_nothing(snapshot_applied):
    app = snapshot_applied
    entry = raf_snapshot()["data"]["schedule"][5]
    first = deliver(app, delta(schedule=[{**entry, "classroom": "Raf02"}]), webhook_id="msg_room")
    before = _unchanged(app)
    again = deliver(app, delta(schedule=[{**entry, "classroom": "Raf02"}]), webhook_id="msg_room")
    different_body = deliver(app, delta(schedule=[{**entry, "classroom": "Raf03"}]), webhook_id="msg_room")
    for response in (again, different_body):
        assert response.status_code == 200
        assert response.get_json() == {**first.get_json(), "status": "duplicate"}
    assert _unchanged(app) == before
    assert [d.status for d in deliveries(app)][-3:] == ["applied", "duplicate", "duplicate"]


def test_a_body_that_is_not_json_is_400(snapshot_applied):
    app = snapshot_applied
    before = _unchanged(app)
    for body in (b"{not json", b"\xff\xfe\x00", b'{"timestamp": NaN}', b"[" * 100_000):
        _error(deliver(app, body), 400)
    assert _unchanged(app) == before
    assert [d.http_status for d in deliveries(app)][-4:] == [400, 400, 400, 400]


def test_a_malformed_payload_is_422_with_every_error_located(snapshot_applied):
    app = snapshot_applied
    before = _unchanged(app)
    payload = raf_snapshot()
    payload["data"]["schedule"][17]["start"] = "25:00"
    payload["data"]["schedule"][18]["kind"] = "X"
    payload["data"]["schedule"][19]["colour"] = "red"
    del payload["data"]["schedule"][20]["groups"]
    payload["data"]["courses"][0]["name"] = " "
    del payload["data"]["exams"]
    body = _error(deliver(app, payload), 422)
    assert set(body["errors"]) == {
        "data.schedule[17].start", "data.schedule[18].kind", "data.schedule[19].colour",
        "data.schedule[20].groups", "data.courses[0].name", "data.exams"}
    assert _unchanged(app) == before
    rejected = deliveries(app)[-1]
    assert rejected.status == "rejected" and rejected.http_status == 422
    assert rejected.error["errors"] == body["errors"]


@pytest.mark.parametrize("payload", [
    {"type": "courses.upsert", "timestamp": "2026-11-26T10:00:00Z", "data": {}},
    {"type": "courses.delta", "timestamp": "2026-11-26T10:00:00", "data": {}},  # no time zone
    {"type": "courses.delta", "timestamp": "2026-11-26T10:00:00Z", "data": {}, "force": "yes"},
    {"type": "courses.snapshot", "timestamp": "2026-11-26T10:00:00Z",
     "data": {"courses": [], "schedule": [], "exam_periods": [], "exams": [], "deleted": {"schedule": ["x"]}}},
    [],
])
def test_envelope_errors_are_422(snapshot_applied, payload):
    before = _unchanged(snapshot_applied)
    _error(deliver(snapshot_applied, payload), 422)
    assert _unchanged(snapshot_applied) == before


def test_a_dangling_reference_is_422_at_its_location(snapshot_applied):
    app = snapshot_applied
    before = _unchanged(app)
    data = raf_snapshot()["data"]
    entry, other_course = data["schedule"][0], data["courses"][1]["code"]
    response = deliver(app, delta(
        schedule=[{**entry, "classroom": "Raf01"}, {**entry, "id": "new-1", "course": "no-such-course"}],
        exams=[{"id": "x", "period": "no-such-period", "course": other_course, "date": "2027-01-20",
                "time": "9", "classroom": "Raf01"}],
        deleted={"schedule": ["no-such-entry"], "courses": [entry["course"]]}))
    body = _error(response, 422)
    assert body["errors"] == {
        "data.schedule[0].course": [f"unknown course {entry['course']!r}: neither in this payload nor stored"],
        "data.schedule[1].course": ["unknown course 'no-such-course': neither in this payload nor stored"],
        "data.exams[0].period": ["unknown exam period 'no-such-period': neither in this payload nor stored"],
        "data.deleted.schedule[0]": ["unknown timetable entry 'no-such-entry'"],
        "data.deleted.courses[0]": [f"course {entry['course']!r} would be removed while timetable entries or "
                                    "exams still use it"],
    }
    assert _unchanged(app) == before


def test_removing_a_course_still_in_use_is_422_at_the_deleted_key(snapshot_applied):
    app = snapshot_applied
    course = raf_snapshot()["data"]["courses"][2]
    body = _error(deliver(app, delta(deleted={"courses": [course["code"]]})), 422)
    assert list(body["errors"]) == ["data.deleted.courses[0]"]


def test_a_snapshot_older_than_the_last_applied_one_is_409(snapshot_applied):
    app = snapshot_applied
    before = _unchanged(app)
    payload = raf_snapshot(timestamp="2026-11-26T08:59:59Z")
    payload["data"]["schedule"][0]["classroom"] = "Raf01"
    assert "out of order" in _error(deliver(app, payload), 409)["message"]
    assert _unchanged(app) == before
    # The same timestamp again is not older: it applies.
    assert deliver(app, raf_snapshot(timestamp="2026-11-26T09:00:00+00:00")).status_code == 200


def test_a_snapshot_removing_most_of_the_timetable_is_409_unless_forced(snapshot_applied):
    app = snapshot_applied
    before = _unchanged(app)
    payload = raf_snapshot()
    payload["data"]["schedule"] = payload["data"]["schedule"][:100]  # removes 226 of 326 (69 %)
    body = _error(deliver(app, payload), 409)
    assert "mass deletion" in body["message"] and "226 of the 326" in body["message"]
    assert _unchanged(app) == before
    forced = deliver(app, {**payload, "force": True})
    assert forced.status_code == 200 and forced.get_json()["removed"] == 226
    assert len(app.test_client().get("/api/course-schedule").get_json()) == 100


def test_a_body_over_the_limit_is_413_in_the_error_format(snapshot_applied):
    app = snapshot_applied
    app.config["WEBHOOK_MAX_BODY"] = 1024
    before, recorded = _unchanged(app), len(deliveries(app))
    _error(deliver(app, raf_snapshot()), 413)
    assert _unchanged(app) == before and len(deliveries(app)) == recorded


def test_rotation_accepts_any_configured_secret_and_any_listed_signature(snapshot_applied):
    app = snapshot_applied
    old, new = "whsec_" + "A" * 32, "whsec_" + "C" * 32
    app.config["WEBHOOK_SECRET"] = f"{new} {old}"
    body = json.dumps(delta(schedule=[])).encode()
    assert deliver(app, body, secret=old).status_code == 200
    headers = signed_headers(app, body, secret=new)
    headers["webhook-signature"] = "v1,bm90LWl0 " + headers["webhook-signature"]
    assert deliver(app, body, headers=headers).status_code == 200


def test_without_a_secret_the_endpoint_says_it_is_not_configured(snapshot_applied):
    app = snapshot_applied
    body = json.dumps(delta(schedule=[])).encode()
    headers = signed_headers(app, body)
    app.config["WEBHOOK_SECRET"] = None
    assert "WEBHOOK_SECRET" in _error(deliver(app, body, headers=headers), 503)["message"]


def test_deliveries_are_rate_limited_per_source_address(snapshot_applied):
    app = snapshot_applied
    app.config["WEBHOOK_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    statuses = [deliver(app, delta(schedule=[]), client=client).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    _error(deliver(app, delta(schedule=[]), client=client), 429)


# ---- the delivery log ---------------------------------------------------------------------------

def test_deliveries_are_listed_newest_first_for_administrators_only(snapshot_applied):
    app = snapshot_applied
    deliver(app, {"not": "valid"})
    client = app.test_client()
    for role in ("admin", "faculty_administrator"):
        response = client.get("/api/webhooks/deliveries?page_size=1", headers=bearer(app, user_create(app, role=role)))
        assert response.status_code == 200
        assert [d["status"] for d in response.get_json()] == ["rejected"]
        assert json.loads(response.headers["X-Pagination"])["total"] == 2
    _error(client.get("/api/webhooks/deliveries", headers=bearer(app, user_create(app))), 403)
    _error(client.get("/api/webhooks/deliveries"), 401)
    _error(client.get("/api/webhooks/deliveries/1"), 401)


def test_a_delivery_shows_its_change_set_error_and_body(snapshot_applied):
    app = snapshot_applied
    admin = bearer(app, user_create(app, role="admin"))
    client = app.test_client()
    applied = client.get("/api/webhooks/deliveries/1", headers=admin).get_json()
    assert applied["status"] == "applied" and applied["signature"] == "valid"
    assert applied["type"] == "courses.snapshot" and applied["payload_timestamp"].startswith("2026-11-26T09:00:00")
    assert len(applied["changes"]["created"]["schedule"]) == 326 and applied["created"] == 400
    assert json.loads(applied["body"])["type"] == "courses.snapshot"
    assert applied["source_address"] == "127.0.0.1"
    _error(client.get("/api/webhooks/deliveries/99", headers=admin), 404)


def test_the_endpoints_are_documented_with_their_error_answers(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/webhooks/courses"]["post"]
    assert {"200", "400", "401", "409", "413", "422", "429", "503"} <= set(post["responses"])
    assert {p["name"] for p in post["parameters"]} >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "requestBody" in post
    listing = spec["paths"]["/api/webhooks/deliveries"]["get"]
    assert {"200", "401", "403"} <= set(listing["responses"])
