"""Broadcast, inbox and preferences over HTTP: who may do what, and what each user sees."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from raf_network.extensions import db
from raf_network.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationRecipient,
    PushDelivery,
    PushLog,
)
from raf_network.users.models import Device, User
from tests.conftest import count_queries
from tests.factories import bearer, user_create
from tests.notifications.conftest import count, device_add, entry, entry_id, subscribe, timetable_apply

ANNOUNCEMENT = {"title": "Obaveštenje", "body": "Sutra nema nastave", "audience": {"all": True}}


def _broadcast(app, body, user_id=None, role="admin"):
    headers = bearer(app, user_id or user_create(app, role=role))
    return app.test_client().post("/api/notifications/broadcast", json=body, headers=headers)


def test_broadcast_needs_an_administrator(app):
    client = app.test_client()
    assert client.post("/api/notifications/broadcast", json=ANNOUNCEMENT).status_code == 401
    assert _broadcast(app, ANNOUNCEMENT, role="student").status_code == 403
    assert _broadcast(app, ANNOUNCEMENT, role="alumni").status_code == 403
    assert _broadcast(app, ANNOUNCEMENT, role="faculty_administrator").status_code == 202
    assert count(app, Notification) == 1


def test_broadcast_reaches_the_inbox_and_devices_of_its_audience(app):
    admin = user_create(app, role="admin")
    students = [user_create(app) for _ in range(2)]
    alumnus = user_create(app, role="alumni")
    for number, user_id in enumerate([*students, alumnus]):
        device_add(app, user_id, f"t-{number}")
    response = _broadcast(app, {**ANNOUNCEMENT, "audience": {"role": "student"}, "data": {"url": "x"}}, admin)
    assert response.status_code == 202
    body = response.get_json()
    assert body["recipients"] == 2 and body["devices"] == 2 and body["dry_run"] is False
    assert count(app, PushLog) == 2
    inbox = app.test_client().get("/api/notifications", headers=bearer(app, students[0])).get_json()
    assert [item["title"] for item in inbox["items"]] == ["Obaveštenje"]
    assert inbox["items"][0]["data"] == {"url": "x", "type": "announcement"}
    assert app.test_client().get("/api/notifications", headers=bearer(app, alumnus)).get_json()["items"] == []


def test_dry_run_counts_without_storing_or_sending(app):
    timetable_apply(app, [entry("lec")])
    students = [user_create(app) for _ in range(3)]
    subscribe(app, students[0], "lec")
    subscribe(app, students[1], "lec")
    device_add(app, students[0], "t-0")
    response = _broadcast(app, {**ANNOUNCEMENT, "audience": {"schedule_entry_id": entry_id(app, "lec")},
                                "dry_run": True})
    assert response.status_code == 202
    assert response.get_json() == {"notification_id": None, "recipients": 2, "devices": 1, "dry_run": True}
    assert count(app, Notification) == 0 and count(app, PushLog) == 0


@pytest.mark.parametrize("audience", [
    {}, {"all": True, "role": "student"}, {"all": False}, {"role": "dean"}, {"user_ids": []}, {"everyone": True},
])
def test_broadcast_audience_must_be_exactly_one_valid_key(app, audience):
    response = _broadcast(app, {**ANNOUNCEMENT, "audience": audience})
    assert response.status_code == 422
    assert response.get_json()["code"] == 422
    assert count(app, Notification) == 0


@pytest.mark.parametrize("audience", [{"course_id": 999999}, {"schedule_entry_id": 999999}, {"user_ids": [999999]}])
def test_broadcast_to_something_that_does_not_exist_is_404(app, audience):
    """A well-formed reference to nothing is 404 (as subscribing to an unknown entry is), not 422: the body is
    valid, what it names is missing."""
    response = _broadcast(app, {**ANNOUNCEMENT, "audience": audience})
    assert response.status_code == 404
    assert list(response.get_json()["errors"]["json"]["audience"]) == list(audience)
    assert count(app, Notification) == 0


def test_broadcast_rejects_reserved_data_keys_and_missing_text(app):
    assert _broadcast(app, {**ANNOUNCEMENT, "data": {"type": "x"}}).status_code == 422
    assert _broadcast(app, {**ANNOUNCEMENT, "data": {"n": 1}}).status_code == 422
    assert _broadcast(app, {"body": "b", "audience": {"all": True}}).status_code == 422


def test_broadcast_is_rate_limited(embedded_app):
    app = embedded_app
    app.config["BROADCAST_RATE_LIMIT"] = "2 per minute"  # read per request
    admin = user_create(app, role="admin")
    statuses = [_broadcast(app, ANNOUNCEMENT, admin).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]


def test_course_audience_is_its_subscribers(app):
    timetable_apply(app, [entry("lec"), entry("lab", kind="V")])
    subscriber, other = user_create(app), user_create(app)
    subscribe(app, subscriber, "lab")
    with app.app_context():
        from raf_network.courses.models import Course

        course_id = db.session.query(Course.id).scalar()
    body = _broadcast(app, {**ANNOUNCEMENT, "audience": {"course_id": course_id}}).get_json()
    assert body["recipients"] == 1
    assert count(app, NotificationRecipient, NotificationRecipient.user_id == other) == 0


def _announce_to(app, user_ids, n=1):
    """Announcements through the service the endpoint calls (the endpoint itself is rate-limited)."""
    from raf_network.notifications.broadcasts import broadcast_create

    with app.app_context():
        return [broadcast_create(sender_id=None, title=f"N{number}", body="b", audience={"user_ids": user_ids})
                ["notification_id"] for number in range(n)]


def test_inbox_is_newest_first_paginated_with_the_unread_count(app):
    student = user_create(app)
    ids = _announce_to(app, [student], n=5)
    client, headers = app.test_client(), bearer(app, student)
    first = client.get("/api/notifications?limit=2", headers=headers)
    assert first.status_code == 200 and first.headers["X-Unread-Count"] == "5"
    page = first.get_json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    assert page["unread_count"] == 5 and page["next_before"] == ids[3]
    rest = client.get(f"/api/notifications?limit=10&before={page['next_before']}", headers=headers).get_json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][2:] and rest["next_before"] is None

    assert client.post(f"/api/notifications/{ids[0]}/read", headers=headers).status_code == 204
    assert client.post(f"/api/notifications/{ids[0]}/read", headers=headers).status_code == 204  # idempotent
    after = client.get("/api/notifications", headers=headers).get_json()
    assert after["unread_count"] == 4
    assert [item["read_at"] is not None for item in after["items"]] == [False] * 4 + [True]
    assert client.post("/api/notifications/read-all", headers=headers).status_code == 204
    assert client.get("/api/notifications", headers=headers).get_json()["unread_count"] == 0


def test_only_ones_own_notifications(app):
    owner, stranger = user_create(app), user_create(app)
    (notification_id,) = _announce_to(app, [owner])
    client = app.test_client()
    assert client.post(f"/api/notifications/{notification_id}/read", headers=bearer(app, stranger)).status_code == 404
    assert client.post("/api/notifications/999999/read", headers=bearer(app, owner)).status_code == 404
    assert client.get("/api/notifications", headers=bearer(app, stranger)).get_json()["items"] == []
    assert client.get("/api/notifications").status_code == 401
    assert client.get("/api/notifications?limit=0", headers=bearer(app, owner)).status_code == 422


def test_inbox_query_count_does_not_grow_with_its_size(app):
    student = user_create(app)
    headers = bearer(app, student)
    client = app.test_client()
    client.get("/api/notifications", headers=headers)  # the caller's session, verified once
    _announce_to(app, [student], n=2)
    with count_queries(app) as few:
        client.get("/api/notifications", headers=headers)
    _announce_to(app, [student], n=12)
    with count_queries(app) as many:
        assert len(client.get("/api/notifications", headers=headers).get_json()["items"]) == 14
    assert len(many) == len(few) <= 4


def test_preferences_default_on_and_patch_partially(app):
    student = user_create(app)
    client, headers = app.test_client(), bearer(app, student)
    assert client.get("/api/me/notification-preferences", headers=headers).get_json() == {
        "timetable_changes": True, "announcements": True, "exam_schedule": True, "comments": True, "quiet_hours": None,
        "timezone": "Europe/Belgrade"}
    response = client.patch("/api/me/notification-preferences", headers=headers,
                            json={"announcements": False, "quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert response.status_code == 200
    assert response.get_json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    body = client.patch("/api/me/notification-preferences", headers=headers, json={"quiet_hours": None}).get_json()
    assert body == {"timetable_changes": True, "announcements": False, "exam_schedule": True, "comments": True,
                    "quiet_hours": None,
                    "timezone": "Europe/Belgrade"}
    body = client.patch("/api/me/notification-preferences", headers=headers, json={"exam_schedule": False}).get_json()
    assert (body["exam_schedule"], body["announcements"], body["timetable_changes"]) == (False, False, True)
    assert client.get("/api/me/notification-preferences", headers=headers).get_json()["exam_schedule"] is False


def test_quiet_hours_that_end_when_they_start_are_no_quiet_hours(app):
    """An empty interval (OpenAPI cannot say "start ≠ end", so it is accepted and means off)."""
    headers = bearer(app, user_create(app))
    client = app.test_client()
    client.patch("/api/me/notification-preferences", headers=headers,
                 json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    response = client.patch("/api/me/notification-preferences", headers=headers,
                            json={"quiet_hours": {"start": "22:00", "end": "22:00"}})
    assert response.status_code == 200 and response.get_json()["quiet_hours"] is None


@pytest.mark.parametrize("body", [
    {"quiet_hours": {"start": "25:00", "end": "07:00"}},
    {"quiet_hours": {"start": "22:00"}}, {"announcements": "maybe"}, {"sound": True}, {"timezone": "UTC"},
])
def test_preferences_reject_bad_input(app, body):
    student = user_create(app)
    response = app.test_client().patch("/api/me/notification-preferences", json=body, headers=bearer(app, student))
    assert response.status_code == 422


def test_preferences_govern_pushes_not_the_inbox(app):
    muted, quiet, plain = user_create(app), user_create(app), user_create(app)
    for user_id in (muted, quiet, plain):
        device_add(app, user_id, f"t-{user_id}")
    client = app.test_client()
    client.patch("/api/me/notification-preferences", json={"announcements": False}, headers=bearer(app, muted))
    now = datetime.now(ZoneInfo("Europe/Belgrade"))
    window = {"start": (now - timedelta(hours=2)).strftime("%H:%M"),
              "end": (now + timedelta(hours=2)).strftime("%H:%M")}
    client.patch("/api/me/notification-preferences", json={"quiet_hours": window}, headers=bearer(app, quiet))
    (notification_id,) = _announce_to(app, [muted, quiet, plain])
    with app.app_context():
        assert {row.token for row in db.session.query(PushLog)} == {f"t-{plain}"}
        statuses = {status for (status,) in db.session.query(PushDelivery.status)}
        assert statuses == {"sent", "deferred"}
        notification = db.session.get(Notification, notification_id)
        assert (notification.recipient_count, notification.sent_count, notification.deferred_count) == (3, 1, 1)
    assert count(app, NotificationRecipient) == 3


def test_deleting_a_user_deletes_their_inbox_and_preferences(app):
    student = user_create(app)
    device_add(app, student, "t-1")
    app.test_client().patch("/api/me/notification-preferences", json={"announcements": True},
                            headers=bearer(app, student))
    _announce_to(app, [student])
    with app.app_context():
        db.session.execute(delete(User).where(User.id == student))
        db.session.commit()
    assert count(app, NotificationRecipient) == 0 and count(app, NotificationPreference) == 0
    assert count(app, Device) == 0 and count(app, Notification) == 1


def test_every_endpoint_is_in_the_openapi_spec(app):
    paths = app.test_client().get("/api/openapi.json").get_json()["paths"]
    assert {"/api/notifications/broadcast", "/api/notifications", "/api/notifications/{notification_id}/read",
            "/api/notifications/read-all", "/api/me/notification-preferences"} <= set(paths)
    assert set(paths["/api/me/notification-preferences"]) >= {"get", "patch"}
