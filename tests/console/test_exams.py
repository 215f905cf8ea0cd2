"""Ispiti: periods (hidden ones too) with show/hide changing GET /api/examination-periods at once; an exam-schedule
upload → the match table (a dry run that writes nothing) → confirm (a job, once) or cancel; refusals (CSRF, bad
files, 404, 409); constant queries; the officer's journeys in the browser, on the embedded default and on
PostgreSQL + Redis with Google sign-in."""
import requests
from sqlalchemy import func, select

from raf_network.console.models import AuditEntry, ConsoleTask
from raf_network.courses.exam_import import exam_schedule_import
from raf_network.courses.models import ExamEntry, ExamPeriod
from raf_network.extensions import db
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.console.test_journeys import _work_off_the_queues
from tests.console.test_sign_in import _oidc_settings
from tests.console.uploads import planned_task_id, task_of, task_wait, tasks_count, timetable_load, upload
from tests.factories import bearer, user_create
from tests.stubs.oidc import OidcStub

PERIOD = "Kolokvijumska nedelja (konzola)"


def _options(**overrides):
    return {"period": PERIOD, "year": "2023", "visibility": "visible", **overrides}


def _periods(app):
    with app.app_context():
        return {period.name: period.visible for period in db.session.scalars(
            select(ExamPeriod).where(ExamPeriod.deleted_at.is_(None)))}


def _hidden_period(app):
    with app.app_context():
        exam_schedule_import(text="Diskretne strukture;N. N.;6;9-12;Subota;18.11.\n", period="Skriveni rok",
                             year=2023, visible=False)
        return db.session.scalar(select(ExamPeriod.id).where(ExamPeriod.name == "Skriveni rok"))


def _actions(app):
    with app.app_context():
        return [entry.action for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# --------------------------------------------------------------------------------------------------
# Periods: show / hide
# --------------------------------------------------------------------------------------------------

def test_the_page_lists_hidden_periods_and_showing_one_changes_the_api(embedded_app, raspored_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    period_id = _hidden_period(app)
    staff = ConsoleClient(app)
    student = bearer(app, user_create(app, role="student"))
    client = app.test_client()
    assert client.get("/api/examination-periods", headers=student).json == []  # cached now
    html = page_text(staff.get("/console/exams"))
    assert "Skriveni rok" in html and "skriven" in html and 'aria-label="Prikaži: Skriveni rok"' in html

    refused = staff.post(f"/console/exams/periods/{period_id}/show", token=False)
    assert refused.status_code == 400 and _periods(app) == {"Skriveni rok": False}
    assert staff.post(f"/console/exams/periods/{period_id}/show",
                      token=ConsoleClient(app).csrf_token()).status_code == 400  # another session's token
    assert _periods(app) == {"Skriveni rok": False}

    assert staff.post(f"/console/exams/periods/{period_id}/show").status_code == 302
    assert [p["name"] for p in client.get("/api/examination-periods", headers=student).json] == ["Skriveni rok"]
    assert "je vidljiv u aplikaciji" in staff.flashed("/console/exams")
    assert staff.post(f"/console/exams/periods/{period_id}/hide").status_code == 302
    assert client.get("/api/examination-periods", headers=student).json == []
    assert staff.post("/console/exams/periods/999999/hide").status_code == 404
    assert _actions(app)[-2:] == ["exam_period_show", "exam_period_hide"]


def test_the_periods_list_costs_the_same_whatever_their_number(embedded_app, raspored_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    costs = []
    for count in (1, 6):
        with app.app_context():
            for number in range(count):
                exam_schedule_import(text="Diskretne strukture;N. N.;6;9-12;Subota;18.11.\n",
                                     period=f"Rok {count}-{number}", year=2023, visible=number % 2 == 0)
        with count_queries(app) as statements:
            assert staff.get("/console/exams").status_code == 200
        costs.append(len(statements))
    assert costs[0] == costs[1], costs


# --------------------------------------------------------------------------------------------------
# Upload → match table → confirm / cancel
# --------------------------------------------------------------------------------------------------

def test_an_upload_shows_its_match_table_writes_nothing_and_imports_once_confirmed(app, raspored_text,
                                                                                   kol_nedelja_text):
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    response = upload(staff, "/console/exams/upload", kol_nedelja_text, name="kol_nedelja.csv", **_options())
    task_id = planned_task_id(response)
    assert PERIOD not in _periods(app)  # a dry run: nothing imported
    html = page_text(staff.get(f"/console/exams/uploads/{task_id}"))
    assert 'id="procitano">79<' in html and 'id="uvezeno">78<' in html
    assert "Englesk (MD)" in html and "dvosmislen" in html and "Engleski 1" in html  # its candidates
    assert "Računarska grafika" in html and "18.11.2023." in html
    task = task_of(app, task_id)
    assert task.state == "planned" and task.params["year"] == 2023 and task.params["visible"] is True

    refused = staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": task.input_sha256},
                         token=False)
    assert refused.status_code == 400 and task_of(app, task_id).state == "planned"
    other = staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": "0" * 64})
    assert other.status_code == 409 and task_of(app, task_id).state == "planned"

    confirmed = staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": task.input_sha256})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == f"/console/tasks/{task_id}"
    done = task_wait(app, task_id)
    assert done.state == "done", done.error
    assert ["Uvezeno ispita", 78] in done.result["summary"]
    assert any("Englesk (MD)" in note for note in done.result["notes"])
    again = staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": task.input_sha256})
    assert again.status_code == 409  # a double confirmation imports nothing more
    with app.app_context():
        period = db.session.scalar(select(ExamPeriod).where(ExamPeriod.name == PERIOD))
        assert period.visible and db.session.scalar(
            select(func.count()).select_from(ExamEntry).where(ExamEntry.period_id == period.id)) == 78
    html = page_text(staff.get(f"/console/tasks/{task_id}"))
    assert "Završeno" in html and "Uvezeno ispita" in html
    assert _actions(app)[-2:] == ["exam_import_dry_run", "exam_import_confirm"]


def test_a_cancelled_upload_imports_nothing(embedded_app, raspored_text, kol_nedelja_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    task_id = planned_task_id(upload(staff, "/console/exams/upload", kol_nedelja_text, **_options()))
    sha = task_of(app, task_id).input_sha256
    assert staff.post(f"/console/exams/uploads/{task_id}/cancel", token=False).status_code == 400
    assert staff.post(f"/console/exams/uploads/{task_id}/cancel").status_code == 302
    assert "otkazan" in staff.flashed("/console/exams")
    assert staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": sha}).status_code == 409
    assert staff.post(f"/console/exams/uploads/{task_id}/cancel").status_code == 409
    assert task_of(app, task_id).state == "cancelled" and PERIOD not in _periods(app)
    assert staff.get("/console/exams/uploads/999999").status_code == 404
    assert staff.post("/console/exams/uploads/999999/confirm", {"input_sha256": sha}).status_code == 404


def test_bad_uploads_are_422_with_their_reasons_and_store_nothing(embedded_app, raspored_text, kol_nedelja_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    cases = [
        (kol_nedelja_text.lstrip("\ufeff").encode("cp1250"), _options(), "UTF-8"),  # saved as Windows-1250
        ("Diskretne strukture;N. N.;6;9-12;Subota;31.02.\nX;;;\n", _options(), "line 1: impossible date"),
        (kol_nedelja_text, _options(period=""), "Naziv roka mora imati od 1 do 200 znakova."),
        (kol_nedelja_text, _options(year="dve hiljade"), "Unesite godinu"),
        (kol_nedelja_text, _options(start="2023-11-30", end="2023-11-01"), "before it starts"),
        (kol_nedelja_text, _options(strict="y"), "Englesk (MD)"),
        ("Nepostojeći predmet;N. N.;6;9-12;Subota;18.11.\n", _options(), "no row matched"),
    ]
    for content, options, reason in cases:
        response = upload(staff, "/console/exams/upload", content, **options)
        assert response.status_code == 422, reason
        assert reason in page_text(response), (reason, page_text(response)[:3000])
    no_file = staff.post("/console/exams/upload", _options(), content_type="multipart/form-data")
    assert no_file.status_code == 422 and "Izaberite datoteku." in page_text(no_file)
    refused = upload(staff, "/console/exams/upload", kol_nedelja_text, token=False, **_options())
    assert refused.status_code == 400
    assert tasks_count(app) == 0 and PERIOD not in _periods(app)


def test_the_dry_run_costs_the_same_whatever_the_size_of_the_file(embedded_app, raspored_text, kol_nedelja_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    lines = kol_nedelja_text.splitlines()
    costs = []
    for text in ("\n".join(lines[:10]), kol_nedelja_text):
        token = staff.csrf_token()
        with count_queries(app) as statements:
            planned_task_id(upload(staff, "/console/exams/upload", text, token=token,
                                   **_options(period=f"Rok {len(text)}")))
        costs.append(len(statements))
    assert costs[0] == costs[1], costs


# --------------------------------------------------------------------------------------------------
# In the browser
# --------------------------------------------------------------------------------------------------

def test_an_officer_hides_and_shows_a_period_and_imports_a_schedule(staff_page, raspored_text, kol_nedelja_text,
                                                                   shared_data):
    page, server = staff_page.page, staff_page.server
    app = server.app
    timetable_load(app, raspored_text)
    with app.app_context():
        exam_schedule_import(text=kol_nedelja_text, period="Kolokvijumska nedelja 1", year=2023, visible=True)
    student = bearer(app, user_create(app, role="student"))

    def api_periods():
        return [p["name"] for p in requests.get(server.url + "/api/examination-periods", headers=student,
                                                 timeout=10).json()]

    assert api_periods() == ["Kolokvijumska nedelja 1"]
    page.goto("/console/")
    page.get_by_role("link", name="Ispiti").click()
    page.get_by_role("button", name="Sakrij: Kolokvijumska nedelja 1").click()
    assert "je skriven" in page.inner_text("main")
    assert api_periods() == []
    page.get_by_role("button", name="Prikaži: Kolokvijumska nedelja 1").click()
    assert api_periods() == ["Kolokvijumska nedelja 1"]

    page.get_by_label("Datoteka (CSV)").set_input_files(str(shared_data / "kol_nedelja.csv"))
    page.get_by_label("Naziv ispitnog roka").fill("Januarski rok")
    page.get_by_label("Godina datuma (ako nije tekuća akademska)").fill("2023")
    page.get_by_label("Vidljivost").select_option(label="Vidljiv u aplikaciji")
    page.get_by_role("button", name="Proveri datoteku").click()
    assert page.locator("#uvezeno").inner_text() == "78"
    assert page.locator("#poklapanja tr[data-status=ambiguous]").count() == 1
    assert "Englesk (MD)" in page.locator("#poklapanja tr[data-status=ambiguous]").inner_text()
    assert "Januarski rok" not in api_periods()  # nothing written yet
    page.get_by_role("button", name="Potvrdi uvoz").click()
    page.locator("#stanje-zadatka[data-state=done]").wait_for(timeout=30_000)  # the page refreshes itself
    assert "78" in page.locator("#ishod").inner_text()
    periods = requests.get(server.url + "/api/examination-periods", headers=student, timeout=10).json()
    january = next(period for period in periods if period["name"] == "Januarski rok")
    exams = requests.get(server.url + f"/api/examination-entries?examination_period={january['id']}",
                         headers=student, timeout=10).json()
    assert len(exams) == 78


def test_an_exam_import_on_postgres_and_redis_runs_on_the_worker(make_pg_app, live_server, browse, raspored_text,
                                                                 shared_data):
    """Google sign-in through the stub, the upload and its match table, the confirmation queued for the RQ worker,
    the task page refreshing itself until the worker is done, the exams in the API."""
    with OidcStub() as oidc:
        app = make_pg_app(JOBS_INLINE=False, **_oidc_settings(oidc))
        user_create(app, role="faculty_administrator", email=oidc.email)
        timetable_load(app, raspored_text)
        _work_off_the_queues(app)  # the timetable's own notification job
        student = bearer(app, user_create(app, role="student"))
        server = live_server(app)
        page = browse(server).page
        page.goto("/console/login")
        page.get_by_role("link", name="Prijava preko Google naloga").click()
        page.wait_for_url(server.url + "/console/")

        page.get_by_role("link", name="Ispiti").click()
        page.get_by_label("Datoteka (CSV)").set_input_files(str(shared_data / "kol_nedelja.csv"))
        page.get_by_label("Naziv ispitnog roka").fill("Kolokvijumi")
        page.get_by_label("Godina datuma (ako nije tekuća akademska)").fill("2023")
        page.get_by_label("Vidljivost").select_option(label="Vidljiv u aplikaciji")
        page.get_by_role("button", name="Proveri datoteku").click()
        assert page.locator("#uvezeno").inner_text() == "78"
        page.get_by_role("button", name="Potvrdi uvoz").click()
        assert page.locator("#stanje-zadatka").get_attribute("data-state") == "queued"  # no worker yet
        _work_off_the_queues(app)
        page.locator("#stanje-zadatka[data-state=done]").wait_for(timeout=30_000)
        periods = requests.get(server.url + "/api/examination-periods", headers=student, timeout=10).json()
        assert [period["name"] for period in periods] == ["Kolokvijumi"]
        exams = requests.get(server.url + f"/api/examination-entries?examination_period={periods[0]['id']}",
                             headers=student, timeout=10).json()
        assert len(exams) == 78
        with app.app_context():
            assert db.session.scalar(select(ConsoleTask.state)) == "done"


def test_a_confirmation_applies_only_what_its_dry_run_showed(embedded_app, raspored_text, kol_nedelja_text):
    """The period was imported another way between the dry run and the confirmation: the job's plan is no longer
    the match table the officer confirmed, so it applies nothing."""
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    task_id = planned_task_id(upload(staff, "/console/exams/upload", kol_nedelja_text, **_options()))
    with app.app_context():  # e.g. an operator's flask import-exams of the same file meanwhile
        exam_schedule_import(text=kol_nedelja_text, period=PERIOD, year=2023, visible=True)
    staff.post(f"/console/exams/uploads/{task_id}/confirm", {"input_sha256": task_of(app, task_id).input_sha256})
    failed = task_wait(app, task_id)
    assert failed.state == "failed" and "changed since this file was checked" in failed.error
