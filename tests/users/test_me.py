"""GET/PATCH/DELETE /api/me: the contract's User shape, allow-listed profile edits, account deletion."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

from raf_network.courses.models import ScheduleEntry
from raf_network.extensions import db
from raf_network.users.models import AuthSession, Device, RefreshToken, Subscription, User
from tests.factories import bearer, user_create
from tests.users.conftest import sign_in


def test_me_in_the_contract_shape(app):
    user_id = user_create(app, role="faculty_administrator", first_name="Ana", last_name="Anić",
                          email="aanic@raf.rs")
    response = app.test_client().get("/api/me", headers=bearer(app, user_id))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == user_id and isinstance(body["id"], int)
    assert (body["first_name"], body["last_name"], body["email"], body["role"]) == (
        "Ana", "Anić", "aanic@raf.rs", "faculty_administrator")
    assert body["locale"] == "sr-Latn" and body["links"] == [] and body["phone"] is None
    assert body["student_number"] is None and body["bio"] is None
    datetime.fromisoformat(body["created_at"])


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_me_needs_a_valid_token(app, method):
    client = app.test_client()
    assert getattr(client, method)("/api/me").status_code == 401
    assert getattr(client, method)("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_patch_edits_the_allowed_fields(app):
    user_id = user_create(app)
    headers = bearer(app, user_id)
    changes = {"first_name": " Jelena", "last_name": "Jović", "phone": "+381 64 123 4567", "bio": "Treća godina.",
               "links": ["https://github.com/jjovic", "http://example.com/x"], "locale": "en"}
    response = app.test_client().patch("/api/me", json=changes, headers=headers)
    assert response.status_code == 200
    stored = {**changes, "first_name": "Jelena"}  # names are trimmed
    assert {name: response.get_json()[name] for name in changes} == stored
    again = app.test_client().get("/api/me", headers=headers).get_json()
    assert {name: again[name] for name in changes} == stored
    # Partial: one field at a time; null clears optional ones.
    response = app.test_client().patch("/api/me", json={"phone": None, "bio": None}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone"] is None and body["bio"] is None and body["first_name"] == "Jelena"


@pytest.mark.parametrize("changes, field", [
    ({"locale": "de"}, "locale"),
    ({"first_name": ""}, "first_name"),
    ({"first_name": "   "}, "first_name"),
    ({"last_name": "x" * 101}, "last_name"),
    ({"phone": "call me"}, "phone"),
    ({"bio": "x" * 1001}, "bio"),
    ({"first_name": "Ana\x00"}, "first_name"),
    ({"first_name": "Ana\x1b[31m"}, "first_name"),
    ({"last_name": "Ana\nJović"}, "last_name"),
    ({"last_name": "\x07"}, "last_name"),
    ({"bio": "line\x7f"}, "bio"),
    ({"bio": "\x85next line"}, "bio"),
    ({"links": ["javascript:alert(1)"]}, "links"),
    ({"links": "https://example.com"}, "links"),
    ({"links": [f"https://example.com/{n}" for n in range(11)]}, "links"),
    ({"role": "admin"}, "role"),
    ({"email": "other@raf.rs"}, "email"),
    ({"id": 5}, "id"),
    ({"student_number": "RN1/20"}, "student_number"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
])
def test_patch_rejects_invalid_and_unknown_fields(app, changes, field):
    user_id = user_create(app, role="student")
    response = app.test_client().patch("/api/me", json=changes, headers=bearer(app, user_id))
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and field in body["errors"]["json"]
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.role == "student" and user.locale == "sr-Latn" and user.links == []


def test_delete_removes_the_account_and_everything_personal(seeded):
    app = seeded
    user_id = user_create(app)
    survivor_id = user_create(app)
    headers, survivor_headers = bearer(app, user_id), bearer(app, survivor_id)
    client = app.test_client()
    with app.app_context():
        entry_id = db.session.scalar(select(ScheduleEntry.id).limit(1))
    for who, token in ((headers, "fcm-a"), (survivor_headers, "fcm-b")):
        assert client.post("/api/devices", json={"token": token, "platform": "android"}, headers=who).status_code == 201
        assert client.post("/api/course-schedule-student-subscriptions", json={"course_schedule_entry": entry_id},
                           headers=who).status_code == 201

    assert client.delete("/api/me", headers=headers).status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 401
    with app.app_context():
        for model in (Device, Subscription, AuthSession):
            owners = set(db.session.scalars(select(model.user_id)))
            assert owners == {survivor_id}, model
        assert db.session.get(User, user_id) is None
        assert db.session.scalar(select(func.count()).select_from(RefreshToken)) == 0
    assert client.get("/api/devices", headers=survivor_headers).get_json()[0]["token"] == "fcm-b"


def test_delete_also_drops_refresh_tokens(signin_app, google):
    body = sign_in(signin_app, google.id_token()).get_json()
    client = signin_app.test_client()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.patch("/api/me", json={"bio": "to be forgotten"}, headers=headers).status_code == 200
    assert client.delete("/api/me", headers=headers).status_code == 204
    with signin_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RefreshToken)) == 0
    assert client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code == 401
    # Signing in again starts afresh.
    again = sign_in(signin_app, google.id_token()).get_json()
    assert again["user"]["bio"] is None
