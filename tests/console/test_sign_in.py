"""Signing in to the console: one-time links, Google through the local OpenID Connect stub, the session cookie,
idle timeout, sign-out and revocation; the API stays cookie-free."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from raf_network.console.models import ConsoleLink, ConsoleSession
from raf_network.extensions import db
from raf_network.users.models import User
from raf_network.users.services import user_active_set, user_role_set
from tests.conftest import _make_app
from tests.console.conftest import console_link
from tests.factories import user_create
from tests.stubs.oidc import WEB_CLIENT_ID, WEB_CLIENT_SECRET, OidcStub


def _oidc_settings(stub):
    return {"GOOGLE_WEB_CLIENT_ID": WEB_CLIENT_ID, "GOOGLE_WEB_CLIENT_SECRET": WEB_CLIENT_SECRET,
            "GOOGLE_OIDC_URL": stub.discovery_url, "GOOGLE_CERTS_URL": stub.jwks_url}


def _sessions(app):
    with app.app_context():
        return db.session.scalars(select(ConsoleSession).order_by(ConsoleSession.id)).all()


def _sign_in(app, client, email):
    response = client.get(console_link(app, email).removeprefix(app.config["PUBLIC_URL"]))
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    return response


@pytest.fixture
def oidc():
    with OidcStub() as stub:
        yield stub


# --------------------------------------------------------------------------------------------------
# In the browser
# --------------------------------------------------------------------------------------------------

def test_a_one_time_link_signs_in_once_in_the_browser(embedded_console, browse):
    """The embedded default (make run): the link printed by the CLI signs in; the cookie is HttpOnly, SameSite=Lax,
    for /console only; the same link in another browser lands on the sign-in page with a message."""
    app = embedded_console.app
    user_create(app, role="faculty_administrator", email="referent@raf.rs", first_name="Ana", last_name="Anić")
    link = console_link(app, "referent@raf.rs")
    assert link.startswith(embedded_console.url + "/console/link/")

    first = browse(embedded_console)
    first.page.goto(link)
    assert first.page.url == embedded_console.url + "/console/"
    assert "Ana Anić" in first.page.inner_text("header")
    cookie = first.cookies()["raf_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert not cookie["secure"]  # plain http on 127.0.0.1: a Secure cookie would never come back

    second = browse(embedded_console)
    second.page.goto(link)
    assert second.page.url == embedded_console.url + "/console/login"
    assert "već iskorišćen ili je istekao" in second.page.inner_text("main")
    assert "raf_console" not in second.cookies() or "console_session" not in second.page.content()

    first.page.get_by_role("button", name="Odjava").click()
    assert first.page.url == embedded_console.url + "/console/login"
    assert "Odjavljeni ste" in first.page.inner_text("main")
    first.page.goto("/console/")
    assert first.page.url == embedded_console.url + "/console/login"


def test_google_sign_in_through_the_oidc_stub_on_postgres(make_pg_app, live_server, browse, oidc):
    """The PostgreSQL + Redis stack: the real flow in the browser — discovery, authorize with PKCE S256, the code
    exchanged with its verifier, the ID token verified — and the officer is in."""
    app = make_pg_app(JOBS_INLINE=False, **_oidc_settings(oidc))
    user_create(app, role="faculty_administrator", email="sluzba@raf.rs")
    server = live_server(app)
    browsing = browse(server)
    browsing.page.goto("/console/")
    assert browsing.page.url == server.url + "/console/login"
    browsing.page.get_by_role("link", name="Prijava preko Google naloga").click()
    browsing.page.wait_for_url(server.url + "/console/")
    assert "Studentska Služba" in browsing.page.inner_text("header")  # the names the ID token carried

    [authorization] = oidc.authorizations
    assert authorization["code_challenge_method"] == "S256" and authorization["client_id"] == WEB_CLIENT_ID
    assert authorization["redirect_uri"] == server.url + "/console/login/google/callback"
    [exchange] = oidc.exchanges
    assert exchange["refused"] is None and exchange["form"]["code_verifier"]
    [console_session] = _sessions(app)
    assert console_session.method == "google" and console_session.role == "faculty_administrator"
    assert any(url.startswith(oidc.base_url + "/authorize") for url in browsing.requests)


def test_a_student_signing_in_with_google_gets_403(embedded_app, live_server, browse, oidc):
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None, **_oidc_settings(oidc))
    oidc.email = "mmarkovic1021rn@raf.rs"
    server = live_server(app)
    browsing = browse(server)
    browsing.page.goto("/console/login")
    browsing.page.get_by_role("link", name="Prijava preko Google naloga").click()
    browsing.page.wait_for_load_state()
    assert "Greška 403" in browsing.page.inner_text("main")
    assert _sessions(app) == []
    with app.app_context():  # nothing written: not even the account the app's sign-in would create
        assert db.session.scalar(select(User).where(User.email == "mmarkovic1021rn@raf.rs")) is None


# --------------------------------------------------------------------------------------------------
# Google sign-in refusals (test client against the stub)
# --------------------------------------------------------------------------------------------------

def _google_round_trip(app, client, oidc):
    """Follow the flow by hand: our redirect to the stub, the stub's redirect back, our callback's answer."""
    import requests

    start = client.get("/console/login/google")
    assert start.status_code == 302 and start.headers["Location"].startswith(oidc.base_url + "/authorize")
    back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return client.get(back.headers["Location"].removeprefix(app.config["PUBLIC_URL"]))


@pytest.mark.parametrize("claims, why", [
    ({"email_verified": False}, "Google has not verified the address"),
    ({"exp": 1_000_000_000, "iat": 999_990_000}, "expired"),
])
def test_an_id_token_google_py_refuses_signs_nobody_in(embedded_app, oidc, claims, why):
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None, **_oidc_settings(oidc))
    user_create(app, role="admin", email="sluzba@raf.rs")
    oidc.claims_override = claims
    client = app.test_client()
    response = _google_round_trip(app, client, oidc)
    assert response.status_code == 302 and response.headers["Location"] == "/console/login", why
    assert "nije uspela" in client.get("/console/login").get_data(as_text=True)
    assert _sessions(app) == []


def test_a_callback_without_the_flow_state_signs_nobody_in(embedded_app, oidc):
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None, **_oidc_settings(oidc))
    response = app.test_client().get("/console/login/google/callback?code=made-up&state=made-up")
    assert response.status_code == 302 and response.headers["Location"] == "/console/login"
    assert oidc.exchanges == [] and _sessions(app) == []


def test_without_a_google_client_the_sign_in_page_says_so(embedded_app):
    page = embedded_app.test_client().get("/console/login").get_data(as_text=True)
    assert "nije podešena" in page and "/console/login/google" not in page
    assert embedded_app.test_client().get("/console/login/google/callback").status_code == 404


# --------------------------------------------------------------------------------------------------
# One-time links
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["faculty_administrator", "admin"])
def test_console_link_prints_a_url_under_public_url_as_its_last_line(embedded_app, role):
    embedded_app.config["PUBLIC_URL"] = "https://konzola.raf.rs"
    user_create(embedded_app, role=role, email="staff@raf.rs")
    result = embedded_app.test_cli_runner().invoke(args=["users", "console-link", "Staff@RAF.rs"])
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1].startswith("https://konzola.raf.rs/console/link/")
    with embedded_app.app_context():
        [link] = db.session.scalars(select(ConsoleLink)).all()
        lifetime = link.expires_at - link.created_at
        assert timedelta(minutes=14) < lifetime <= timedelta(minutes=15, seconds=1)
        assert link.token_hash not in result.output  # only the hash is stored, never the secret


@pytest.mark.parametrize("role", ["student", "alumni"])
def test_console_link_refuses_other_roles(embedded_app, role):
    user_create(embedded_app, role=role, email="someone@raf.rs")
    result = embedded_app.test_cli_runner().invoke(args=["users", "console-link", "someone@raf.rs"])
    assert result.exit_code == 1 and "faculty administrators and admins only" in result.output
    with embedded_app.app_context():
        assert db.session.scalars(select(ConsoleLink)).all() == []


def test_console_link_refuses_unknown_and_disabled_accounts(embedded_app):
    user_create(embedded_app, role="admin", email="off@raf.rs", is_active=False)
    runner = embedded_app.test_cli_runner()
    assert runner.invoke(args=["users", "console-link", "nobody@raf.rs"]).exit_code == 1
    assert runner.invoke(args=["users", "console-link", "off@raf.rs"]).exit_code == 1


def test_a_used_link_lands_on_the_sign_in_page_with_a_message(app):
    user_create(app, role="admin", email="admin@raf.rs")
    link = console_link(app, "admin@raf.rs").removeprefix(app.config["PUBLIC_URL"])
    assert app.test_client().get(link).status_code == 302
    again = app.test_client()
    response = again.get(link)
    assert response.status_code == 302 and response.headers["Location"] == "/console/login"
    assert "već iskorišćen ili je istekao" in again.get("/console/login").get_data(as_text=True)
    assert again.get("/console/").headers["Location"] == "/console/login"
    assert len(_sessions(app)) == 1


def test_an_expired_link_signs_nobody_in(app):
    user_create(app, role="admin", email="admin@raf.rs")
    link = console_link(app, "admin@raf.rs").removeprefix(app.config["PUBLIC_URL"])
    with app.app_context():
        db.session.execute(update(ConsoleLink).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    client = app.test_client()
    assert client.get(link).headers["Location"] == "/console/login"
    assert "već iskorišćen ili je istekao" in client.get("/console/login").get_data(as_text=True)
    assert _sessions(app) == []


def test_a_made_up_link_signs_nobody_in(embedded_app):
    client = embedded_app.test_client()
    assert client.get("/console/link/not-a-real-token").headers["Location"] == "/console/login"
    assert _sessions(embedded_app) == []


# --------------------------------------------------------------------------------------------------
# The session: idle timeout, sign-out, revocation
# --------------------------------------------------------------------------------------------------

def test_an_idle_session_expires(app):
    user_create(app, role="admin", email="admin@raf.rs")
    client = app.test_client()
    _sign_in(app, client, "admin@raf.rs")
    assert client.get("/console/").status_code == 200
    idle = app.config["CONSOLE_IDLE_TIMEOUT"] + 1
    with app.app_context():
        db.session.execute(update(ConsoleSession).values(
            last_seen_at=datetime.now(timezone.utc) - timedelta(seconds=idle)))
        db.session.commit()
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"] == "/console/login"
    assert "istekla zbog neaktivnosti" in client.get("/console/login").get_data(as_text=True)
    [console_session] = _sessions(app)
    assert console_session.revoked_at is not None


def test_use_keeps_a_session_alive(embedded_app):
    user_create(embedded_app, role="admin", email="admin@raf.rs")
    client = embedded_app.test_client()
    _sign_in(embedded_app, client, "admin@raf.rs")
    almost = embedded_app.config["CONSOLE_IDLE_TIMEOUT"] - 60
    with embedded_app.app_context():
        db.session.execute(update(ConsoleSession).values(
            last_seen_at=datetime.now(timezone.utc) - timedelta(seconds=almost)))
        db.session.commit()
    assert client.get("/console/").status_code == 200
    [console_session] = _sessions(embedded_app)
    seen = console_session.last_seen_at.replace(tzinfo=timezone.utc)
    assert datetime.now(timezone.utc) - seen < timedelta(seconds=30)


def test_sign_out_ends_the_session_for_good(app):
    user_create(app, role="admin", email="admin@raf.rs")
    client = app.test_client()
    _sign_in(app, client, "admin@raf.rs")
    cookie = client.get_cookie("raf_console", path="/console").value
    page = client.get("/console/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/console/logout", data={"csrf_token": token}).headers["Location"] == "/console/login"
    # The old cookie (say, copied before sign-out) no longer signs anyone in.
    replay = app.test_client()
    replay.set_cookie("raf_console", cookie, path="/console")
    assert replay.get("/console/").headers["Location"] == "/console/login"
    [console_session] = _sessions(app)
    assert console_session.revoked_at is not None


@pytest.mark.parametrize("change", ["role_service", "role_cli", "disable_service", "disable_cli"])
def test_a_role_change_or_disabling_revokes_console_sessions(app, change):
    user_create(app, role="faculty_administrator", email="officer@raf.rs")
    client = app.test_client()
    _sign_in(app, client, "officer@raf.rs")
    assert client.get("/console/").status_code == 200
    runner = app.test_cli_runner()
    with app.app_context():
        if change == "role_service":
            user_role_set(email="officer@raf.rs", role="student")
        elif change == "disable_service":
            user_active_set(email="officer@raf.rs", active=False)
        elif change == "role_cli":
            assert runner.invoke(args=["users", "set-role", "officer@raf.rs", "admin"]).exit_code == 0
        else:
            assert runner.invoke(args=["users", "disable", "officer@raf.rs"]).exit_code == 0
    [console_session] = _sessions(app)
    assert console_session.revoked_at is not None  # at once, not only at the next request
    assert client.get("/console/").headers["Location"] == "/console/login"


def test_the_same_role_again_keeps_the_session(embedded_app):
    user_create(embedded_app, role="admin", email="admin@raf.rs")
    client = embedded_app.test_client()
    _sign_in(embedded_app, client, "admin@raf.rs")
    with embedded_app.app_context():
        user_role_set(email="admin@raf.rs", role="admin")
    assert client.get("/console/").status_code == 200


def test_a_role_changed_behind_the_services_back_still_ends_the_session(embedded_app):
    """Defence in depth: the session remembers the role it signed in with, and every request compares."""
    user_create(embedded_app, role="admin", email="admin@raf.rs")
    client = embedded_app.test_client()
    _sign_in(embedded_app, client, "admin@raf.rs")
    with embedded_app.app_context():
        db.session.execute(update(User).values(role="faculty_administrator"))
        db.session.commit()
    assert client.get("/console/").headers["Location"] == "/console/login"
    assert "uloga je promenjena" in client.get("/console/login").get_data(as_text=True)


# --------------------------------------------------------------------------------------------------
# Cookies: the console's only
# --------------------------------------------------------------------------------------------------

def test_the_api_stays_cookie_free(app):
    user_create(app, role="admin", email="admin@raf.rs")
    client = app.test_client()
    _sign_in(app, client, "admin@raf.rs")
    for path in ("/api/courses", "/api/openapi.json", "/healthz", "/api/me"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert "Cookie" not in response.vary, path
    # The cookie is scoped to /console: a browser does not even send it to the API.
    assert client.get_cookie("raf_console", path="/console") is not None
    assert client.get_cookie("raf_console", path="/api") is None


def test_the_cookie_is_secure_behind_tls(embedded_app, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "1")
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None)
    user_create(app, role="admin", email="admin@raf.rs")
    link = console_link(app, "admin@raf.rs").removeprefix(app.config["PUBLIC_URL"])
    response = app.test_client().get(link, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie


def test_a_disabled_officer_signing_in_with_google_gets_403(embedded_app, oidc):
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None, **_oidc_settings(oidc))
    user_create(app, role="admin", email="sluzba@raf.rs", is_active=False)
    response = _google_round_trip(app, app.test_client(), oidc)
    assert response.status_code == 403 and "Ovaj nalog je onemogućen." in response.get_data(as_text=True)
    assert _sessions(app) == []


def test_a_token_for_the_apps_audience_does_not_open_the_console(embedded_app, oidc):
    """The console accepts ID tokens issued to its web client only (google.py is given that audience), even when the
    app's client ids are configured and the token's signature is good."""
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None, GOOGLE_CLIENT_IDS=["app-client"],
                    **_oidc_settings(oidc))
    user_create(app, role="admin", email="sluzba@raf.rs")
    with app.test_request_context("/console/login/google/callback"):
        from raf_network.console.auth import console_google_account
        from raf_network.errors import Unauthorized

        with pytest.raises(Unauthorized, match="another application"):
            console_google_account(id_token=oidc.id_token(nonce="n", client_id="app-client"))
        assert console_google_account(id_token=oidc.id_token(nonce="n", client_id=WEB_CLIENT_ID)).email == oidc.email
