"""The rest of an officer's tasks on the PostgreSQL + Redis stack, signed in with Google through the OIDC stub, jobs
run by the RQ worker: Ispiti (hide and show a period), Raspored (a changed room, confirmed, applied by the worker),
Isporuke (filter the log, open a delivery), Mreža (hide a person, merge two companies) — each seen in the API the
released app calls. (The core pages and the two imports have journeys of their own on this stack.)"""
import requests

from raf_network.courses.exam_import import exam_schedule_import
from tests.console.test_journeys import _work_off_the_queues
from tests.console.test_network import _companies, _directory
from tests.console.test_sign_in import _oidc_settings
from tests.console.test_timetable import NEW_ROOM, OLD_ROOM, _room_changed
from tests.console.uploads import timetable_load
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, job_add, profile_add
from tests.stubs.oidc import OidcStub
from tests.webhook.helpers import deliver, delta


def test_the_other_pages_on_postgres_and_redis(make_pg_app, live_server, browse, raspored_text, kol_nedelja_text,
                                               tmp_path):
    with OidcStub() as oidc:
        app = make_pg_app(JOBS_INLINE=False, **_oidc_settings(oidc))
        user_create(app, role="faculty_administrator", email=oidc.email)
        timetable_load(app, raspored_text)
        with app.app_context():
            exam_schedule_import(text=kol_nedelja_text, period="Kolokvijumska nedelja 1", year=2023, visible=True)
        _work_off_the_queues(app)
        student = bearer(app, user_create(app, role="student"))
        server = live_server(app)

        def api(path):
            return requests.get(server.url + path, headers=student, timeout=10).json()

        page = browse(server).page
        page.goto("/console/login")
        page.get_by_role("link", name="Prijava preko Google naloga").click()
        page.wait_for_url(server.url + "/console/")

        # Ispiti: hidden, the app's list is empty at once; shown again.
        assert [period["name"] for period in api("/api/examination-periods")] == ["Kolokvijumska nedelja 1"]
        page.get_by_role("link", name="Ispiti").click()
        page.get_by_role("button", name="Sakrij: Kolokvijumska nedelja 1").click()
        assert api("/api/examination-periods") == []
        page.get_by_role("button", name="Prikaži: Kolokvijumska nedelja 1").click()
        assert [period["name"] for period in api("/api/examination-periods")] == ["Kolokvijumska nedelja 1"]

        # Raspored: a changed room → the diff → confirmed → queued for the worker → applied.
        upload = tmp_path / "raspored-nova-sala.csv"
        upload.write_text(_room_changed(raspored_text), encoding="utf-8")
        page.get_by_role("link", name="Raspored").click()
        page.get_by_label("Datoteka (CSV)").set_input_files(str(upload))
        page.get_by_role("button", name="Proveri datoteku").click()
        assert NEW_ROOM in page.locator("#izmenjene").inner_text()
        page.get_by_role("button", name="Potvrdi uvoz").click()
        assert page.locator("#stanje-zadatka").get_attribute("data-state") == "queued"  # no worker yet
        assert NEW_ROOM not in {entry["classroom"] for entry in api("/api/course-schedule")}
        _work_off_the_queues(app)
        page.locator("#stanje-zadatka[data-state=done]").wait_for(timeout=30_000)
        rooms = {entry["classroom"] for entry in api("/api/course-schedule")}
        assert NEW_ROOM in rooms and OLD_ROOM in rooms

        # Isporuke: a delivery from the course service, found by its webhook-id, opened.
        delivered = deliver(app, delta(schedule=[]), webhook_id="msg_journey_pg")
        assert delivered.status_code == 200
        page.get_by_role("link", name="Isporuke").click()
        page.get_by_label("Webhook-id sadrži").fill("journey_pg")
        page.get_by_role("button", name="Filtriraj").click()
        assert page.locator("#ukupno").inner_text() == "1"
        page.get_by_role("link", name=f"Isporuka {delivered.get_json()['delivery']}").click()
        assert "msg_journey_pg" in page.inner_text("main")

        # Mreža: a person hidden, two companies merged — the app's directory and companies follow.
        jelena = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
        nordeus, duplicate = company_add(app, "Nordeus", portal_id=1), company_add(app, "Nordeus Beograd")
        job_add(app, jelena, nordeus)
        job_add(app, jelena, duplicate, source="self")
        assert _directory(app, server.url) == ["Jelena Zorić"]
        page.get_by_role("link", name="Mreža").click()
        page.get_by_role("button", name="Sakrij Jelena Zorić").click()
        assert _directory(app, server.url) == []
        page.get_by_role("link", name="Kompanije").click()
        page.get_by_label("Duplikat (briše se)").select_option(label=f"Nordeus Beograd (#{duplicate})")
        page.get_by_label("Spaja se u kompaniju").select_option(label=f"Nordeus (#{nordeus})")
        page.get_by_role("button", name="Spoji").click()
        assert _companies(app, server.url) == ["Nordeus"]
