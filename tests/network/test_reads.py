"""The released app's five network reads, on SQLite and on PostgreSQL + Redis: the contract's exact shapes, who is
listed and in which order, the company filter, unknown and bad parameters, sign-in, caching, and a constant number
of queries whatever the size."""
import json
from datetime import date

import pytest

from tests.conftest import count_queries
from tests.contract import shape_errors
from tests.factories import bearer, user_create
from tests.network.conftest import (
    company_add,
    image_bytes,
    job_add,
    post_add,
    profile_add,
    study_add,
)

READS = ("/api/posts", "/api/alumni-users", "/api/companies", "/api/academic-history?alumni_user=1",
         "/api/employment-history?alumni_user=1")


def _get(app, path, user_id=None, **headers):
    if user_id is None:
        user_id = user_create(app, role="student")
    return app.test_client().get(path, headers={**bearer(app, user_id), **headers})


def _names(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [person["full_name"] for person in response.get_json()]


def test_every_read_answers_the_contract_shapes(app):
    picture = image_bytes()
    alumnus = profile_add(app, first_name="Jelena", last_name="Zorić", portal_id=501, biography="Bio",
                          social_id_1="jelena-zoric", picture=picture)
    bare = profile_add(app, first_name="", last_name="", portal_id=502)  # no name, no picture, no biography
    company = company_add(app, "Severni Kod")
    job_add(app, alumnus, company, start=date(2019, 10, 1), end=None)
    job_add(app, alumnus, company, start=None, end=None, role="")
    study_add(app, alumnus, thesis_title="Rad o bazama", thesis_date=date(2016, 7, 1), grade=10)
    study_add(app, alumnus, kind="master", level_id=None, thesis_title=None, end=None)
    study_add(app, bare, thesis_title="Rad bez ocene", grade=None)
    post_add(app, alumnus, comments=[(bare, "Bravo"), (alumnus, "Hvala")])
    post_add(app, bare)
    expected = {
        "/api/posts": ("Post", 2), "/api/alumni-users": ("AlumniUser", 2),
        f"/api/alumni-users?company={company}": ("AlumniUser", 1), "/api/companies": ("Company", 1),
        f"/api/academic-history?alumni_user={alumnus}": ("AcademicHistory", 2),
        f"/api/academic-history?alumni_user={bare}": ("AcademicHistory", 1),
        f"/api/employment-history?alumni_user={alumnus}": ("EmploymentHistory", 2),
    }
    viewer = user_create(app, role="student")
    for path, (shape, length) in expected.items():
        response = _get(app, path, viewer)
        assert response.status_code == 200, path
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert isinstance(body, list) and len(body) == length, (path, body)
        assert [error for item in body for error in shape_errors(item, shape)] == [], path
    people = {person["id"]: person for person in _get(app, "/api/alumni-users", viewer).get_json()}
    assert people[bare] == {"id": bare, "full_name": f"RAF korisnik #{bare}", "biography": "",
                            "profile_picture": None, "social_id_1": None}
    assert people[alumnus]["profile_picture"].startswith("/media/")
    assert people[alumnus]["profile_picture"].endswith(".jpg")


def test_academic_history_fields_as_the_app_shows_them(app):
    person = profile_add(app, portal_id=1)
    study_add(app, person, level_id=110, start=date(2016, 10, 1), end=date(2017, 9, 29), thesis_title="Replikacija",
              thesis_date=None, grade=None, commission=("Prva", "Druga"))
    study_add(app, person, kind="doktorske", level_id=210, start=date(2018, 10, 1), end=None, thesis_title="Teza")
    master, doctoral = _get(app, f"/api/academic-history?alumni_user={person}").get_json()
    assert master["academic_degree"] | {"id": 0} == {
        "id": 0, "ects": 60, "name": "Računarske nauke", "title": "Diplomirani inženjer", "level": "2",
        "level_name": "Мастер академске студије"}
    assert (master["start_date"], master["end_date"]) == ("2016-10-01", "2017-09-29")
    # Without a defence date the graduation date stands in; unknown grade is 0, missing members "".
    assert master["thesis"] | {"id": 0} == {
        "id": 0, "grade": 0, "date": "2017-09-29", "thesis_title": "Replikacija", "abstract": "", "mentor": "Mentor",
        "commission_member_1": "Prva", "commission_member_2": "Druga", "commission_member_3": ""}
    # A thesis with no date at all cannot be shown as a defence: null, never a broken object.
    assert doctoral["thesis"] is None and doctoral["end_date"] is None
    assert doctoral["academic_degree"]["level_name"] == "Докторске академске студије"


def test_the_directory_lists_visible_alumni_only_by_casefolded_name(app):
    alumni_account = user_create(app, role="alumni", first_name="Đorđe", last_name="Babić")
    student = user_create(app, role="student")
    staff = user_create(app, role="faculty_administrator")
    profile_add(app, first_name="ana", last_name="Zorić", portal_id=1)
    profile_add(app, first_name="Čedomir", last_name="Ilić", portal_id=2)
    profile_add(app, first_name="Bojan", last_name="Sample", sample=True)
    profile_add(app, first_name="Đorđe", last_name="Babić", user_id=alumni_account)
    profile_add(app, first_name="Student", last_name="Pisac", user_id=student)  # wrote something: an author only
    profile_add(app, first_name="Staff", last_name="Pisac", user_id=staff)
    profile_add(app, first_name="Skriven", last_name="Alumnus", portal_id=3, visible=False)
    # Casefolded: "ana" sorts with the A's, not after every capital; the same on SQLite and PostgreSQL.
    assert _names(_get(app, "/api/alumni-users")) == ["ana Zorić", "Bojan Sample", "Čedomir Ilić", "Đorđe Babić"]


def test_the_company_filter_lists_each_person_once_and_hides_the_hidden(app):
    company, other = company_add(app, "Kvant"), company_add(app, "Drugo")
    twice = profile_add(app, first_name="Dva", last_name="Posla", portal_id=1)
    once = profile_add(app, first_name="Jedan", last_name="Posao", portal_id=2)
    elsewhere = profile_add(app, first_name="Negde", last_name="Drugde", portal_id=3)
    hidden = profile_add(app, first_name="Skriven", last_name="Radnik", portal_id=4, visible=False)
    for profile_id in (twice, twice, once, hidden):
        job_add(app, profile_id, company)
    job_add(app, twice, other)
    job_add(app, elsewhere, other)
    assert _names(_get(app, f"/api/alumni-users?company={company}")) == ["Dva Posla", "Jedan Posao"]
    assert _names(_get(app, f"/api/alumni-users?company={other}")) == ["Dva Posla", "Negde Drugde"]
    assert _get(app, "/api/alumni-users?company=999999").get_json() == []


def test_companies_by_name_and_jobs_newest_first(app):
    for name in ("zeta", "Alfa", "Beta"):
        company_add(app, name)
    assert [c["name"] for c in _get(app, "/api/companies").get_json()] == ["Alfa", "Beta", "zeta"]
    person = profile_add(app, portal_id=1)
    company = company_add(app, "Firma")
    for start in (date(2015, 1, 1), None, date(2021, 3, 1), date(2018, 6, 1)):
        job_add(app, person, company, start=start, role=str(start))
    roles = [job["role"] for job in _get(app, f"/api/employment-history?alumni_user={person}").get_json()]
    assert roles == ["2021-03-01", "2018-06-01", "2015-01-01", "None"]


@pytest.mark.parametrize("path", ["/api/academic-history?alumni_user=4242", "/api/employment-history?alumni_user=4242"])
def test_an_unknown_person_has_an_empty_history(app, path):
    assert _get(app, path).get_json() == []


@pytest.mark.parametrize("path", [
    "/api/academic-history", "/api/academic-history?alumni_user=abc", "/api/employment-history",
    "/api/employment-history?alumni_user=1.5", "/api/employment-history?alumni_user=0",
    "/api/alumni-users?company=x", "/api/posts?before=-1", "/api/companies?page=2", "/api/alumni-users?name=Ana",
])
def test_missing_or_bad_parameters_are_422_in_the_error_format(app, path):
    response = _get(app, path)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and body["status"] and body["message"] and body["errors"]


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_a_signed_in_caller(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_no_email_or_phone_in_any_network_response(app):
    account = user_create(app, role="alumni", email="tajna.adresa@example.test", phone="+381 64 123 4567",
                          first_name="", last_name="")
    profile = profile_add(app, first_name="", last_name="", user_id=account)
    company = company_add(app, "Firma")
    job_add(app, profile, company)
    post_add(app, profile, comments=[(profile, "komentar")])
    for path in ("/api/posts", "/api/alumni-users", f"/api/alumni-users?company={company}",
                 f"/api/employment-history?alumni_user={profile}", f"/api/academic-history?alumni_user={profile}"):
        text = _get(app, path, account).get_data(as_text=True)
        assert "tajna.adresa" not in text and "@" not in text and "123 4567" not in text, path
    assert f"RAF korisnik #{profile}" in _get(app, "/api/posts", account).get_data(as_text=True)


@pytest.mark.parametrize("path", READS[1:3])
def test_lists_are_private_revalidated_and_answer_304(app, path):
    viewer = user_create(app)
    profile_add(app, portal_id=1)
    first = _get(app, path, viewer)
    assert first.headers["Cache-Control"] == "private, max-age=0, must-revalidate"
    assert first.headers["ETag"].startswith('W/"')
    again = _get(app, path, viewer, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    gzipped = _get(app, path, viewer, **{"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    import gzip

    assert json.loads(gzip.decompress(gzipped.data)) == first.get_json()


def _fill(app, size):
    """``size`` people, each with two jobs at one of two companies, a study with a thesis, and a picture."""
    companies = [company_add(app, f"Firma {size}-{n}") for n in range(2)]
    people = []
    for n in range(size):
        person = profile_add(app, first_name=f"Osoba{n}", last_name=f"S{size}", portal_id=size * 1000 + n,
                             picture=image_bytes(colour=(n, size, 7)))
        job_add(app, person, companies[n % 2], start=date(2010 + n % 10, 1, 1))
        job_add(app, person, companies[(n + 1) % 2])
        study_add(app, person)
        people.append(person)
    return companies, people


def test_each_list_costs_the_same_number_of_queries_at_any_size(app):
    viewer = user_create(app)
    headers = bearer(app, viewer)
    client = app.test_client()
    assert client.get("/api/companies", headers=headers).status_code == 200  # the caller's session, verified once
    counts = {}
    for size in (2, 12):
        companies, people = _fill(app, size)
        paths = ("/api/alumni-users", f"/api/alumni-users?company={companies[0]}", "/api/companies",
                 f"/api/academic-history?alumni_user={people[-1]}",
                 f"/api/employment-history?alumni_user={people[-1]}")
        for path in paths:
            with count_queries(app) as statements:
                response = client.get(path, headers=headers)
            assert response.status_code == 200
            # (Reads of the cache generations are not the list's: see tests/cache/.)
            data = [statement for statement in statements if "cache_generation" not in statement]
            counts.setdefault(path.split("?")[0] + ("?company" if "company" in path else ""), []).append(len(data))
    for path, (small, large) in counts.items():
        # One query building the list (people come with their picture's path); the session is known already.
        assert small == large <= 1, (path, small, large)
