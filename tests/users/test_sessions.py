"""Rotating refresh tokens, reuse detection and logout: what a signed-in phone can and cannot do afterwards."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from raf_network.extensions import db
from raf_network.users.models import Device, RefreshToken
from tests.factories import bearer, user_create
from tests.users.conftest import sign_in


@pytest.fixture
def signed_in(signin_app, google):
    """The body of a fresh sign-in: token, refresh_token, user."""
    return sign_in(signin_app, google.id_token()).get_json()


def _refresh(app, refresh_token):
    return app.test_client().post("/api/auth/refresh", json={"refresh_token": refresh_token})


def _me_status(app, token):
    return app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_refresh_rotates_both_tokens(signin_app, signed_in):
    response = _refresh(signin_app, signed_in["refresh_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["refresh_token"] != signed_in["refresh_token"] and body["token"] != signed_in["token"]
    assert body["expires_in"] == signin_app.config["ACCESS_TOKEN_TTL"]
    assert _me_status(signin_app, body["token"]) == 200
    # The chain goes on with the newest token.
    assert _refresh(signin_app, body["refresh_token"]).status_code == 200


def test_refresh_tokens_are_stored_hashed(signin_app, signed_in):
    with signin_app.app_context():
        hashes = db.session.scalars(select(RefreshToken.token_hash)).all()
    assert hashes and signed_in["refresh_token"] not in hashes
    assert all(len(value) == 64 for value in hashes)


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(signin_app, google, signed_in):
    rotated = _refresh(signin_app, signed_in["refresh_token"]).get_json()
    other_session = sign_in(signin_app, google.id_token()).get_json()

    replay = _refresh(signin_app, signed_in["refresh_token"])
    assert replay.status_code == 401 and replay.get_json()["code"] == 401
    # Everything of that sign-in is dead: the newest refresh token and every access token.
    assert _refresh(signin_app, rotated["refresh_token"]).status_code == 401
    assert _me_status(signin_app, rotated["token"]) == 401
    assert _me_status(signin_app, signed_in["token"]) == 401
    # Another sign-in of the same person is untouched.
    assert _me_status(signin_app, other_session["token"]) == 200
    assert _refresh(signin_app, other_session["refresh_token"]).status_code == 200


@pytest.mark.parametrize("refresh_token", ["", "made-up", "x" * 1025])
def test_unknown_or_malformed_refresh_token(signin_app, signed_in, refresh_token):
    assert _refresh(signin_app, refresh_token).status_code in (401, 422)
    assert _refresh(signin_app, signed_in["refresh_token"]).status_code == 200


def test_an_access_token_is_not_a_refresh_token(signin_app, signed_in):
    assert _refresh(signin_app, signed_in["token"]).status_code == 401


def test_expired_refresh_token_is_401(signin_app, signed_in):
    with signin_app.app_context():
        db.session.execute(update(RefreshToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    assert _refresh(signin_app, signed_in["refresh_token"]).status_code == 401


def test_refresh_of_a_disabled_account_is_401(signin_app, signed_in):
    result = signin_app.test_cli_runner().invoke(args=["users", "disable", signed_in["user"]["email"]])
    assert result.exit_code == 0
    assert _refresh(signin_app, signed_in["refresh_token"]).status_code == 401


def test_refresh_is_rate_limited(signin_app, signed_in):
    signin_app.config["LOGIN_RATE_LIMIT"] = "1/minute"
    assert _refresh(signin_app, signed_in["refresh_token"]).status_code == 200
    response = _refresh(signin_app, "anything")
    assert response.status_code == 429 and response.get_json()["code"] == 429 and response.headers["Retry-After"]


def test_logout_revokes_access_and_refresh_tokens_and_removes_the_sessions_device(signin_app, signed_in):
    client = signin_app.test_client()
    headers = {"Authorization": f"Bearer {signed_in['token']}"}
    assert client.post("/api/devices", json={"token": "fcm-phone", "platform": "android"},
                       headers=headers).status_code == 201
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert _me_status(signin_app, signed_in["token"]) == 401
    assert _refresh(signin_app, signed_in["refresh_token"]).status_code == 401
    assert client.post("/api/auth/logout", headers=headers).status_code == 401
    with signin_app.app_context():
        assert db.session.scalars(select(Device.token)).all() == []


def test_logout_with_an_explicit_device_token_removes_only_my_device(signin_app, signed_in):
    client = signin_app.test_client()
    headers = {"Authorization": f"Bearer {signed_in['token']}"}
    stranger = bearer(signin_app, user_create(signin_app))
    client.post("/api/devices", json={"token": "fcm-mine", "platform": "ios"}, headers=headers)
    client.post("/api/devices", json={"token": "fcm-theirs", "platform": "android"}, headers=stranger)
    client.post("/api/devices", json={"token": "fcm-tablet", "platform": "android"}, headers=headers)

    response = client.post("/api/auth/logout", json={"device_token": "fcm-theirs"}, headers=headers)
    assert response.status_code == 204
    with signin_app.app_context():
        assert set(db.session.scalars(select(Device.token))) == {"fcm-mine", "fcm-theirs", "fcm-tablet"}

    # Another session of mine, with no device of its own, names the phone: only the phone goes.
    second_session = bearer(signin_app, signed_in["user"]["id"])
    assert client.post("/api/auth/logout", json={"device_token": "fcm-mine"}, headers=second_session
                       ).status_code == 204
    with signin_app.app_context():
        assert set(db.session.scalars(select(Device.token))) == {"fcm-theirs", "fcm-tablet"}
    assert client.get("/api/me", headers=second_session).status_code == 401


def test_logout_needs_a_token_and_rejects_unknown_fields(signin_app, signed_in):
    client = signin_app.test_client()
    assert client.post("/api/auth/logout").status_code == 401
    headers = {"Authorization": f"Bearer {signed_in['token']}"}
    assert client.post("/api/auth/logout", json={"everything": True}, headers=headers).status_code == 422
    assert _me_status(signin_app, signed_in["token"]) == 200
