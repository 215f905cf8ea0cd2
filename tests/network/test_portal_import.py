"""``flask network import-portal`` end to end against a local portal stub, on SQLite and on PostgreSQL + Redis:
what it writes, the report, idempotence, a person's own edits, failures, pictures, and its statement count."""
import io
import socket
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

from raf_network.extensions import db
from raf_network.network.models import (
    AcademicDegree,
    AcademicHistory,
    Company,
    EmploymentHistory,
    Media,
    Profile,
)
from tests.conftest import count_queries
from tests.stubs.alumni_portal import AlumniPortalStub, alumnus, picture_bytes, portal_generate, study

NETWORK_TABLES = (Media, Company, AcademicDegree, Profile, AcademicHistory, EmploymentHistory)
PHOTO = picture_bytes(1, size=(900, 1200))  # EXIF with a GPS position; larger than 512×512


def _people():
    return {
        1: alumnus("Jelena", "Zorić", biography="Инжењерка софтвера, воли алгоритме.",
                   linkedin="https://www.linkedin.com/in/jelena-zoric/", picture="jelena.jpg",
                   studies={"osnovne": study(programme_id=1, enrolment_year=2012, graduated_on="2016-07-05",
                                             index="RN 12/2012", thesis="Primena grafova u logistici",
                                             mentor="dr Marko Marković",
                                             commission="dr Marko Marković, dr Ana Anić, prof. dr Petar Petrović"),
                            "master": study(programme_id="5", enrolment_year=None, graduated_on="2017-09-20",
                                            index="M 3/2016")},
                   jobs=[(1, "Software Engineer", "Окотобар 2019", "Тренутно"),
                         ("2", "Програмер", "Mart 2018.", "Sep 2019"),
                         (99, "Ghost", "2018", "2019")]),
        2: alumnus("Marko", "Marković", biography=None, linkedin="rs.linkedin.com/in/marko-markovic",
                   studies={"osnovne": study(programme_id=3, enrolment_year="2010", graduated_on="2013-10-01",
                                             index=1234)},
                   jobs=[(1, None, "Јануар2016", "blabla")]),
        3: alumnus("Ana", "Anić", linkedin="https://facebook.com/ana.anic", picture="ana.jpg",
                   studies={"doktorske": study(programme_id=8, enrolment_year=None, graduated_on=None)}),
    }


@pytest.fixture
def portal():
    companies = [{"id": 1, "naziv": "Nordeus"}, {"id": "2", "naziv": "HTEC Group"}, {"id": 3, "naziv": "Endava"}]
    # Ana's picture is the same file as Jelena's: stored once.
    with AlumniPortalStub(people=_people(), companies=companies,
                          pictures={"jelena.jpg": PHOTO, "ana.jpg": PHOTO}) as stub:
        yield stub


def _import(runner, url):
    return runner.invoke(args=["network", "import-portal", url])


def _snapshot(app):
    """Every network row, every column: what a second import must leave exactly as it was."""
    def rows(model):
        statement = select(model).order_by(*model.__table__.primary_key)
        return [tuple(getattr(row, column.key) for column in model.__table__.columns)
                for row in db.session.scalars(statement)]

    with app.app_context():
        return {model.__tablename__: rows(model) for model in NETWORK_TABLES}


def _profile(portal_id):
    return db.session.scalar(select(Profile).where(Profile.portal_id == portal_id))


def test_the_import_writes_people_companies_degrees_and_histories(app, runner, portal):
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    for line in ("3 listed, 3 fetched, 0 failed", "people: 3 created, 0 updated", "companies: 3 created",
                 "degrees: 3 created", "academic histories: 3 created, 0 updated, 0 removed",
                 "employment histories: 3 created, 0 updated, 0 removed", "pictures stored: 1",
                 "unreadable dates: 1", "#2 Marko Marković, zaposlenja[0].kraj: 'blabla'",
                 "#1: zaposlenja[2]: unknown company 99", "#3: linkedin:", "#3: studije.doktorske: neither"):
        assert line in result.stdout
    with app.app_context():
        jelena, marko, ana = _profile(1), _profile(2), _profile(3)
        assert (jelena.first_name, jelena.last_name, jelena.biography) == (
            "Jelena", "Zorić", "Инжењерка софтвера, воли алгоритме.")
        assert (jelena.social_id_1, marko.social_id_1, ana.social_id_1) == ("jelena-zoric", "marko-markovic", None)
        assert marko.biography == "" and marko.picture_key is None
        assert jelena.picture_key == ana.picture_key is not None
        assert jelena.visible and jelena.edited_fields == [] and jelena.user_id is None

        companies = {company.portal_id: company.name for company in db.session.scalars(select(Company))}
        assert companies == {1: "Nordeus", 2: "HTEC Group", 3: "Endava"}

        history = {(row.profile_id, row.kind): row for row in db.session.scalars(select(AcademicHistory))}
        basic = history[(jelena.id, "osnovne")]
        assert (basic.student_number, basic.start_date, basic.end_date) == ("RN 12/2012", date(2012, 10, 1),
                                                                            date(2016, 7, 5))
        assert (basic.thesis_title, basic.thesis_date, basic.thesis_grade, basic.mentor) == (
            "Primena grafova u logistici", date(2016, 7, 5), None, "dr Marko Marković")
        assert basic.commission == ["dr Marko Marković", "dr Ana Anić", "prof. dr Petar Petrović"]
        master = history[(jelena.id, "master")]
        # No enrolment year: one year (60 ECTS) before graduating in September 2017.
        assert (master.start_date, master.thesis_title, master.thesis_date, master.commission) == (
            date(2016, 10, 1), None, None, [])
        marko_basic = history[(marko.id, "osnovne")]
        assert (marko_basic.student_number, marko_basic.start_date) == ("1234", date(2010, 10, 1))
        assert (ana.id, "doktorske") not in history

        degrees = {degree.id: degree for degree in db.session.scalars(select(AcademicDegree))}
        assert (degrees[basic.degree_id].name, degrees[basic.degree_id].title, degrees[basic.degree_id].level_id) == (
            "Računarske nauke", "Дипломирани инжењер рачунарства", 109)
        assert (degrees[master.degree_id].level_id, degrees[marko_basic.degree_id].level_id) == (110, 108)

        jobs = db.session.execute(
            select(Profile.portal_id, Company.name, EmploymentHistory.role, EmploymentHistory.description,
                   EmploymentHistory.start_date, EmploymentHistory.end_date, EmploymentHistory.source)
            .join(Profile, Profile.id == EmploymentHistory.profile_id)
            .join(Company, Company.id == EmploymentHistory.company_id).order_by(EmploymentHistory.id)).all()
        assert sorted(map(tuple, jobs)) == [
            (1, "HTEC Group", "Програмер", "", date(2018, 3, 1), date(2019, 9, 1), "portal"),
            (1, "Nordeus", "Software Engineer", "", date(2019, 10, 1), None, "portal"),
            (2, "Nordeus", "", "", date(2016, 1, 1), None, "portal"),
        ]


def test_importing_again_changes_nothing(app, runner, portal):
    assert _import(runner, portal.url).exit_code == 0
    before = _snapshot(app)
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    for line in ("people: 0 created, 0 updated", "companies: 0 created, 0 updated", "degrees: 0 created, 0 updated",
                 "academic histories: 0 created, 0 updated, 0 removed",
                 "employment histories: 0 created, 0 updated, 0 removed", "pictures stored: 0"):
        assert line in result.stdout
    assert _snapshot(app) == before


def test_a_change_on_the_portal_updates_only_that_person(app, runner, portal):
    assert _import(runner, portal.url).exit_code == 0
    before = _snapshot(app)
    portal.people[2]["biografija"] = "Нова биографија."
    portal.people[2]["zaposlenja"][0]["kraj"] = "Maj 2022"
    portal.people[2]["studije"]["osnovne"]["tema_rada"] = "Kompajleri"
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    for line in ("people: 0 created, 1 updated", "academic histories: 0 created, 1 updated, 0 removed",
                 "employment histories: 0 created, 1 updated, 0 removed", "unreadable dates: 0"):
        assert line in result.stdout
    after = _snapshot(app)
    with app.app_context():
        marko = _profile(2)
        assert marko.biography == "Нова биографија."
        job = db.session.scalar(select(EmploymentHistory).where(EmploymentHistory.profile_id == marko.id))
        assert job.end_date == date(2022, 5, 1)
    changed = {table: [row for row in rows if row not in before[table]] for table, rows in after.items()}
    assert [row[0] for row in changed["network_profile"]] == [marko.id]
    assert [row[1] for row in changed["network_academic_history"]] == [marko.id]
    assert [row[1] for row in changed["network_employment"]] == [marko.id]
    assert changed["network_company"] == changed["network_degree"] == changed["media"] == []


def test_own_edits_and_own_employment_are_kept(app, runner, portal):
    assert _import(runner, portal.url).exit_code == 0
    with app.app_context():
        jelena = _profile(1)
        jelena.biography, jelena.picture_key, jelena.visible = "Moja biografija.", None, False
        jelena.edited_fields = ["biography", "picture", "visible"]
        own = EmploymentHistory(profile_id=jelena.id, company_id=db.session.scalar(
            select(Company.id).where(Company.portal_id == 3)), role="Mentorka", source="self",
            start_date=date(2021, 1, 1))
        db.session.add(own)
        db.session.commit()
        own_row = (own.id, own.company_id, own.role, own.start_date, own.end_date, own.source)
    portal.people[1].update(biografija="Portal biography", ime="Jelena M.",
                            linkedin="https://www.linkedin.com/in/jelena-m/")
    portal.people[1]["zaposlenja"] = [{"kompanija_id": 3, "radno_mesto": "Architect", "pocetak": "2022",
                                       "kraj": None}]
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    assert "employment histories: 0 created, 1 updated, 1 removed" in result.stdout
    with app.app_context():
        jelena = _profile(1)
        # The person's own values stay; what the person did not edit follows the portal.
        assert (jelena.biography, jelena.picture_key, jelena.visible) == ("Moja biografija.", None, False)
        assert (jelena.first_name, jelena.social_id_1) == ("Jelena M.", "jelena-m")
        rows = db.session.scalars(select(EmploymentHistory).where(EmploymentHistory.profile_id == jelena.id)
                                  .order_by(EmploymentHistory.id)).all()
        assert [(row.role, row.source, row.start_date) for row in rows if row.source == "portal"] == [
            ("Architect", "portal", date(2022, 1, 1))]
        assert [(row.id, row.company_id, row.role, row.start_date, row.end_date, row.source)
                for row in rows if row.source == "self"] == [own_row]


def test_a_study_gone_from_the_portal_is_removed(app, runner, portal):
    assert _import(runner, portal.url).exit_code == 0
    portal.people[1]["studije"]["master"] = None
    result = _import(runner, portal.url)
    assert "academic histories: 0 created, 0 updated, 1 removed" in result.stdout
    with app.app_context():
        kinds = db.session.scalars(select(AcademicHistory.kind).where(AcademicHistory.profile_id == _profile(1).id))
        assert list(kinds) == ["osnovne"]


def test_a_failed_person_is_reported_and_the_rest_imported(app, runner, portal):
    portal.failures.update({2: "500", 3: "malformed"})
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    assert "3 listed, 1 fetched, 2 failed" in result.stdout
    assert "#2: HTTP 500" in result.stdout and "#3: the answer is not JSON" in result.stdout
    with app.app_context():
        assert list(db.session.scalars(select(Profile.portal_id))) == [1]
    portal.failures.clear()
    result = _import(runner, portal.url)  # the next run brings them in
    assert "people: 2 created, 0 updated" in result.stdout


@pytest.mark.parametrize("down", ["list", "smerovi", "kompanije", "nothing listens", "every person fails"])
def test_the_portal_unreachable_is_a_clear_error_and_nothing_is_written(app, runner, portal, down):
    url = portal.url
    if down == "nothing listens":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    elif down == "every person fails":
        portal.failures.update(dict.fromkeys(portal.people, "500"))
    else:
        portal.down.add(down)
    result = _import(runner, url)
    assert result.exit_code == 1
    assert "error: The alumni portal at http://127.0.0.1:" in result.stderr
    assert "nothing was imported" in result.stderr
    with app.app_context():
        assert all(db.session.scalar(select(func.count()).select_from(model)) == 0 for model in NETWORK_TABLES)


def test_pictures_are_stored_once_without_metadata_and_a_bad_one_is_reported(app, runner, portal):
    portal.people[2]["slika"] = "marko.svg"
    portal.pictures["marko.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    result = _import(runner, portal.url)
    assert result.exit_code == 0, result.output
    assert "pictures stored: 1" in result.stdout
    assert "#2: picture marko.svg: The file is not a picture" in result.stdout
    with app.app_context():
        media = db.session.scalars(select(Media)).one()
        stored = Image.open(io.BytesIO(media.data))
        assert (stored.format, media.content_type) == ("JPEG", "image/jpeg")
        assert max(stored.size) <= 512 and dict(stored.getexif()) == {}
        assert b"StubCamera" not in media.data
        assert _profile(1).picture_key == _profile(3).picture_key == media.key
        assert _profile(2).picture_key is None  # imported all the same, without a picture
        assert media.path == f"/media/{media.key}.jpg"


def test_a_picture_that_cannot_be_fetched_keeps_the_stored_one(app, runner, portal):
    assert _import(runner, portal.url).exit_code == 0
    with app.app_context():
        key = _profile(1).picture_key
    portal.down.add("slike")
    result = _import(runner, portal.url)
    assert "#1: picture jelena.jpg: HTTP 503" in result.stdout
    assert "people: 0 created, 0 updated" in result.stdout
    with app.app_context():
        assert _profile(1).picture_key == key


def _network_clear(app):
    with app.app_context():
        for model in reversed(NETWORK_TABLES):
            db.session.execute(delete(model))
        db.session.commit()


def test_the_statement_count_does_not_grow_with_the_number_of_people(app):
    """A first import and a re-import changing everyone cost the same statements for 10 people as for 60."""
    counts = []
    for people in (10, 60):
        _network_clear(app)
        with AlumniPortalStub(**portal_generate(people, seed=people, pictures=False)) as stub:
            with count_queries(app) as first:
                assert app.test_cli_runner().invoke(args=["network", "import-portal", stub.url]).exit_code == 0
            for portal_id, person in stub.people.items():
                person["biografija"] = f"Биографија {portal_id}"
                person["ime"] += " M." if portal_id % 2 else ""
                person["studije"]["osnovne"]["broj_indeksa"] = f"RN {portal_id}/2020"
                for job in person["zaposlenja"]:
                    job["radno_mesto"] = "Arhitekta"
            with count_queries(app) as again:
                result = app.test_cli_runner().invoke(args=["network", "import-portal", stub.url])
            assert f"people: 0 created, {people} updated" in result.stdout
            counts.append((len(first), len(again)))
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Profile)) == people
    assert counts[0] == counts[1], counts
    assert max(counts[0]) <= 20


def test_the_job_imports_from_the_url_alone(app, portal):
    from raf_network.jobs import enqueue
    from raf_network.network.portal_import import portal_import_job

    assert app.config["JOBS_INLINE"]  # the job runs here and now (as RQ would run it in the worker)
    with app.app_context():
        enqueue(portal_import_job, portal.url)
        assert sorted(db.session.scalars(select(Profile.portal_id))) == [1, 2, 3]


def test_an_address_that_is_not_a_url_is_a_clear_error(embedded_app):
    result = _import(embedded_app.test_cli_runner(), "alumni.raf.edu.rs")
    assert result.exit_code == 1
    assert "error: The alumni portal's address must be an http(s) URL, not 'alumni.raf.edu.rs'." in result.stderr
