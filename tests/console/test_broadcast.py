"""Obaveštenja: a dry run's reach (in the browser), sending and its self-refreshing progress (sent / failed / pruned),
the API's validation, CSRF; in the embedded default the push runs beside the request, not in it."""
import threading

from sqlalchemy import select

from raf_network.console.models import AuditEntry
from raf_network.extensions import db
from raf_network.notifications.models import Notification, PushLog
from raf_network.users.models import Device
from tests.console.helpers import ConsoleClient, page_text
from tests.factories import user_create


def _with_devices(app, role, count, *, phones=1):
    ids = [user_create(app, role=role) for _ in range(count)]
    with app.app_context():
        for user_id in ids:
            for phone in range(phones):
                token = f"token-{user_id}-{phone}-" + "x" * 20
                db.session.add(Device(user_id=user_id, token=token, platform="android"))
        db.session.commit()
    return ids


def _notifications(app):
    with app.app_context():
        return db.session.scalars(select(Notification).order_by(Notification.id)).all()


def test_a_dry_run_in_the_browser_shows_how_many_people_and_phones(staff_page):
    app = staff_page.server.app
    _with_devices(app, "student", 3, phones=2)
    _with_devices(app, "alumni", 2)
    page = staff_page.page
    page.goto("/console/broadcast")
    page.get_by_label("Kome").select_option(label="Studenti")
    page.get_by_label("Naslov").fill("Promena sale")
    page.get_by_label("Tekst").fill("Predavanje iz UUP je u sali 1.")
    page.get_by_role("button", name="Proveri domet").click()
    assert page.locator("#domet-osobe").inner_text() == "3"
    assert page.locator("#domet-telefoni").inner_text() == "6"
    assert page.get_by_label("Naslov").input_value() == "Promena sale"  # the form is kept for sending
    assert _notifications(app) == []  # nothing stored, nothing sent


def test_sending_in_the_browser_shows_the_progress_until_done(staff_page):
    app = staff_page.server.app
    _with_devices(app, "student", 4)
    page = staff_page.page
    page.goto("/console/broadcast")
    page.get_by_label("Naslov").fill("Rok za prijavu ispita")
    page.get_by_label("Tekst").fill("Prijava ispita traje do petka.")
    page.get_by_role("button", name="Pošalji").click()
    assert "/console/broadcast/" in page.url
    # The page refreshes itself (meta refresh, no script) until the push job has finished.
    page.get_by_role("heading", name="Slanje je završeno").wait_for(timeout=30_000)
    assert page.locator("#poslato").inner_text() == "4"
    assert page.locator("#neuspelo").inner_text() == "0" and page.locator("#uklonjeno").inner_text() == "0"
    with app.app_context():  # the log backend recorded the four pushes (the embedded default sends nothing)
        assert db.session.query(PushLog).count() == 4


def test_the_push_of_a_console_broadcast_runs_beside_the_request_in_the_embedded_default(embedded_app):
    """Jobs are inline without Redis; a console broadcast must not hold its web worker for the whole fan-out."""
    staff = ConsoleClient(embedded_app, role="admin")
    _with_devices(embedded_app, "student", 2)
    threads = []
    original = threading.Thread.start

    def recording_start(thread):
        threads.append(thread.name)
        original(thread)

    threading.Thread.start = recording_start
    try:
        response = staff.post("/console/broadcast", {"audience": "all", "title": "Zdravo", "body": "Svima"})
    finally:
        threading.Thread.start = original
    assert response.status_code == 302
    assert "inline-job-notification_push" in threads


def test_send_validates_with_the_apis_schema_and_writes_nothing_when_invalid(app):
    staff = ConsoleClient(app)
    response = staff.post("/console/broadcast", {"audience": "all", "title": "", "body": "x" * 1001})
    assert response.status_code == 422
    assert "Polje ne sme biti prazno." in page_text(response) and "Najviše 1000 znakova." in page_text(response)
    unknown = staff.post("/console/broadcast", {"audience": "everyone-and-their-dog", "title": "a", "body": "b"})
    assert unknown.status_code == 422
    no_course = staff.post("/console/broadcast", {"audience": "course", "course": "", "title": "a", "body": "b"})
    assert no_course.status_code == 422
    assert _notifications(app) == []


def test_send_to_a_role_and_follow_its_progress(app):
    staff = ConsoleClient(app)
    _with_devices(app, "alumni", 2)
    _with_devices(app, "student", 1)
    response = staff.post("/console/broadcast", {"audience": "role:alumni", "title": "Alumni veče",
                                                 "body": "U petak u 19h."})
    assert response.status_code == 302
    [notification] = _notifications(app)
    assert response.headers["Location"] == f"/console/broadcast/{notification.id}"
    assert notification.recipient_count == 2 and notification.texts["sr-Latn"]["title"] == "Alumni veče"
    status = staff.get(response.headers["Location"])
    assert status.status_code == 200
    html = page_text(status)
    if "Slanje je završeno" in html:  # inline: may already be done; RQ (no worker here): still pending
        assert 'http-equiv="refresh"' not in html
    else:
        assert '<meta http-equiv="refresh" content="2">' in html
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast_send")).all()
        assert entry.details["recipients"] == 2 and entry.details["audience"] == {"role": "alumni"}
    assert "Alumni veče" in page_text(staff.get("/console/broadcast"))


def test_the_progress_of_something_that_is_not_a_broadcast_is_404(embedded_app):
    staff = ConsoleClient(embedded_app)
    with embedded_app.app_context():
        personal = Notification(category="comment", source="comment:1", texts={"sr-Latn": {"title": "t", "body": "b"}})
        db.session.add(personal)
        db.session.commit()
        personal_id = personal.id
    assert staff.get(f"/console/broadcast/{personal_id}").status_code == 404
    assert staff.get("/console/broadcast/424242").status_code == 404


def test_broadcasts_refused_without_csrf_token_send_nothing(embedded_app):
    staff = ConsoleClient(embedded_app)
    _with_devices(embedded_app, "student", 1)
    data = {"audience": "all", "title": "a", "body": "b"}
    assert staff.post("/console/broadcast", data, token=False).status_code == 400
    assert staff.post("/console/broadcast/dry-run", data, token=False).status_code == 400
    assert _notifications(embedded_app) == []
