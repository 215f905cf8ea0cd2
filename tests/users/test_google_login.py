"""Sign-in with Google end to end: real RS256 verification against a local JWKS stub, account creation
and the role rules of the contract, and what a failed sign-in must not do."""
import time

import jwt
import pytest
from sqlalchemy import func, select

from raf_network.extensions import db
from raf_network.users.models import AuthSession, User
from tests.factories import user_create
from tests.stubs.google_certs import CLIENT_ID
from tests.users.conftest import sign_in


def _user_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def _assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    return body


def test_valid_token_creates_a_student_and_returns_a_usable_token(signin_app, google):
    response = sign_in(signin_app, google.id_token(email="mmarkovic1021rn@raf.rs"))
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body["token"], str) and body["refresh_token"] and body["expires_in"] > 0
    me = signin_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    user = me.get_json()
    assert user["email"] == "mmarkovic1021rn@raf.rs" and user["role"] == "student"
    assert user["student_number"] == "RN10/21"
    assert (user["first_name"], user["last_name"]) == ("Marko", "Marković")


@pytest.mark.parametrize("email, role, student_number", [
    ("mmarkovic1021rn@raf.rs", "student", "RN10/21"),
    ("jpetrovic3220rd@raf.rs", "student", "RD32/20"),
    ("MMarkovic1021RN@RAF.RS", "student", "RN10/21"),
    ("pprofesor@raf.rs", "faculty_administrator", None),
    ("marko.markovic@gmail.com", "alumni", None),
    ("mmarkovic1021rn@student.raf.rs", "alumni", None),
])
def test_role_rules(signin_app, google, email, role, student_number):
    body = sign_in(signin_app, google.id_token(email=email)).get_json()
    user = body["user"]
    assert (user["email"], user["role"], user["student_number"]) == (email.lower(), role, student_number)


def test_student_domain_is_configurable(signin_app, google):
    signin_app.config["STUDENT_EMAIL_DOMAIN"] = "example.edu"
    assert sign_in(signin_app, google.id_token(email="ana2023si@example.edu")).get_json()["user"]["role"] == "student"
    assert sign_in(signin_app, google.id_token(email="ana2023si@raf.rs")).get_json()["user"]["role"] == "alumni"


def _expired(google):
    past = int(time.time()) - 7200
    return google.id_token(iat=past, exp=past + 3600)


def _hs256_with_public_key(google):
    # Algorithm confusion: an HS256 token "signed" with the published public key must not pass.
    return jwt.encode(google.claims(), "a-shared-secret-nobody-should-accept-here", algorithm="HS256",
                      headers={"kid": google.kid})


@pytest.mark.parametrize("make_token, why", [
    (_expired, "expired"),
    (lambda google: google.id_token(aud="someone-elses-app.apps.googleusercontent.com"), "wrong audience"),
    (lambda google: google.id_token(iss="https://evil.example.com"), "wrong issuer"),
    (lambda google: google.id_token(iss=None), "no issuer"),
    (lambda google: google.stranger_id_token(), "signed with another key"),
    (lambda google: google.id_token(email_verified=False), "unverified e-mail"),
    (lambda google: google.id_token(email_verified=None), "e-mail not vouched for"),
    (lambda google: google.id_token(email=None), "no e-mail"),
    (lambda google: google.id_token(exp=None), "no expiry"),
    (lambda google: jwt.encode(google.claims(), None, algorithm="none"), "unsigned"),
    (_hs256_with_public_key, "HS256"),
    (lambda google: google.id_token()[:-10] + "AAAAAAAAAA", "tampered signature"),
    (lambda google: "not-a-jwt", "garbage"),
])
def test_untrusted_tokens_are_401_and_create_nothing(signin_app, google, make_token, why):
    response = sign_in(signin_app, make_token(google))
    _assert_error(response, 401)
    assert "token" not in response.get_json()
    assert _user_count(signin_app) == 0
    with signin_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 0


def test_string_true_email_verified_is_accepted(signin_app, google):
    assert sign_in(signin_app, google.id_token(email_verified="true")).status_code == 200


def test_access_token_is_optional_and_ignored(signin_app, google):
    client = signin_app.test_client()
    assert client.post("/api/google-login", json={"id_token": google.id_token()}).status_code == 200
    assert client.post("/api/google-login", json={"id_token": google.id_token(), "access_token": None}
                       ).status_code == 200


@pytest.mark.parametrize("body", [{}, {"access_token": "x"}, {"id_token": ""}, {"id_token": "x", "extra": 1}])
def test_malformed_body_is_422(signin_app, body):
    _assert_error(signin_app.test_client().post("/api/google-login", json=body), 422)


def test_later_sign_in_refreshes_names_and_keeps_an_admin_set_role(signin_app, google):
    first = sign_in(signin_app, google.id_token(email="pprofesor@raf.rs")).get_json()["user"]
    with signin_app.app_context():
        user = db.session.get(User, first["id"])
        user.role, user.role_set_by_admin = "admin", True
        db.session.commit()
    again = sign_in(signin_app, google.id_token(email="pprofesor@raf.rs", given_name="Petar",
                                                family_name="Petrović")).get_json()["user"]
    assert again["id"] == first["id"] and again["role"] == "admin"
    assert (again["first_name"], again["last_name"]) == ("Petar", "Petrović")
    assert _user_count(signin_app) == 1


def test_role_not_set_by_an_admin_follows_the_rule(signin_app, google):
    user_id = user_create(signin_app, role="admin", email="mmarkovic1021rn@raf.rs")
    user = sign_in(signin_app, google.id_token(email="mmarkovic1021rn@raf.rs")).get_json()["user"]
    assert user["id"] == user_id and user["role"] == "student"


def test_each_sign_in_is_its_own_session(signin_app, google):
    tokens = [sign_in(signin_app, google.id_token()).get_json()["token"] for _ in range(2)]
    client = signin_app.test_client()
    client.post("/api/auth/logout", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert client.get("/api/me", headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 200


def test_disabled_account_cannot_sign_in(signin_app, google):
    user_create(signin_app, email="mmarkovic1021rn@raf.rs", is_active=False)
    _assert_error(sign_in(signin_app, google.id_token(email="mmarkovic1021rn@raf.rs")), 403)


def test_google_keys_are_fetched_once_and_cached(signin_app, google):
    for _ in range(3):
        assert sign_in(signin_app, google.id_token()).status_code == 200
    assert google.requests == 1


def test_unreachable_google_keys_are_503_not_401(signin_app, google):
    token = google.id_token()
    google.stop()
    response = sign_in(signin_app, token)
    _assert_error(response, 503)
    assert response.headers["Retry-After"]
    assert _user_count(signin_app) == 0


def test_sign_in_without_client_ids_configured_is_refused(signin_app, google):
    signin_app.config["GOOGLE_CLIENT_IDS"] = []
    assert "not configured" in _assert_error(sign_in(signin_app, google.id_token()), 401)["message"]
    assert _user_count(signin_app) == 0


def test_only_configured_audiences_are_accepted(signin_app, google):
    signin_app.config["GOOGLE_CLIENT_IDS"] = ["ios-client"]
    _assert_error(sign_in(signin_app, google.id_token(aud=CLIENT_ID)), 401)
    assert sign_in(signin_app, google.id_token(aud="ios-client")).status_code == 200


def test_sign_in_is_rate_limited_per_address_in_the_error_format(signin_app, google):
    signin_app.config["LOGIN_RATE_LIMIT"] = "2/minute"
    assert sign_in(signin_app, google.id_token()).status_code == 200
    assert sign_in(signin_app, "not-a-jwt").status_code == 401
    response = sign_in(signin_app, google.id_token())
    _assert_error(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    other = signin_app.test_client().post("/api/google-login", json={"id_token": google.id_token()},
                                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


# ---- azp with several audiences; the Google account (sub) recorded at first sign-in --------------------

@pytest.mark.parametrize("azp, status", [
    (None, 401),                                   # several audiences and no azp
    ("someone-elses-app.apps.googleusercontent.com", 401),
    (CLIENT_ID, 200),
])
def test_a_token_with_several_audiences_must_name_one_of_ours_as_azp(signin_app, google, azp, status):
    token = google.id_token(aud=[CLIENT_ID, "someone-elses-app.apps.googleusercontent.com"], azp=azp)
    response = sign_in(signin_app, token)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        assert "azp" in response.get_json()["message"]


def test_a_single_audience_token_may_name_an_unconfigured_android_client_as_azp(signin_app, google):
    """Android's Google sign-in asks for a token for the web client id: aud = web, azp = the Android client."""
    token = google.id_token(aud=CLIENT_ID, azp="123-android.apps.googleusercontent.com")
    assert sign_in(signin_app, token).status_code == 200


def _google_sub(app, email):
    with app.app_context():
        return db.session.scalar(select(User.google_sub).where(User.email == email))


def test_the_google_account_of_the_first_sign_in_is_recorded_and_a_different_one_refused(signin_app, google,
                                                                                         caplog):
    email = "mmarkovic1021rn@raf.rs"
    assert sign_in(signin_app, google.id_token(email=email, sub="1111")).status_code == 200
    assert _google_sub(signin_app, email) == "1111"
    assert sign_in(signin_app, google.id_token(email=email, sub="1111")).status_code == 200
    with signin_app.app_context():
        sessions_before = db.session.scalar(select(func.count()).select_from(AuthSession))
    with caplog.at_level("WARNING"):
        response = sign_in(signin_app, google.id_token(email=email, sub="2222"))
    body = _assert_error(response, 401)
    assert "different Google account" in body["message"] and "token" not in body
    assert any(record.levelname == "WARNING" and "clear-google-sub" in record.getMessage()
               for record in caplog.records)
    assert _google_sub(signin_app, email) == "1111"
    with signin_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthSession)) == sessions_before


def test_an_account_without_a_recorded_google_account_records_it_at_sign_in(signin_app, google):
    user_create(signin_app, email="pprofesor@raf.rs", role="admin")
    assert sign_in(signin_app, google.id_token(email="pprofesor@raf.rs", sub="3333")).status_code == 200
    assert _google_sub(signin_app, "pprofesor@raf.rs") == "3333"


def test_an_operator_clears_the_recorded_google_account(signin_app, google):
    email = "mmarkovic1021rn@raf.rs"
    sign_in(signin_app, google.id_token(email=email, sub="1111"))
    result = signin_app.test_cli_runner().invoke(args=["users", "clear-google-sub", email])
    assert result.exit_code == 0 and "1111" in result.output
    assert _google_sub(signin_app, email) is None
    assert sign_in(signin_app, google.id_token(email=email, sub="2222")).status_code == 200
    assert _google_sub(signin_app, email) == "2222"
    missing = signin_app.test_cli_runner().invoke(args=["users", "clear-google-sub", "nobody@raf.rs"])
    assert missing.exit_code == 1 and "no user" in missing.output


# ---- the first-day-of-term rush: one campus address, hundreds of valid sign-ins -------------------------

def test_the_campus_rush_passes_while_a_flood_of_invalid_tokens_is_throttled(signin_app, google):
    """With the default limits: 300 valid sign-ins a minute from one address all succeed; from the same
    address, invalid tokens are 401 until LOGIN_FAILURE_RATE_LIMIT (20/minute) and 429 after; valid sign-ins
    still succeed meanwhile, and another address's failures are counted on their own."""
    assert signin_app.config["LOGIN_RATE_LIMIT"] == "600/minute"
    assert signin_app.config["LOGIN_FAILURE_RATE_LIMIT"] == "20/minute"
    campus = {"REMOTE_ADDR": "198.51.100.7"}
    client = signin_app.test_client()

    def attempt(id_token, environ=campus):
        return client.post("/api/google-login", json={"id_token": id_token}, environ_base=environ)

    statuses = [attempt(google.id_token(email=f"student{n}2024rn@raf.rs")).status_code for n in range(300)]
    assert statuses == [200] * 300
    failures = [attempt("not-a-jwt").status_code for _ in range(25)]
    assert failures == [401] * 20 + [429] * 5
    throttled = attempt(google.stranger_id_token())
    _assert_error(throttled, 429)
    assert int(throttled.headers["Retry-After"]) > 0
    assert attempt(google.id_token(email="late2024rn@raf.rs")).status_code == 200
    assert attempt("not-a-jwt", environ={"REMOTE_ADDR": "203.0.113.50"}).status_code == 401
    assert _user_count(signin_app) == 301


def test_failed_refreshes_are_throttled_too(signin_app):
    signin_app.config["LOGIN_FAILURE_RATE_LIMIT"] = "3/minute"
    client = signin_app.test_client()
    statuses = [client.post("/api/auth/refresh", json={"refresh_token": "nope"}).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
