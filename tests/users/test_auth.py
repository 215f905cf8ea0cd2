"""The one guard: 401 for missing/invalid/expired/revoked tokens, 403 for a wrong role, checked per request."""
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from flask.views import MethodView

from raf_network.extensions import db
from raf_network.users.auth import auth_required, current_user
from raf_network.users.models import AuthSession, User
from tests.factories import bearer, token_for, user_create


@pytest.fixture
def guarded(app):
    """The app with two guarded test routes: any signed-in user, and admins only."""
    class Anyone(MethodView):
        @auth_required()
        def get(self):
            return {"id": current_user().id}

    class AdminsOnly(MethodView):
        @auth_required("admin")
        def get(self):
            return {"ok": True}

    app.add_url_rule("/test/anyone", view_func=Anyone.as_view("anyone"))
    app.add_url_rule("/test/admins", view_func=AdminsOnly.as_view("admins"))
    return app


def _status(app, path, headers=None):
    response = app.test_client().get(path, headers=headers or {})
    if response.status_code >= 400:
        body = response.get_json()
        assert body["code"] == response.status_code and body["message"]
    return response.status_code


def test_valid_token_identifies_the_caller(guarded):
    user_id = user_create(guarded)
    response = guarded.test_client().get("/test/anyone", headers=bearer(guarded, user_id))
    assert response.status_code == 200 and response.get_json() == {"id": user_id}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt", "Basic abc", "Token x"])
def test_missing_or_malformed_token_is_401(guarded, header):
    assert _status(guarded, "/test/anyone", {"Authorization": header} if header else None) == 401


def test_forged_token_is_401(guarded):
    user_id = user_create(guarded)
    token = token_for(guarded, user_id)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "sub": str(user_id)}, "not-the-key-but-long-enough-for-hs256!", algorithm="HS256")
    assert _status(guarded, "/test/anyone", {"Authorization": f"Bearer {forged}"}) == 401
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert _status(guarded, "/test/anyone", {"Authorization": f"Bearer {unsigned}"}) == 401


def test_expired_token_is_401(guarded):
    user_id = user_create(guarded)
    token = token_for(guarded, user_id)
    claims = jwt.decode(token, options={"verify_signature": False})
    past = datetime.now(timezone.utc) - timedelta(days=1)
    expired = jwt.encode({**claims, "iat": past - timedelta(hours=1), "exp": past},
                         guarded.config["SECRET_KEY"], algorithm="HS256")
    assert _status(guarded, "/test/anyone", {"Authorization": f"Bearer {expired}"}) == 401


def test_revoked_session_and_disabled_user_take_effect_on_the_next_request(guarded):
    from raf_network.users.services import user_active_set

    user_id = user_create(guarded)
    headers = bearer(guarded, user_id)
    assert _status(guarded, "/test/anyone", headers) == 200  # verified, and now known to this process
    assert guarded.test_client().post("/api/auth/logout", headers=headers).status_code == 204
    assert _status(guarded, "/test/anyone", headers) == 401

    headers = bearer(guarded, user_id)
    assert _status(guarded, "/test/anyone", headers) == 200
    with guarded.app_context():
        user_active_set(email=db.session.get(User, user_id).email, active=False)
    assert _status(guarded, "/test/anyone", headers) == 401


def test_a_change_made_around_the_services_is_seen_within_the_recheck_bound(guarded):
    """Revoked by hand in SQL (no generation moved): the process rechecks its verification within
    SESSION_RECHECK_SECONDS."""
    guarded.extensions["verified_sessions"].recheck_seconds = 0.3
    user_id = user_create(guarded)
    headers = bearer(guarded, user_id)
    assert _status(guarded, "/test/anyone", headers) == 200
    with guarded.app_context():
        db.session.query(AuthSession).filter_by(user_id=user_id).update({"revoked_at": datetime.now(timezone.utc)})
        db.session.commit()
    deadline = time.monotonic() + 0.3 + 2.0
    while _status(guarded, "/test/anyone", headers) != 401:
        assert time.monotonic() < deadline, "the revocation was never seen"
        time.sleep(0.02)


def test_another_process_refuses_a_revoked_token_once_the_change_is_announced(make_pg_app):
    """Two workers: the token was verified by both; a logout through one is refused by the other within the
    cache's bound (the announcement; at most CACHE_RESYNC_SECONDS)."""
    first, second = make_pg_app(), make_pg_app()
    from tests.cache.conftest import subscribed

    assert subscribed(second)
    headers = bearer(first, user_create(first))
    for app in (first, second):
        assert app.test_client().get("/api/me", headers=headers).status_code == 200
    assert first.test_client().post("/api/auth/logout", headers=headers).status_code == 204
    assert first.test_client().get("/api/me", headers=headers).status_code == 401  # at once, in the writer
    deadline = time.monotonic() + second.config["CACHE_RESYNC_SECONDS"]
    while second.test_client().get("/api/me", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "the other process kept accepting a revoked token"
        time.sleep(0.002)


def test_wrong_role_is_403_and_a_role_change_applies_at_once(guarded):
    from raf_network.users.services import user_role_set

    user_id = user_create(guarded, role="student")
    headers = bearer(guarded, user_id)
    assert _status(guarded, "/test/admins", headers) == 403
    with guarded.app_context():
        user_role_set(email=db.session.get(User, user_id).email, role="admin")
    assert _status(guarded, "/test/admins", headers) == 200
    assert _status(guarded, "/test/admins") == 401
