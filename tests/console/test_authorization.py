"""The console's authorization matrix: every console route × every kind of caller → what happens.

Callers: anonymous, a student's, an alumnus's, a faculty administrator's and an admin's console session (a
student's or alumnus's session cannot come from a sign-in, which refuses them; it is made directly, to show that
every route checks the role itself). Cells: ``sign-in`` = redirected to the sign-in page, ``403``, ``200`` (a page),
``yes`` (an action the guard lets through; what it does is tested with its page). The table is rendered into the
README (between the ``console-authorization`` markers); a test keeps the two identical, another fails when a console
route has no row.
"""
from pathlib import Path

import pytest
from sqlalchemy import select

from raf_network.console.models import ConsoleTask
from raf_network.extensions import db
from raf_network.network.models import Company, Profile
from raf_network.notifications.models import Notification
from raf_network.webhook.models import WebhookDelivery
from tests.console.helpers import ConsoleClient
from tests.console.test_guards import PUBLIC, session_client

CALLERS = ("anonymous", "student", "alumni", "faculty_administrator", "admin")
PAGE = {"anonymous": "sign-in", "student": 403, "alumni": 403, "faculty_administrator": 200, "admin": 200}
ACTION = {**PAGE, "faculty_administrator": "yes", "admin": "yes"}
# (method, rule, path with placeholders, expected by caller, note)
MATRIX = [
    ("GET", "/console/", "/console/", PAGE, "Pregled"),
    ("GET", "/console/posts", "/console/posts", PAGE, "Objave"),
    ("POST", "/console/posts", "/console/posts", ACTION, "publish (`post_create`)"),
    ("POST", "/console/posts/<int:post_id>/delete", "/console/posts/1/delete", ACTION, "moderation"),
    ("POST", "/console/posts/<int:post_id>/comments/<int:comment_id>/delete", "/console/posts/1/comments/1/delete",
     ACTION, "moderation"),
    ("GET", "/console/broadcast", "/console/broadcast", PAGE, "Obaveštenja"),
    ("POST", "/console/broadcast/dry-run", "/console/broadcast/dry-run", ACTION, "reach, nothing sent"),
    ("POST", "/console/broadcast", "/console/broadcast", ACTION, "send (`broadcast_create`, rate limited)"),
    ("GET", "/console/broadcast/<int:notification_id>", "/console/broadcast/{broadcast}", PAGE, "its progress"),
    ("GET", "/console/exams", "/console/exams", PAGE, "Ispiti"),
    ("POST", "/console/exams/periods/<int:period_id>/show", "/console/exams/periods/{period}/show", ACTION,
     "show in the app (`period_visibility_set`)"),
    ("POST", "/console/exams/periods/<int:period_id>/hide", "/console/exams/periods/{period}/hide", ACTION,
     "hide from the app"),
    ("POST", "/console/exams/upload", "/console/exams/upload", ACTION, "dry run: the match table, nothing imported"),
    ("GET", "/console/exams/uploads/<int:task_id>", "/console/exams/uploads/{exam_task}", PAGE, "a checked upload"),
    ("POST", "/console/exams/uploads/<int:task_id>/confirm", "/console/exams/uploads/{exam_task}/confirm", ACTION,
     "import it (a job), once"),
    ("POST", "/console/exams/uploads/<int:task_id>/cancel", "/console/exams/uploads/{exam_task}/cancel", ACTION,
     "drop it"),
    ("GET", "/console/timetable", "/console/timetable", PAGE, "Raspored"),
    ("POST", "/console/timetable/upload", "/console/timetable/upload", ACTION, "dry run: the diff, nothing written"),
    ("GET", "/console/timetable/uploads/<int:task_id>", "/console/timetable/uploads/{timetable_task}", PAGE,
     "a checked timetable"),
    ("POST", "/console/timetable/uploads/<int:task_id>/confirm", "/console/timetable/uploads/{timetable_task}/confirm",
     ACTION, "apply it (a job), once; a mass deletion only with \"I know\""),
    ("POST", "/console/timetable/uploads/<int:task_id>/cancel", "/console/timetable/uploads/{timetable_task}/cancel",
     ACTION, "drop it"),
    ("GET", "/console/users", "/console/users", PAGE, "Korisnici"),
    ("POST", "/console/users/role", "/console/users/role", ACTION, "to or from admin: admins only"),
    ("POST", "/console/users/disable", "/console/users/disable", ACTION, "an admin: admins only; not oneself"),
    ("POST", "/console/users/enable", "/console/users/enable", ACTION, "an admin: admins only; not oneself"),
    ("GET", "/console/audit", "/console/audit", PAGE, "Dnevnik"),
    ("GET", "/console/tasks/<int:task_id>", "/console/tasks/{task}", PAGE, "an import's progress (a job)"),
    ("GET", "/console/deliveries", "/console/deliveries", PAGE, "Isporuke (filters as the API's)"),
    ("GET", "/console/deliveries/<int:delivery_id>", "/console/deliveries/{delivery}", PAGE,
     "change set, error, body"),
    ("POST", "/console/deliveries/<int:delivery_id>/replay", "/console/deliveries/{delivery}/replay", ACTION,
     "replay (`delivery_replay`; force overrides the mass-deletion guard)"),
    ("GET", "/console/network", "/console/network", PAGE, "Mreža: people, hidden ones included; the portal import"),
    ("POST", "/console/network/people/<int:profile_id>/hide", "/console/network/people/{profile}/hide", ACTION,
     "out of the directory (a flag of its own: the owner cannot undo it)"),
    ("POST", "/console/network/people/<int:profile_id>/show", "/console/network/people/{profile}/show", ACTION,
     "lifts an officer's hiding (the owner's own `visible: false` stays)"),
    ("POST", "/console/network/people/<int:profile_id>/link", "/console/network/people/{profile}/link", ACTION,
     "account ↔ imported profile (`profile_link`)"),
    ("GET", "/console/network/companies", "/console/network/companies", PAGE, "companies with their jobs"),
    ("POST", "/console/network/companies/<int:company_id>/rename", "/console/network/companies/{company}/rename",
     ACTION, "rename (not to another company's name)"),
    ("POST", "/console/network/companies/merge", "/console/network/companies/merge", ACTION,
     "merge a duplicate (one transaction)"),
    ("POST", "/console/network/import", "/console/network/import", ACTION,
     "portal import as a task (409 while one runs)"),
]
# Sign-in itself: open to anyone (the anonymous answer; a signed-in officer is sent on to Pregled).
PUBLIC_ROWS = [
    ("GET", "/console/login", "the sign-in page"),
    ("GET", "/console/login/google", "→ Google (when `GOOGLE_WEB_CLIENT_ID` is set)"),
    ("GET", "/console/login/google/callback", "← Google: staff only get in, others 403"),
    ("GET", "/console/link/<token>", "one-time link: staff only, once, 15 minutes"),
    ("POST", "/console/logout", "sign-out (CSRF token required)"),
    ("GET", "/console/<path:unknown>", "any other console address: the console's 404 page"),
]

README = Path(__file__).resolve().parents[2] / "README.md"
MARKERS = ("<!-- console-authorization:begin -->", "<!-- console-authorization:end -->")


def matrix_markdown():
    short = {"anonymous": "anon", "student": "student", "alumni": "alumni",
             "faculty_administrator": "faculty admin", "admin": "admin"}
    lines = ["| console route | " + " | ".join(short[caller] for caller in CALLERS) + " | note |",
             "| --- |" + " --- |" * (len(CALLERS) + 1)]
    for method, rule, _, expected, note in MATRIX:
        lines.append(f"| `{method} {rule}` | " + " | ".join(str(expected[caller]) for caller in CALLERS)
                     + f" | {note} |")
    for method, rule, note in PUBLIC_ROWS:
        lines.append(f"| `{method} {rule}` | " + " | ".join(["anyone"] * len(CALLERS)) + f" | {note} |")
    return "\n".join(lines)


def _routes(app):
    return {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("console.")
            and rule.endpoint != "console.static" for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_console_route_has_a_row(embedded_app):
    rows = {(row[0], row[1]) for row in MATRIX} | {(row[0], row[1]) for row in PUBLIC_ROWS}
    assert _routes(embedded_app) == rows
    public = {rule.rule for rule in embedded_app.url_map.iter_rules() if rule.endpoint in PUBLIC}
    assert public - {"/console/static/<path:filename>"} == {row[1] for row in PUBLIC_ROWS}


def test_readme_mirrors_the_console_matrix():
    text = README.read_text(encoding="utf-8")
    assert MARKERS[0] in text and MARKERS[1] in text, "README lacks the console-authorization markers"
    assert text.split(MARKERS[0])[1].split(MARKERS[1])[0].strip() == matrix_markdown()


@pytest.mark.parametrize("caller", CALLERS)
def test_console_matrix_cell(embedded_app, caller):
    embedded_app.config["WTF_CSRF_ENABLED"] = False  # the guard is what is tested here (CSRF: test_posts etc.)
    embedded_app.config["RATELIMIT_ENABLED"] = False
    if caller == "anonymous":
        client = embedded_app.test_client()
    elif caller in ("student", "alumni"):
        client = session_client(embedded_app, caller)
    else:
        client = ConsoleClient(embedded_app, role=caller).client
    with embedded_app.app_context():
        db.session.add(Notification(category="announcement", source="broadcast:matrix",
                                    texts={"sr-Latn": {"title": "t", "body": "b"}}))
        db.session.commit()
        broadcast = db.session.scalar(select(Notification.id))
        task = ConsoleTask(kind="matrix", label="matrix", state="done")
        counts = {"created": 0, "updated": 0, "removed": 0}
        exam_task = ConsoleTask(kind="exam_import", label="matrix", state="done", plan={
            "period": "Rok", "start": "2026-01-19", "end": "2026-01-30", "visible": False, "rows_read": 0,
            "imported": 0, "counts": counts, "warnings": [], "rows": []})
        timetable_task = ConsoleTask(kind="timetable_import", label="matrix", state="done", plan={
            "created": [], "updated": [], "removed": [], "new_courses": [], "counts": counts, "live_before": 0,
            "removed_share": 0.0, "limit": 0.5, "over_limit": False, "audience": 0})
        db.session.add_all([task, exam_task, timetable_task])
        db.session.commit()
        delivery = WebhookDelivery(webhook_id="msg_matrix", signature="valid", status="failed", http_status=500,
                                   raw_body=b"{}")
        db.session.add(delivery)
        db.session.commit()
        profile, company = Profile(first_name="Matrica", portal_id=1), Company(name="Matrica")
        # A portal import "running": the matrix's own start is refused (409), so no import reaches for a portal.
        running = ConsoleTask(kind="portal_import", label="matrix", state="running")
        db.session.add_all([profile, company, running])
        db.session.commit()
        ids = {"broadcast": broadcast, "task": task.id, "exam_task": exam_task.id,
               "timetable_task": timetable_task.id, "period": 1, "delivery": delivery.id, "profile": profile.id,
               "company": company.id}
    for method, rule, path, expected, _note in MATRIX:
        response = client.open(path.format(**ids), method=method)
        cell = expected[caller]
        where = (method, rule, caller, response.status_code)
        if cell == "sign-in":
            assert response.status_code == 302 and response.headers["Location"] == "/console/login", where
        elif cell == "yes":
            assert response.status_code not in (401, 403, 405), where
            assert response.headers.get("Location") != "/console/login", where
        else:
            assert response.status_code == cell, where
