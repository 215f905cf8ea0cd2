"""``make screenshots``: every console page at desktop and phone width, as PNGs in ``docs/console/``.

The embedded default on a throw-away SQLite database, seeded with the project's demo data set (never RAF's real
files) and a few made-up accounts, posts and a broadcast; served on 127.0.0.1, signed in through a one-time link,
photographed by Debian's chromium. Pages added to the console's navigation (``console.NAV``) are photographed as
soon as their endpoint exists.

    python -m tests.console.screenshots [OUTPUT_DIR]
"""
import os
import sys
import tempfile
from pathlib import Path

from tests.console.conftest import CHROMIUM, DESKTOP, PHONE, LiveServer, console_link

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def _app(workdir):
    from tests.conftest import _make_app, _migrate

    url = f"sqlite:///{workdir / 'screenshots.db'}"
    _migrate(url)
    return _make_app(url, redis_url=None, SEED_DATA_DIR=str(workdir / "no-real-data"), RATELIMIT_ENABLED=False)


def _world(app):
    """Demo data: the demo catalogue, the demo network, officers, students with phones, alumni, posts with comments,
    a broadcast, webhook deliveries (one failed, one rejected), a finished portal import."""
    from raf_network.courses.seed import seed_run
    from raf_network.extensions import db
    from raf_network.network.demo import network_demo_seed
    from raf_network.network.posts import comment_create, post_create
    from raf_network.notifications.broadcasts import broadcast_create
    from raf_network.users.models import Device, User

    with app.app_context():
        seed_run()
        network_demo_seed()  # before anyone writes: it fills only an empty network
        people = [("ana.jovanovic@raf.rs", "faculty_administrator", "Ana", "Jovanović"),
                  ("admin@raf.rs", "admin", "Marko", "Petrović"),
                  ("jpetrovic0121rn@raf.rs", "student", "Jovana", "Petrović"),
                  ("nnikolic1522ri@raf.rs", "student", "Nikola", "Nikolić"),
                  ("milica@example.com", "alumni", "Milica", "Ilić")]
        users = {}
        for email, role, first, last in people:
            users[email] = User(email=email, role=role, first_name=first, last_name=last, links=[],
                                role_set_by_admin=True)
            db.session.add(users[email])
        db.session.flush()
        for number, email in enumerate(("jpetrovic0121rn@raf.rs", "nnikolic1522ri@raf.rs", "milica@example.com")):
            db.session.add(Device(user_id=users[email].id, token=f"demo-device-{number}-" + "x" * 20,
                                  platform="android"))
        db.session.commit()
        officer, alumna = users["ana.jovanovic@raf.rs"], users["milica@example.com"]
        post = post_create(user=officer, title="Upis u zimski semestar",
                           text="Upis traje do 15. oktobra. Potrebna dokumenta predajte u studentskoj službi.")
        post_create(user=alumna, title="Praksa u našoj firmi", text="Tražimo dva studenta za letnju praksu.")
        comment_create(user=users["jpetrovic0121rn@raf.rs"], post_id=post.id, text="Hvala na obaveštenju!")
        broadcast_create(sender_id=officer.id, title="Promena sale", body="Predavanje iz Demo kursa je u sali 1.",
                         audience={"role": "student"})
        _history(officer.id)
        _uploads(officer)
    return "ana.jovanovic@raf.rs"


def _uploads(officer):
    """A hidden exam period beside the demo one, and an exam schedule and a timetable checked but not confirmed
    (Ispiti and Raspored list them)."""
    from datetime import date

    from raf_network.console.pages.exams import match_table
    from raf_network.console.tasks import task_plan
    from raf_network.courses.exam_import import exam_schedule_import
    from raf_network.courses.seed import demo_exams_csv, demo_timetable_csv
    from raf_network.courses.timetable import timetable_dry_run

    year, exams = demo_exams_csv(today=date.today())
    exam_schedule_import(text=exams.replace("9-12", "13-16"), period="DEMO — popravni rok", year=year,
                         visible=False)
    report = exam_schedule_import(text=exams + "DEMO Nepoznat predmet;Demo Nastavnik E;Demo sala 3;9-12;Petak;"
                                               "04.02.;demo\n", period="DEMO — februarski rok", year=year,
                                  dry_run=True)
    task_plan(kind="exam_import", label="februar.csv → DEMO — februarski rok", created_by=officer,
              params={"period": report.period, "year": year}, input_text=exams, plan=match_table(report))
    timetable = demo_timetable_csv().replace("Demo sala 1", "Demo sala 7", 1)
    plan = {**timetable_dry_run(text=timetable).to_json(), "audience": 0}
    task_plan(kind="timetable_import", label="raspored-nova-sala.csv → raspored", created_by=officer,
              input_text=timetable, plan=plan)


def _history(sender_id):
    """Made-up past pushes for the chart, and a delivery from the course service."""
    from datetime import datetime, timedelta, timezone

    from raf_network.console.models import ConsoleTask
    from raf_network.extensions import db
    from raf_network.notifications.models import Notification
    from raf_network.webhook.models import WebhookDelivery

    now = datetime.now(timezone.utc)
    for days_ago, sent, failed, pruned in ((1, 412, 3, 5), (2, 380, 0, 2), (4, 950, 12, 9), (7, 120, 1, 0),
                                           (9, 610, 4, 3), (12, 300, 0, 1)):
        db.session.add(Notification(category="announcement", source=f"broadcast:demo-{days_ago}",
                                    texts={"sr-Latn": {"title": "Demo obaveštenje", "body": "…"}},
                                    created_by_id=sender_id, created_at=now - timedelta(days=days_ago),
                                    recipient_count=sent, sent_count=sent, failed_count=failed,
                                    invalid_token_count=pruned, pushed_at=now - timedelta(days=days_ago)))
    db.session.add(WebhookDelivery(webhook_id="msg_demo", signature="valid", type="courses.delta", status="applied",
                                   http_status=200, created_count=2, updated_count=5, removed_count=1,
                                   raw_body=b"{}", received_at=now - timedelta(hours=3)))
    db.session.add(WebhookDelivery(
        webhook_id="msg_demo_failed", signature="valid", type="courses.delta", status="failed", http_status=500,
        raw_body=b'{"type": "courses.delta", "data": {"schedule": []}}', received_at=now - timedelta(hours=2),
        error={"message": "OperationalError: database is locked"}))
    db.session.add(WebhookDelivery(
        webhook_id="msg_demo_rejected", signature="valid", type="courses.snapshot", status="rejected",
        http_status=422, raw_body=b'{"type": "courses.snapshot"}', received_at=now - timedelta(hours=1),
        error={"message": "the payload is invalid; nothing was written",
               "errors": {"data.schedule[17].start": ["Not a valid time (HH:MM)."]}}))
    db.session.add(ConsoleTask(
        kind="portal_import", label="Uvoz sa alumni portala", state="done", created_by_id=sender_id,
        progress_done=412, progress_total=412, finished_at=now - timedelta(days=1),
        result={"summary": [["Preuzeto", 412], ["Osobe", "dodato 3, izmenjeno 17"]], "notes": []}))
    db.session.commit()


def screenshots_take(output):
    from playwright.sync_api import sync_playwright

    from raf_network.console import NAV

    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="raf-screens-") as workdir:
        app = _app(Path(workdir))
        email = _world(app)
        server = LiveServer(app)
        try:
            with app.test_request_context():
                from flask import url_for

                pages = [("login", "/console/login")] + [
                    (endpoint.removeprefix("console."), url_for(endpoint)) for _, endpoint in NAV
                    if endpoint in app.view_functions]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                for width, viewport in WIDTHS.items():
                    context = browser.new_context(base_url=server.url, viewport=viewport)
                    page = context.new_page()
                    page.goto("/console/login")
                    page.screenshot(path=str(output / f"login-{width}.png"), full_page=True)
                    page.goto(console_link(app, email))
                    for name, path in pages[1:]:
                        page.goto(path)
                        page.screenshot(path=str(output / f"{name}-{width}.png"), full_page=True)
                        print(f"{output / f'{name}-{width}.png'}")
                    context.close()
                browser.close()
        finally:
            server.close()


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    screenshots_take(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "console"))
