"""Officers' care of the network's companies: search with job counts, rename, and merging a duplicate — every job
moves, the duplicate goes, in one transaction; refusals write nothing; a portal company's id moves with it so a
re-import keeps the people together."""
import pytest
from sqlalchemy import select

from raf_network.errors import Conflict, NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.network.companies import company_merge, company_rename, company_search
from raf_network.network.models import Company, EmploymentHistory
from raf_network.network.portal_import import portal_import
from tests.conftest import count_queries
from tests.factories import bearer, user_create
from tests.network.conftest import company_add, job_add, network_rows, profile_add, rows
from tests.stubs.alumni_portal import AlumniPortalStub, alumnus


def _companies(app):
    client = app.test_client()
    return [company["name"] for company in
            client.get("/api/companies", headers=bearer(app, user_create(app))).get_json()]


@pytest.fixture
def duplicates(app):
    """"HTEC Group" (imported) and "htec d.o.o." (entered by hand) with three people's jobs between them."""
    ana, marko, iva = (profile_add(app, first_name=name, last_name="Test", portal_id=number)
                       for number, name in enumerate(("Ana", "Marko", "Iva"), start=1))
    htec, duplicate = company_add(app, "HTEC Group", portal_id=2), company_add(app, "htec d.o.o.")
    job_add(app, ana, htec)
    job_add(app, marko, duplicate, source="self")
    job_add(app, iva, duplicate, source="self")
    job_add(app, iva, duplicate, role="Mentor", source="self")
    return app, {"htec": htec, "duplicate": duplicate, "ana": ana, "marko": marko, "iva": iva}


def test_companies_are_found_with_their_jobs_and_people_in_two_queries(duplicates):
    app, ids = duplicates
    company_add(app, "Nordeus")
    with app.app_context(), count_queries(app) as statements:
        rows_found, total = company_search(text="HTEC")
        assert [(company.name, jobs, people) for company, jobs, people in rows_found] == [
            ("htec d.o.o.", 3, 2), ("HTEC Group", 1, 1)]
        assert total == 2 and company_search(text="")[1] == 3
    company_add(app, "Čarobni Štapić")
    with app.app_context():  # beyond ASCII too (SQLite's own lower() folds ASCII only)
        assert [company.name for company, _jobs, _people in company_search(text="čarobni š")[0]] == ["Čarobni Štapić"]
    assert len(statements) == 4


def test_a_merge_moves_every_job_and_removes_the_duplicate(duplicates):
    app, ids = duplicates
    assert _companies(app) == ["htec d.o.o.", "HTEC Group"]  # now cached
    with app.test_request_context():
        source_name, target, moved = company_merge(source_id=ids["duplicate"], target_id=ids["htec"])
        assert (source_name, target.name, moved) == ("htec d.o.o.", "HTEC Group", 3)
    assert _companies(app) == ["HTEC Group"]
    assert rows(app, Company, Company.id == ids["duplicate"]) == 0
    assert rows(app, EmploymentHistory, EmploymentHistory.company_id == ids["htec"]) == 4
    client, headers = app.test_client(), bearer(app, user_create(app))
    people = client.get(f"/api/alumni-users?company={ids['htec']}", headers=headers).get_json()
    assert sorted(person["full_name"] for person in people) == ["Ana Test", "Iva Test", "Marko Test"]


@pytest.mark.parametrize("source, target, refusal, where", [
    ("htec", "htec", Conflict, "target"), ("htec", 999999, ValidationFailed, "target"),
    (999998, "htec", ValidationFailed, "source"),
])
def test_a_merge_into_itself_or_of_unknown_ids_writes_nothing(duplicates, source, target, refusal, where):
    app, ids = duplicates
    before = network_rows(app)
    with app.test_request_context():
        with pytest.raises(refusal) as raised:
            company_merge(source_id=ids.get(source, source), target_id=ids.get(target, target))
    assert where in raised.value.errors and raised.value.code == (409 if refusal is Conflict else 422)
    assert network_rows(app) == before


def test_two_portal_companies_are_not_merged_here(duplicates):
    app, ids = duplicates
    other = company_add(app, "HTEC", portal_id=9)
    before = network_rows(app)
    with app.test_request_context(), pytest.raises(Conflict, match="alumni portal"):
        company_merge(source_id=other, target_id=ids["htec"])
    assert network_rows(app) == before


def test_a_merged_portal_company_stays_merged_after_a_re_import(embedded_app):
    app = embedded_app
    person = alumnus("Jelena", "Zorić", jobs=[(1, "Programer", "2019", "Trenutno")])
    with AlumniPortalStub(people={7: person}, companies=[{"id": 1, "naziv": "Nordeus"}]) as portal:
        with app.app_context():
            portal_import(url=portal.url)
            imported = db.session.scalar(select(Company.id).where(Company.portal_id == 1))
        own = company_add(app, "Nordeus Beograd")
        with app.test_request_context():
            company_merge(source_id=imported, target_id=own)
        with app.app_context():
            assert db.session.get(Company, own).portal_id == 1
            report = portal_import(url=portal.url)
            assert report.companies.created == 0
            assert db.session.scalars(select(EmploymentHistory.company_id)).all() == [own]
    assert _companies(app) == ["Nordeus"]  # the portal's name came back with the import


def test_a_rename_shows_at_once_and_never_takes_another_companys_name(duplicates):
    app, ids = duplicates
    assert _companies(app) == ["htec d.o.o.", "HTEC Group"]
    with app.test_request_context():
        company, before = company_rename(company_id=ids["duplicate"], name="HTEC Beograd")
        assert (before, company.name) == ("htec d.o.o.", "HTEC Beograd")
    assert _companies(app) == ["HTEC Beograd", "HTEC Group"]
    unchanged = network_rows(app)
    with app.test_request_context():
        with pytest.raises(Conflict, match="merge"):
            company_rename(company_id=ids["duplicate"], name="htec GROUP")
        with pytest.raises(NotFound):
            company_rename(company_id=999999, name="Novo")
    assert network_rows(app) == unchanged
