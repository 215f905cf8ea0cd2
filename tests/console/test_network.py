"""Mreža: the network's people (hidden ones included) hidden and shown by an officer (a flag the person cannot undo), an
imported profile linked to an account, companies renamed and merged, and a portal import as a console task with
its progress and outcome — refusals that change nothing, constant queries, and the journeys in the browser
(embedded default; PostgreSQL + Redis with Google sign-in and the RQ worker)."""
import time

import pytest
import requests
from sqlalchemy import select

from raf_network.console.models import AuditEntry, ConsoleTask
from raf_network.extensions import db
from raf_network.network.models import Company, Profile
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.console.test_journeys import _work_off_the_queues
from tests.console.test_sign_in import _oidc_settings
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, job_add, network_rows, profile_add
from tests.stubs.alumni_portal import AlumniPortalStub, alumnus, study
from tests.stubs.oidc import OidcStub


def _audit(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.id)).all()


def _directory(app, base=None, path="/api/alumni-users"):
    headers = bearer(app, user_create(app, role="student"))
    items = (app.test_client().get(path, headers=headers).get_json() if base is None
             else requests.get(base + path, headers=headers, timeout=10).json())
    return [item["full_name"] if "full_name" in item else item["name"] for item in items]


def _companies(app, base=None):
    return _directory(app, base, "/api/companies")


def _portal():
    """Three alumni and two companies, one of them a job's."""
    people = {
        1: alumnus("Jelena", "Zorić", jobs=[(1, "Programerka", "Mart 2018.", "Trenutno")],
                   studies={"osnovne": study(programme_id=1, enrolment_year=2012, graduated_on="2016-07-05")}),
        2: alumnus("Marko", "Marković", jobs=[(2, "QA inženjer", "2019", "")]),
        3: alumnus("Ana", "Anić"),
    }
    return AlumniPortalStub(people=people, companies=[{"id": 1, "naziv": "Nordeus"}, {"id": 2, "naziv": "Endava"}])


def _task_finished(app, task_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            task = db.session.get(ConsoleTask, task_id)
            if task.state in ("done", "failed"):
                return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


# ---- people ---------------------------------------------------------------------------------------

def test_people_are_searched_and_filtered_hidden_ones_included(app):
    staff = ConsoleClient(app)
    profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    profile_add(app, first_name="Marko", last_name="<b>Marić</b>", portal_id=2, visible=False)
    html = page_text(staff.get("/console/network"))
    assert "Jelena Zorić" in html and "&lt;b&gt;Marić&lt;/b&gt;" in html and "<b>Marić" not in html
    hidden = page_text(staff.get("/console/network?visibility=hidden"))
    assert '<span id="ukupno">1</span>' in hidden and "Jelena" not in hidden
    assert "Jelena Zorić" in page_text(staff.get("/console/network?q=zor&visibility="))
    for query in ("visibility=all", "page=0", "q=" + "x" * 101, "company=1"):
        assert staff.get(f"/console/network?{query}").status_code == 422, query


def test_hiding_a_person_takes_them_out_of_the_directory_and_showing_brings_them_back(app):
    staff = ConsoleClient(app)
    jelena = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    profile_add(app, first_name="Marko", last_name="Marković", portal_id=2)
    assert _directory(app) == ["Jelena Zorić", "Marko Marković"]
    response = staff.post(f"/console/network/people/{jelena}/hide?q=o&page=1")
    assert response.status_code == 302 and response.headers["Location"] == "/console/network?q=o&page=1"
    assert _directory(app) == ["Marko Marković"]
    assert "Jelena Zorić je skriven(a) u imeniku." in staff.flashed("/console/network")
    assert staff.post(f"/console/network/people/{jelena}/show").status_code == 302
    assert _directory(app) == ["Jelena Zorić", "Marko Marković"]
    assert [entry.action for entry in _audit(app, "profile_hide") + _audit(app, "profile_show")] == [
        "profile_hide", "profile_show"]
    assert _audit(app, "profile_hide")[0].target == f"profile {jelena}"
    assert staff.post("/console/network/people/999999/hide").status_code == 404


def test_the_person_cannot_undo_an_officers_hiding_nor_an_officer_the_persons_own(app):
    staff = ConsoleClient(app)
    alumna = user_create(app, role="alumni")
    jelena = profile_add(app, first_name="Jelena", last_name="Zorić", user_id=alumna)
    own = {**bearer(app, alumna), "Content-Type": "application/json"}
    client = app.test_client()
    assert staff.post(f"/console/network/people/{jelena}/hide").status_code == 302
    assert "skriven(a) službeno" in page_text(staff.get("/console/network"))
    assert client.patch("/api/me/profile", json={"visible": True}, headers=own).status_code == 200
    assert _directory(app) == []  # the person's own "visible" does not lift an officer's hiding
    assert client.patch("/api/me/profile", json={"visible": False}, headers=own).status_code == 200
    assert staff.post(f"/console/network/people/{jelena}/show").status_code == 302
    assert "i dalje skriven(a) svojim izborom" in staff.flashed("/console/network")
    assert _directory(app) == []  # nor does an officer's showing override the person's own choice
    assert "skriven(a) svojim izborom" in page_text(staff.get("/console/network"))
    assert client.patch("/api/me/profile", json={"visible": True}, headers=own).status_code == 200
    assert _directory(app) == ["Jelena Zorić"]


def test_a_refused_csrf_token_changes_nothing(embedded_app):
    staff = ConsoleClient(embedded_app)
    jelena = profile_add(embedded_app, portal_id=1)
    company, other = company_add(embedded_app, "Nordeus"), company_add(embedded_app, "Endava")
    before = network_rows(embedded_app)
    for path, data in ((f"/console/network/people/{jelena}/hide", {}),
                       (f"/console/network/people/{jelena}/link", {"email": "x@example.com"}),
                       (f"/console/network/companies/{company}/rename", {"name": "Novo"}),
                       ("/console/network/companies/merge", {"source": company, "target": other}),
                       ("/console/network/import", {})):
        assert staff.post(path, data, token=False).status_code == 400, path
        assert staff.post(path, data, token="forged").status_code == 400, path
    assert network_rows(embedded_app) == before
    with embedded_app.app_context():
        assert db.session.scalar(select(ConsoleTask.id)) is None
        assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action != "sign_in")) is None


def test_an_account_is_linked_to_an_imported_profile(app):
    staff = ConsoleClient(app)
    imported = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    alumna = user_create(app, role="alumni", email="jelena@example.com")
    assert f'id="link-{imported}"' in page_text(staff.get("/console/network"))
    response = staff.post(f"/console/network/people/{imported}/link", {"email": " Jelena@Example.com "})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Profile, imported).user_id == alumna
    html = staff.flashed("/console/network")
    assert "Nalog jelena@example.com je povezan sa profilom Jelena Zorić" in html
    assert "jelena@example.com" in html and f'id="link-{imported}"' not in html
    [entry] = _audit(app, "profile_link")
    assert entry.details["email"] == "jelena@example.com" and entry.target == f"profile {imported}"


@pytest.mark.parametrize("email, status, text", [
    ("nije-adresa", 422, "Unesite ispravnu e-adresu."), ("", 422, "Unesite ispravnu e-adresu."),
    ("niko@example.com", 404, "no account with e-mail"),
])
def test_a_link_that_cannot_be_made_is_shown_at_the_person_and_writes_nothing(embedded_app, email, status, text):
    staff = ConsoleClient(embedded_app)
    imported = profile_add(embedded_app, first_name="Jelena", last_name="Zorić", portal_id=1)
    before = network_rows(embedded_app)
    response = staff.post(f"/console/network/people/{imported}/link", {"email": email})
    assert response.status_code == status
    html = page_text(response)
    assert f'id="link-{imported}-errors"' in html and text in html
    assert network_rows(embedded_app) == before and not _audit(embedded_app, "profile_link")


def test_a_profile_not_imported_cannot_be_linked(embedded_app):
    staff = ConsoleClient(embedded_app)
    user_create(embedded_app, role="alumni", email="ana@example.com")
    sample = profile_add(embedded_app, first_name="Demo", last_name="Primer", sample=True)
    assert f'id="link-{sample}"' not in page_text(staff.get("/console/network"))
    response = staff.post(f"/console/network/people/{sample}/link", {"email": "ana@example.com"})
    assert response.status_code == 422 and "only imported profiles can be linked" in page_text(response)


def test_the_people_page_costs_the_same_queries_for_3_or_30_people(app):
    staff = ConsoleClient(app)

    def queries():
        with count_queries(app) as statements:
            assert staff.get("/console/network?page_size=100").status_code == 200
        return len(statements)

    for number in range(3):
        profile_add(app, first_name=f"Osoba{number}", portal_id=number + 1, visible=number % 2 == 0)
    few = queries()
    for number in range(3, 30):
        profile_add(app, first_name=f"Osoba{number}", portal_id=number + 1,
                    user_id=user_create(app, role="alumni") if number % 3 == 0 else None)
    assert queries() == few


# ---- companies ------------------------------------------------------------------------------------

def test_a_company_is_renamed_and_the_app_shows_it(app):
    staff = ConsoleClient(app)
    nordeus, endava = company_add(app, "Nordeus"), company_add(app, "Endava")
    assert _companies(app) == ["Endava", "Nordeus"]
    assert staff.post(f"/console/network/companies/{nordeus}/rename?q=n", {"name": "  Nordeus d.o.o. "}) \
        .headers["Location"] == "/console/network/companies?q=n"
    assert _companies(app) == ["Endava", "Nordeus d.o.o."]
    assert _audit(app, "company_rename")[0].details == {"from": "Nordeus", "to": "Nordeus d.o.o."}
    before = network_rows(app)
    taken = staff.post(f"/console/network/companies/{nordeus}/rename", {"name": "ENDAVA"})
    assert taken.status_code == 409 and "merge the two instead" in page_text(taken)
    blank = staff.post(f"/console/network/companies/{nordeus}/rename", {"name": "   "})
    assert blank.status_code == 422 and "Polje ne sme biti prazno." in page_text(blank)
    assert f'id="name-{nordeus}-errors"' in page_text(blank)
    assert staff.post("/console/network/companies/999999/rename", {"name": "Novo"}).status_code == 404
    assert network_rows(app) == before and len(_audit(app, "company_rename")) == 1
    assert endava


def test_merging_a_duplicate_moves_its_jobs_and_the_app_lists_one_company(app):
    staff = ConsoleClient(app)
    jelena = profile_add(app, first_name="Jelena", portal_id=1)
    marko = profile_add(app, first_name="Marko", portal_id=2)
    htec, duplicate = company_add(app, "HTEC Group", portal_id=5), company_add(app, "htec")
    job_add(app, jelena, htec)
    job_add(app, marko, duplicate, source="self")
    assert _companies(app) == ["htec", "HTEC Group"]
    response = staff.post("/console/network/companies/merge", {"source": str(duplicate), "target": str(htec)})
    assert response.status_code == 302
    assert _companies(app) == ["HTEC Group"]
    assert len(_directory(app, path=f"/api/alumni-users?company={htec}")) == 2
    assert "„htec” je spojena u „HTEC Group” (premešteno zaposlenja: 1)" in staff.flashed(
        "/console/network/companies")
    [entry] = _audit(app, "company_merge")
    assert entry.details == {"source": "htec", "target": "HTEC Group", "jobs": 1}


@pytest.mark.parametrize("source, target, status, text", [
    ("a", "a", 409, "cannot be merged into itself"), ("a", "999999", 422, "no company with id 999999"),
    ("", "a", 422, "Obavezno polje."), ("a", "x", 422, "Unesite ceo broj."),
])
def test_a_merge_that_cannot_be_made_is_refused_and_writes_nothing(embedded_app, source, target, status, text):
    staff = ConsoleClient(embedded_app)
    ids = {"a": str(company_add(embedded_app, "Nordeus"))}
    company_add(embedded_app, "Endava")
    before = network_rows(embedded_app)
    response = staff.post("/console/network/companies/merge",
                          {"source": ids.get(source, source), "target": ids.get(target, target)})
    assert response.status_code == status and text in page_text(response)
    assert network_rows(embedded_app) == before and not _audit(embedded_app, "company_merge")


def test_the_companies_page_costs_the_same_queries_for_3_or_30_companies(app):
    staff = ConsoleClient(app)
    person = profile_add(app, portal_id=1)

    def queries():
        with count_queries(app) as statements:
            assert staff.get("/console/network/companies?page_size=100").status_code == 200
        return len(statements)

    for number in range(3):
        job_add(app, person, company_add(app, f"Firma {number}"))
    few = queries()
    for number in range(3, 30):
        job_add(app, person, company_add(app, f"Firma {number}", portal_id=number))
    assert queries() == few


# ---- the portal import ---------------------------------------------------------------------------

def test_a_portal_import_runs_as_a_task_and_its_page_shows_the_counts(embedded_app):
    app = embedded_app
    staff = ConsoleClient(app)
    with _portal() as portal:
        app.config["ALUMNI_PORTAL_URL"] = portal.url
        response = staff.post("/console/network/import")
        assert response.status_code == 302 and response.headers["Location"].startswith("/console/tasks/")
        task = _task_finished(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert task.state == "done", task.error
    assert (task.progress_done, task.progress_total) == (3, 3)
    summary = dict(task.result["summary"])
    assert summary["Preuzeto"] == 3 and summary["Osobe"] == "dodato 3, izmenjeno 0"
    assert summary["Zaposlenja"] == "dodato 2, izmenjeno 0, uklonjeno 0"
    html = page_text(staff.get(f"/console/tasks/{task.id}"))
    assert "Završeno" in html and "dodato 3, izmenjeno 0" in html and "Nazad" in html
    assert 'href="/console/network"' in html
    assert _directory(app) == ["Ana Anić", "Jelena Zorić", "Marko Marković"]
    [entry] = _audit(app, "portal_import_start")
    assert entry.target == f"task {task.id}" and entry.details == {"url": portal.url}


def test_an_unreadable_portal_fails_the_task_with_its_message(embedded_app):
    app = embedded_app
    staff = ConsoleClient(app)
    with _portal() as portal:
        portal.down.add("list")
        app.config["ALUMNI_PORTAL_URL"] = portal.url
        before = network_rows(app)
        response = staff.post("/console/network/import")
        task = _task_finished(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert task.state == "failed" and portal.url in task.error
    assert network_rows(app) == before
    html = page_text(staff.get(f"/console/tasks/{task.id}"))
    assert "Neuspelo" in html and 'id="greska"' in html


def test_a_second_import_is_refused_while_one_runs(embedded_app):
    app = embedded_app
    staff = ConsoleClient(app)
    with app.app_context():
        db.session.add(ConsoleTask(kind="portal_import", label="Uvoz sa alumni portala", state="running"))
        db.session.commit()
    response = staff.post("/console/network/import")
    assert response.status_code == 409 and "Uvoz sa portala je već u toku" in page_text(response)
    with app.app_context():
        assert len(db.session.scalars(select(ConsoleTask)).all()) == 1
    assert not _audit(app, "portal_import_start")


# ---- in the browser -------------------------------------------------------------------------------

def test_an_officer_hides_a_person_and_merges_two_companies(staff_page):
    app, page, base = staff_page.server.app, staff_page.page, staff_page.server.url
    jelena = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=1)
    marko = profile_add(app, first_name="Marko", last_name="Marković", portal_id=2)
    nordeus, duplicate = company_add(app, "Nordeus", portal_id=1), company_add(app, "Nordeus Beograd")
    job_add(app, jelena, nordeus)
    job_add(app, marko, duplicate, source="self")
    assert _directory(app, base) == ["Jelena Zorić", "Marko Marković"]
    page.get_by_role("link", name="Mreža").click()
    page.get_by_label("Pretraga (ime ili e-adresa naloga)").fill("zorić")
    page.get_by_role("button", name="Traži").click()
    page.get_by_role("button", name="Sakrij Jelena Zorić").click()
    assert "skriven(a) u imeniku" in page.inner_text(".messages")
    assert page.get_by_role("button", name="Prikaži Jelena Zorić").is_visible()
    assert _directory(app, base) == ["Marko Marković"]

    page.get_by_role("link", name="Kompanije").click()
    page.get_by_label("Duplikat (briše se)").select_option(label=f"Nordeus Beograd (#{duplicate})")
    page.get_by_label("Spaja se u kompaniju").select_option(label=f"Nordeus (#{nordeus})")
    page.get_by_role("button", name="Spoji").click()
    assert "je spojena u „Nordeus”" in page.inner_text(".messages")
    assert _companies(app, base) == ["Nordeus"]
    with app.app_context():
        assert db.session.get(Company, duplicate) is None


def test_an_officer_starts_a_portal_import_and_watches_it_finish(staff_page):
    app, page = staff_page.server.app, staff_page.page
    with _portal() as portal:
        app.config["ALUMNI_PORTAL_URL"] = portal.url
        page.get_by_role("link", name="Mreža").click()
        page.get_by_role("button", name="Pokreni uvoz").click()
        page.wait_for_url("**/console/tasks/*")
        page.locator('#stanje-zadatka[data-state="done"]').wait_for(timeout=30_000)  # the page refreshed itself
    outcome = page.locator("#ishod").inner_text()
    assert "Osobe\tdodato 3, izmenjeno 0" in outcome and "Kompanije\tdodato 2, izmenjeno 0" in outcome
    page.get_by_role("link", name="← Nazad").click()
    assert page.locator("#ukupno").inner_text() == "3" and "završen" in page.locator("#uvozi").inner_text()


def test_a_portal_import_on_postgres_and_redis_through_the_worker(make_pg_app, live_server, browse):
    """Google sign-in against the stub; the import queued for the RQ worker, the task page waiting, then the
    worker's outcome on the same page as it refreshes itself; the people in GET /api/alumni-users."""
    with OidcStub() as oidc, _portal() as portal:
        app = make_pg_app(JOBS_INLINE=False, ALUMNI_PORTAL_URL=portal.url, **_oidc_settings(oidc))
        user_create(app, role="faculty_administrator", email=oidc.email)
        server = live_server(app)
        page = browse(server).page
        page.goto("/console/login")
        page.get_by_role("link", name="Prijava preko Google naloga").click()
        page.wait_for_url(server.url + "/console/")
        page.get_by_role("link", name="Mreža").click()
        page.get_by_role("button", name="Pokreni uvoz").click()
        page.wait_for_url("**/console/tasks/*")
        task_page = page.url
        assert page.locator("#stanje-zadatka").get_attribute("data-state") == "queued"  # no worker yet
        page.goto("/console/network")
        page.get_by_role("button", name="Pokreni uvoz").click()  # a second one while the first waits: refused
        assert "već u toku" in page.inner_text("main")
        page.goto(task_page)
        assert "Stranica se sama osvežava" in page.inner_text("main")
        assert not portal.requests  # the web requests only queued it: the portal has not been asked yet
        _work_off_the_queues(app)
        page.locator('#stanje-zadatka[data-state="done"]').wait_for(timeout=30_000)
        assert page.locator("progress").get_attribute("value") == "3"
        assert "Obrađeno: 3 / 3" in page.inner_text("main")
        assert "dodato 3, izmenjeno 0" in page.locator("#ishod").inner_text()
        assert _directory(app, server.url) == ["Ana Anić", "Jelena Zorić", "Marko Marković"]
        assert portal.requests["/rs/api/list"] == 1  # one import ran, by the worker


def test_only_an_admin_links_an_account_that_is_not_an_alumnus(embedded_app):
    """Linked, an account writes as that alumnus: a faculty administrator may link alumni accounts only (not their
    own staff account, not a student's); an admin (or an operator, flask network link) may link any."""
    officer, admin = ConsoleClient(embedded_app), ConsoleClient(embedded_app, role="admin")
    imported = profile_add(embedded_app, first_name="Jelena", last_name="Zorić", portal_id=1)
    student = user_create(embedded_app, role="student", email="jzoric1019rn@raf.rs")
    before = network_rows(embedded_app)
    for email in (officer.email, "jzoric1019rn@raf.rs"):
        response = officer.post(f"/console/network/people/{imported}/link", {"email": email})
        assert response.status_code == 403 and "Samo administrator" in page_text(response)
    assert network_rows(embedded_app) == before and not _audit(embedded_app, "profile_link")
    assert admin.post(f"/console/network/people/{imported}/link", {"email": "jzoric1019rn@raf.rs"}).status_code == 302
    with embedded_app.app_context():
        assert db.session.get(Profile, imported).user_id == student
