"""An officer's working session in the browser, end to end, on each stack — and what every page owes a person:
labels on every field, the keyboard, phone width."""
from html.parser import HTMLParser

import pytest
import requests

from raf_network.jobs import AppWorker, queue_get, redis_connection
from raf_network.users.models import Device
from tests.console.conftest import PHONE, console_link
from tests.console.helpers import ConsoleClient, page_text
from tests.console.test_sign_in import _oidc_settings
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, profile_add
from tests.stubs.oidc import OidcStub

PAGES = ("/console/", "/console/posts", "/console/broadcast", "/console/exams", "/console/timetable", "/console/users",
         "/console/audit", "/console/deliveries", "/console/network", "/console/network/companies")


def _devices(app, user_ids):
    from raf_network.extensions import db

    with app.app_context():
        for user_id in user_ids:
            db.session.add(Device(user_id=user_id, token=f"journey-{user_id}-" + "x" * 20, platform="android"))
        db.session.commit()


def _work_off_the_queues(app):
    """What the `worker` process does: run every queued job (here, in this process, until the queues are empty)."""
    with app.app_context():
        AppWorker([queue_get(name) for name in ("notifications", "default")],
                  connection=redis_connection()).work(burst=True)


def test_an_officers_session_on_postgres_and_redis(make_pg_app, live_server, browse):
    """Google sign-in against the stub, a post found in GET /api/posts, a dry run, a broadcast pushed by the RQ
    worker and its progress page, a student disabled, all of it in the audit log."""
    with OidcStub() as oidc:
        app = make_pg_app(JOBS_INLINE=False, **_oidc_settings(oidc))
        user_create(app, role="faculty_administrator", email=oidc.email)
        students = [user_create(app, role="student", email=f"student{n}1021rn@raf.rs") for n in range(3)]
        _devices(app, students)
        server = live_server(app)
        page = browse(server).page
        page.goto("/console/login")
        page.get_by_role("link", name="Prijava preko Google naloga").click()
        page.wait_for_url(server.url + "/console/")

        page.get_by_role("link", name="Objave").click()
        page.get_by_label("Naslov").fill("Ispitni rok")
        page.get_by_label("Tekst").fill("Prijava ispita je otvorena.")
        page.get_by_role("button", name="Objavi").click()
        feed = requests.get(server.url + "/api/posts", headers=bearer(app, students[0]), timeout=10).json()
        assert [post["title"] for post in feed] == ["Ispitni rok"]

        page.get_by_role("link", name="Obaveštenja").click()
        page.get_by_label("Kome").select_option(label="Studenti")
        page.get_by_label("Naslov").fill("Sala 1")
        page.get_by_label("Tekst").fill("Danas u sali 1.")
        page.get_by_role("button", name="Proveri domet").click()
        assert (page.locator("#domet-osobe").inner_text(), page.locator("#domet-telefoni").inner_text()) == ("3", "3")
        page.get_by_role("button", name="Pošalji").click()
        assert page.get_by_role("heading", name="Slanje je u toku…").is_visible()  # queued; no worker yet
        _work_off_the_queues(app)
        page.get_by_role("heading", name="Slanje je završeno").wait_for(timeout=30_000)  # the page refreshed itself
        assert page.locator("#poslato").inner_text() == "3"

        page.get_by_role("link", name="Korisnici").click()
        page.get_by_label("Pretraga (e-adresa ili ime)").fill("student01021rn")
        page.get_by_role("button", name="Traži").click()
        page.get_by_role("button", name="Onemogući student01021rn@raf.rs").click()
        assert "onemogućen" in page.inner_text("main")
        assert requests.get(server.url + "/api/me", headers=bearer(app, students[0]), timeout=10).status_code == 401

        page.get_by_role("link", name="Dnevnik").click()
        actions = page.locator("td[data-label=Radnja]").all_inner_texts()
        assert actions == ["onemogućen nalog", "slanje obaveštenja", "provera dometa obaveštenja", "nova objava",
                           "prijava"]


class _Fields(HTMLParser):
    """Form controls a person fills in, and the labels that name them."""

    def __init__(self):
        super().__init__()
        self.controls, self.labelled, self.label_depth = [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if attrs.get("for"):
                self.labelled.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append((attrs.get("id") or attrs.get("name"), attrs.get("id"), self.label_depth > 0))

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def test_every_field_on_every_page_has_a_label(embedded_app):
    staff = ConsoleClient(embedded_app, role="admin")
    user_create(embedded_app, role="student")
    staff.post("/console/posts", {"title": "Objava", "text": "Tekst"})
    profile_add(embedded_app, first_name="Uvezena", last_name="Osoba", portal_id=1)  # its account-link field
    company_add(embedded_app, "Firma")  # its rename field
    seen = 0
    for path in PAGES + ("/console/login",):
        fields = _Fields()
        fields.feed(page_text(staff.get(path)))
        for name, control_id, wrapped in fields.controls:
            assert wrapped or control_id in fields.labelled, f"{path}: {name} has no <label>"
            seen += 1
    assert seen >= 8


def test_the_keyboard_reaches_and_submits_the_forms(staff_page):
    page = staff_page.page
    page.goto("/console/posts")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Preskoči na sadržaj"
    page.get_by_label("Naslov").focus()
    page.keyboard.type("Sa tastature")
    page.keyboard.press("Tab")
    page.keyboard.type("Bez miša.")
    page.keyboard.press("Tab")   # the push checkbox
    page.keyboard.press("Tab")   # Objavi
    assert page.evaluate("document.activeElement.textContent") == "Objavi"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Sa tastature").wait_for()


@pytest.mark.parametrize("path", PAGES)
def test_pages_fit_a_phone(staff_page, browse, path):
    phone = browse(staff_page.server, viewport=PHONE)
    phone.page.goto(console_link(staff_page.server.app, "referent@raf.rs"))
    phone.page.goto(path)
    width = phone.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways at {PHONE['width']} px: {width}"
