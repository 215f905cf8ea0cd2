"""POST/GET/DELETE /api/devices: one owner per FCM token, own devices only, a cap per user."""
import pytest
from sqlalchemy import select

from raf_network.extensions import db
from raf_network.users.models import AuthSession, Device
from tests.factories import bearer, user_create


def _register(app, headers, token, platform="android", **extra):
    return app.test_client().post("/api/devices", json={"token": token, "platform": platform, **extra},
                                  headers=headers)


def _tokens(app, headers):
    response = app.test_client().get("/api/devices", headers=headers)
    assert response.status_code == 200
    return [device["token"] for device in response.get_json()]


def test_register_then_refresh(app):
    headers = bearer(app, user_create(app))
    first = _register(app, headers, "fcm:abc-123_x", app_version="2.1.0", locale="en")
    assert first.status_code == 201
    body = first.get_json()
    assert (body["token"], body["platform"], body["app_version"], body["locale"]) == (
        "fcm:abc-123_x", "android", "2.1.0", "en")
    again = _register(app, headers, "fcm:abc-123_x", platform="android", app_version="2.2.0")
    assert again.status_code == 200
    assert again.get_json()["app_version"] == "2.2.0"
    assert again.get_json()["last_seen_at"] >= body["last_seen_at"]  # whole seconds (UtcDateTime)
    assert _tokens(app, headers) == ["fcm:abc-123_x"]


def test_registration_is_recorded_on_the_session(app):
    user_id = user_create(app)
    headers = bearer(app, user_id)
    _register(app, headers, "fcm-session")
    with app.app_context():
        assert db.session.scalar(select(AuthSession.device_token).where(AuthSession.user_id == user_id)) == \
            "fcm-session"


def test_a_token_registered_by_another_account_moves_to_the_caller(app):
    previous, caller = bearer(app, user_create(app)), bearer(app, user_create(app))
    assert _register(app, previous, "shared-phone").status_code == 201
    assert _register(app, caller, "shared-phone", platform="ios").status_code == 201
    assert _tokens(app, caller) == ["shared-phone"]
    assert _tokens(app, previous) == []
    with app.app_context():
        assert db.session.scalar(select(Device.platform)) == "ios"
        assert len(db.session.scalars(select(Device)).all()) == 1


def test_list_shows_only_my_devices_most_recent_first(app):
    mine, theirs = bearer(app, user_create(app)), bearer(app, user_create(app))
    for token in ("one", "two", "three"):
        _register(app, mine, token)
    _register(app, theirs, "foreign")
    _register(app, mine, "one")
    assert _tokens(app, mine) == ["one", "three", "two"]
    assert _tokens(app, theirs) == ["foreign"]


def test_delete_my_device_but_never_anothers(app):
    mine, theirs = bearer(app, user_create(app)), bearer(app, user_create(app))
    _register(app, mine, "my-phone")
    _register(app, theirs, "their-phone")
    client = app.test_client()
    response = client.delete("/api/devices/their-phone", headers=mine)
    assert response.status_code == 404 and response.get_json()["code"] == 404
    assert _tokens(app, theirs) == ["their-phone"]
    assert client.delete("/api/devices/unknown", headers=mine).status_code == 404
    assert client.delete("/api/devices/my-phone", headers=mine).status_code == 204
    assert _tokens(app, mine) == []
    assert client.delete("/api/devices/my-phone", headers=mine).status_code == 404


def test_the_least_recently_seen_device_is_evicted_over_the_cap(app):
    app.config["MAX_DEVICES_PER_USER"] = 3
    headers = bearer(app, user_create(app))
    for token in ("a", "b", "c"):
        _register(app, headers, token)
    _register(app, headers, "a")  # seen again: "b" is now the least recently seen
    assert _register(app, headers, "d").status_code == 201
    assert sorted(_tokens(app, headers)) == ["a", "c", "d"]


@pytest.mark.parametrize("body", [
    {"token": "x"},
    {"platform": "android"},
    {"token": "x", "platform": "symbian"},
    {"token": "", "platform": "ios"},
    {"token": "x" * 513, "platform": "ios"},
    {"token": "x", "platform": "ios", "locale": "de"},
    {"token": "x", "platform": "ios", "user_id": 1},
])
def test_invalid_registration_is_422(app, body):
    headers = bearer(app, user_create(app))
    response = app.test_client().post("/api/devices", json=body, headers=headers)
    assert response.status_code == 422 and response.get_json()["errors"]
    assert _tokens(app, headers) == []


@pytest.mark.parametrize("method, path", [
    ("get", "/api/devices"), ("post", "/api/devices"), ("delete", "/api/devices/abc"),
])
def test_devices_need_a_token(app, method, path):
    assert getattr(app.test_client(), method)(path, json={"token": "x", "platform": "ios"}).status_code == 401


REAL_LOOKING_TOKEN = ("cXkA1b2C3d4:APA91bH" + "x" * 120 + "-_Az09")


@pytest.mark.parametrize("token, why", [
    ("abc/def", "a slash: the token could not be named in DELETE /api/devices/<token>"),
    ("abc\x00def", "NUL"),
    ("abc def", "a space"),
    ("abc\ndef", "a newline"),
    ("x" * 5000, "5,000 characters"),
    ("x" * 513, "longer than the column"),
    ("tok%2Fen", "percent-encoding"),
    ("żeton", "not ASCII"),
])
def test_a_token_that_is_not_an_fcm_registration_token_is_422(app, token, why):
    headers = bearer(app, user_create(app))
    response = _register(app, headers, token)
    assert response.status_code == 422, why
    assert "token" in response.get_json()["errors"]["json"]
    assert _tokens(app, headers) == []


def test_every_token_that_can_be_stored_can_be_deleted_through_its_url(app):
    headers = bearer(app, user_create(app))
    client = app.test_client()
    for token in (REAL_LOOKING_TOKEN, "a:b-c_d", "x" * 512):
        assert _register(app, headers, token).status_code == 201
        assert client.delete(f"/api/devices/{token}", headers=headers).status_code == 204, token
    assert _tokens(app, headers) == []


def test_a_legacy_token_with_a_slash_can_still_be_deleted(app):
    """Stored before tokens were validated: `/` must not make it undeletable."""
    user_id = user_create(app)
    headers = bearer(app, user_id)
    with app.app_context():
        db.session.add(Device(user_id=user_id, token="legacy/token", platform="android"))
        db.session.commit()
    assert app.test_client().delete("/api/devices/legacy/token", headers=headers).status_code == 204
    assert _tokens(app, headers) == []


def test_logout_refuses_a_malformed_device_token(app):
    headers = bearer(app, user_create(app))
    response = app.test_client().post("/api/auth/logout", json={"device_token": "a b"}, headers=headers)
    assert response.status_code == 422
