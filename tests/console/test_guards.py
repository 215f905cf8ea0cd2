"""Every console route is guarded: anonymous → the sign-in page, a student's or alumnus's session → 403; the
console's headers (CSP without inline scripts, no framing, never cached)."""
import re

import pytest
from sqlalchemy.exc import OperationalError

from raf_network.console.auth import CONSOLE_ROLES, console_session_start
from raf_network.console.pages import audit_log
from raf_network.extensions import db
from raf_network.users.models import User
from tests.factories import user_create

# Routes anyone may open: how one signs in, and the console's own static files.
PUBLIC = {"console.login", "console.google_start", "console.google_callback", "console.link_sign_in",
          "console.logout", "console.static", "console.not_found"}


def console_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("console.")]


def concrete(rule):
    """A URL of ``rule`` with made-up arguments (an id 1, a word)."""
    return re.sub(r"<(?:int:)?([^>]+)>", lambda match: "1" if "int:" in match.group(0) else "x", rule.rule)


def session_client(app, role):
    """A client holding a console session of ``role`` (started as a sign-in would, whatever the role)."""
    user_id = user_create(app, role=role)
    client = app.test_client()
    with app.test_request_context("/console/"):
        from flask import session

        console_session_start(user=db.session.get(User, user_id), method="link")
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    client.set_cookie("raf_console", cookie, path="/console")
    return client


def test_every_console_view_but_sign_in_is_guarded(embedded_app):
    for rule in console_rules(embedded_app):
        if rule.endpoint in PUBLIC:
            continue
        view = embedded_app.view_functions[rule.endpoint]
        assert getattr(view, CONSOLE_ROLES, None), f"{rule.endpoint} has no staff_required/admin_required"


@pytest.mark.parametrize("caller", ["anonymous", "student", "alumni"])
def test_every_guarded_route_refuses(embedded_app, caller):
    embedded_app.config["WTF_CSRF_ENABLED"] = False  # so that a POST reaches the guard (CSRF is tested apart)
    client = embedded_app.test_client() if caller == "anonymous" else session_client(embedded_app, caller)
    checked = 0
    for rule in console_rules(embedded_app):
        if rule.endpoint in PUBLIC:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(concrete(rule), method=method)
            if caller == "anonymous":
                assert response.status_code == 302, (method, rule.rule)
                assert response.headers["Location"] == "/console/login", (method, rule.rule)
            else:
                assert response.status_code == 403, (method, rule.rule)
                assert "Greška 403" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 1


def test_console_pages_carry_a_strict_csp_and_refuse_framing(embedded_app):
    response = embedded_app.test_client().get("/console/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # nothing inline the CSP would have to allow
    assert not re.search(r"(?:src|href)=[\"'](?:https?:)?//", html), "an asset from another host"


def test_the_console_stylesheet_is_served_by_the_app(embedded_app):
    response = embedded_app.test_client().get("/console/static/console/console.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "@media" in response.get_data(as_text=True)  # the phone-width layout


def test_an_unknown_console_address_is_the_consoles_404_page(embedded_app):
    response = embedded_app.test_client().get("/console/nema/ove/stranice")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Greška 404" in response.get_data(as_text=True)
    assert embedded_app.test_client().get("/api/nema").is_json  # the API keeps its JSON errors


@pytest.mark.parametrize(("raised", "status"), [
    (RuntimeError("a bug"), 500),
    (OperationalError("SELECT 1", {}, Exception("server closed the connection")), 503),
])
def test_a_failing_console_page_is_an_error_page_not_json(embedded_app, monkeypatch, raised, status):
    from tests.console.helpers import ConsoleClient

    staff = ConsoleClient(embedded_app)

    def broken(**_kwargs):
        raise raised

    monkeypatch.setattr(audit_log, "audit_page", broken)
    response = staff.get("/console/audit")
    assert response.status_code == status and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"Greška {status}" in html and "a bug" not in html and "Traceback" not in html
    if status == 500:
        assert response.headers["X-Request-ID"] in html  # the officer can quote it; the trace is in the log
