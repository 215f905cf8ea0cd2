"""Every call the released app makes, walked as the app makes it, each answer checked against the contract's shapes
(tests/contract.py) on both backends.

The data exercises the nullable edge: on top of the real seeded RAF data, a webhook delivery brings a timetable
entry and an exam that name no professor (the webhook allows that), which the app must still be able to read.

The alumni network's calls run on the project's demo network plus a person at every nullable edge: no name, no
picture, no LinkedIn handle, an unfinished study without a thesis, a job without dates — and a post and a comment
by that person.

To add a call: give ``APP_CALLS`` a row and let ``world`` provide the placeholders its path or body uses.
"""
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import shared_missing
from tests.contract import SHAPES, list_errors, shape_errors
from tests.stubs.google_certs import CLIENT_ID, GoogleCertsStub
from tests.webhook.helpers import deliver, delta

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract" / "mobile-client.md"


@dataclass
class Call:
    """One row of the contract's table of calls. ``path`` is relative to ``BASE/api/``; ``{name}`` in the path
    or as a whole body value is filled from the world (a list value: the call is made once per item).
    ``answer`` is ("array", shape), ("object", shape) or ("2xx", None). ``keep`` stores response fields in the
    world for later calls (placeholder ← field)."""

    name: str
    method: str
    path: str
    answer: tuple
    body: dict | None = None
    keep: dict = field(default_factory=dict)
    signed_in: bool = True


APP_CALLS = [
    Call("sign in", "POST", "google-login", ("object", "SignIn"),
         body={"id_token": "{id_token}", "access_token": "ya29.contract-test"}, keep={"token": "token"},
         signed_in=False),
    Call("who am I", "GET", "me", ("object", "User")),
    Call("timetable", "GET", "course-schedule", ("array", "CourseScheduleEntry")),
    Call("subscribe", "POST", "course-schedule-student-subscriptions", ("2xx", None),
         body={"course_schedule_entry": "{entry_without_professor}"}, keep={"subscription": "id"}),
    Call("my subscriptions", "GET", "course-schedule-student-subscriptions", ("array", "Subscription")),
    Call("exam periods", "GET", "examination-periods", ("array", "ExaminationPeriod")),
    Call("exams of a period", "GET", "examination-entries?examination_period={period}", ("array", "ExaminationEntry")),
    Call("unsubscribe", "DELETE",
         "course-schedule-student-subscriptions?course_schedule_student_subscription={subscription}", ("2xx", None)),
    Call("feed", "GET", "posts", ("array", "Post")),
    Call("alumni directory", "GET", "alumni-users", ("array", "AlumniUser")),
    Call("alumni of a company", "GET", "alumni-users?company={company}", ("array", "AlumniUser")),
    Call("companies", "GET", "companies", ("array", "Company")),
    Call("academic history", "GET", "academic-history?alumni_user={person}", ("array", "AcademicHistory")),
    Call("employment history", "GET", "employment-history?alumni_user={person}", ("array", "EmploymentHistory")),
]
# The contract's table names the directory once (with and without ?company=); these rows are that one call.
SAME_CALL = {"alumni of a company": "alumni directory"}

EDGE_DELIVERY = delta(
    courses=[{"code": "contract-course", "name": "Ugovor i aplikacija"}],
    schedule=[{"id": "contract-no-professor", "course": "contract-course", "kind": "V", "groups": ["101"],
               "day": "PET", "start": "08:15", "end": "10:00", "classroom": "Raf01 (u)"}],
    exam_periods=[{"id": "contract-period", "name": "Ispitni rok bez nastavnika", "start_date": "2027-01-18",
                   "end_date": "2027-02-07", "visible": True}],
    exams=[{"id": "contract-exam-no-professor", "period": "contract-period", "course": "contract-course",
            "date": "2027-01-20", "time": "9-14", "classroom": "Raf06 (a)"},
           {"id": "contract-exam", "period": "contract-period", "course": "contract-course",
            "date": "2027-01-27", "time": "12-15", "classroom": "Kolarac2", "professor": "Urošević Dragan"}],
)


@pytest.fixture
def google():
    with GoogleCertsStub() as stub:
        yield stub


def _network_edges(app):
    """The demo network, and a person at every nullable edge of the network's shapes; their ids."""
    from sqlalchemy import select

    from raf_network.extensions import db
    from raf_network.network.demo import network_demo_seed
    from raf_network.network.models import (
        AcademicDegree,
        AcademicHistory,
        Comment,
        Company,
        EmploymentHistory,
        Post,
        Profile,
    )

    with app.app_context():
        network_demo_seed()
        nobody = Profile(first_name="", last_name="", portal_id=990001, biography="", visible=True, edited_fields=[])
        company = Company(name="Firma bez datuma")
        degree = AcademicDegree(name="Računarske nauke", title="")
        db.session.add_all([nobody, company, degree])
        db.session.flush()
        db.session.add_all([
            AcademicHistory(profile_id=nobody.id, degree_id=degree.id, kind="master", start_date=date(2024, 10, 1)),
            EmploymentHistory(profile_id=nobody.id, company_id=company.id, source="portal"),
        ])
        post = Post(author_id=nobody.id, title="Bez imena", text="Tekst")
        db.session.add(post)
        db.session.flush()
        db.session.add(Comment(post_id=post.id, author_id=nobody.id, text="Komentar"))
        from raf_network.network.freshness import network_changed

        network_changed()
        db.session.commit()
        return (list(db.session.scalars(select(Profile.id).order_by(Profile.id))),
                list(db.session.scalars(select(Company.id).order_by(Company.id))))


@pytest.fixture
def world(seeded, google):
    """The real RAF data, the professor-less entry and exam from the webhook, the demo network with its nullable
    edges, and a Google account."""
    app = seeded
    app.config.update(GOOGLE_CERTS_URL=google.url, GOOGLE_CLIENT_IDS=[CLIENT_ID])
    assert deliver(app, EDGE_DELIVERY).status_code == 200
    client = app.test_client()
    timetable = client.get("/api/course-schedule?course=" + str(_course_id(client, "Ugovor i aplikacija")))
    periods = client.get("/api/examination-periods").get_json()
    people, companies = _network_edges(app)
    return app, {
        "id_token": google.id_token(email="mmarkovic1021rn@raf.rs"),
        "entry_without_professor": timetable.get_json()[0]["id"],
        "period": [period["id"] for period in periods],
        "person": people,
        "company": companies,
    }


def _course_id(client, name):
    return next(course["id"] for course in client.get("/api/courses").get_json() if course["name"] == name)


def _fill(template, values):
    """A path (str.format) or body value ("{name}" as the whole value keeps the value's type)."""
    if isinstance(template, str) and re.fullmatch(r"\{\w+\}", template):
        return values[template[1:-1]]
    return template.format(**values) if isinstance(template, str) else template


def _expand(call, values):
    """The concrete (path, body) pairs of a call: one per item of any list-valued placeholder it uses."""
    used = set(re.findall(r"\{(\w+)\}", call.path + " " + " ".join(map(str, (call.body or {}).values()))))
    listed = [name for name in used if isinstance(values.get(name), list)]
    assert len(listed) <= 1, f"{call.name}: at most one list placeholder"
    variants = [values] if not listed else [{**values, listed[0]: item} for item in values[listed[0]]]
    assert variants, f"{call.name}: the world has no {listed[0]}"
    return [(_fill(call.path, v), {k: _fill(t, v) for k, t in call.body.items()} if call.body else None)
            for v in variants]


def _answer_errors(call, body):
    kind, shape = call.answer
    if kind == "array":
        return list_errors(body, shape)
    if kind == "object":
        return shape_errors(body, shape)
    return []


def test_every_app_call_answers_what_the_app_can_parse(world):
    app, values = world
    client = app.test_client()
    checked = {}
    for call in APP_CALLS:
        for path, body in _expand(call, values):
            headers = {"Authorization": f"Bearer {values['token']}"} if call.signed_in else {}
            response = client.open(f"/api/{path}", method=call.method, json=body, headers=headers)
            assert 200 <= response.status_code < 300, (call.name, response.status_code, response.get_json())
            answer = response.get_json(silent=True)
            assert _answer_errors(call, answer) == [], call.name
            values.update({name: answer[key] for name, key in call.keep.items()})
            checked[call.name] = checked.get(call.name, 0) + (len(answer) if isinstance(answer, list) else 1)
    assert set(checked) == {call.name for call in APP_CALLS}
    # The data reached the nullable edge: what the webhook left without a professor is served as "".
    assert checked["timetable"] >= 327 and checked["exams of a period"] >= 2 + 78
    # The network's calls answered with items (the demo network plus the person at the nullable edges).
    assert checked["feed"] >= 5 and checked["alumni directory"] >= 7 and checked["companies"] >= 6
    assert checked["academic history"] >= 7 and checked["employment history"] >= 7


def test_the_network_edges_are_served_as_the_app_reads_them(world):
    """The person without a name, picture or handle, whose study has no end and no thesis and whose job has no
    dates: what the app parses non-nullably is a string, what it accepts as null is null."""
    app, values = world
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_signed_in_token(app)}"}
    nobody = values["person"][-1]
    person = next(p for p in client.get("/api/alumni-users", headers=headers).get_json() if p["id"] == nobody)
    assert person["full_name"] == f"RAF korisnik #{nobody}" and person["biography"] == ""
    assert person["profile_picture"] is None and person["social_id_1"] is None
    (study,) = client.get(f"/api/academic-history?alumni_user={nobody}", headers=headers).get_json()
    assert study["end_date"] is None and study["thesis"] is None
    (job,) = client.get(f"/api/employment-history?alumni_user={nobody}", headers=headers).get_json()
    assert (job["start_date"], job["end_date"], job["role"], job["description"]) == (None, None, "", "")
    post = next(p for p in client.get("/api/posts", headers=headers).get_json() if p["title"] == "Bez imena")
    assert post["author"]["full_name"] == post["comments"][0]["author"]["full_name"] == f"RAF korisnik #{nobody}"


def _signed_in_token(app):
    from tests.factories import token_for, user_create

    return token_for(app, user_create(app))


def test_the_professorless_entry_and_exam_are_served_with_empty_strings(world):
    app, values = world
    client = app.test_client()
    entry = client.get("/api/course-schedule?classroom=Raf01 (u)&day=PET").get_json()
    assert [e["professor"] for e in entry if e["id"] == values["entry_without_professor"]] == [""]
    contract_period = next(p for p in client.get("/api/examination-periods").get_json()
                           if p["name"] == "Ispitni rok bez nastavnika")
    exams = client.get(f"/api/examination-entries?examination_period={contract_period['id']}").get_json()
    assert [(exam["date"], exam["professor"]) for exam in exams] == [("2027-01-20", ""),
                                                                    ("2027-01-27", "Urošević Dragan")]


@pytest.fixture(scope="module")
def contract_text():
    if not CONTRACT.is_file():
        shared_missing(f"the contract {CONTRACT}")
    return CONTRACT.read_text(encoding="utf-8")


def test_the_table_names_every_call_of_the_contract(contract_text):
    """A call added to the contract must be walked here."""
    rows = re.findall(r"^\| ([a-z][^|]*?) \| `(?:GET|POST|DELETE|PATCH|PUT) ", contract_text, re.MULTILINE)
    assert len(rows) >= 13, rows
    assert set(rows) == {SAME_CALL.get(call.name, call.name) for call in APP_CALLS}


def test_every_shape_of_the_contract_is_described(contract_text):
    """Every shape the contract defines (a backticked name followed by its fields) is in tests/contract.py."""
    shapes = set(re.findall(r"`([A-Z]\w+)`(?: \([^)]*\))?: `", contract_text))
    assert len(shapes) >= 14, shapes
    assert shapes <= set(SHAPES), shapes - set(SHAPES)


# ---- the checker itself must be able to fail ----

GOOD_EXAM = {"id": 1, "time": "9-14", "classroom": "Raf06 (a)", "professor": "Urošević Dragan",
             "date": "2027-01-20", "course": {"id": 3, "name": "Uvod u programiranje"}}


def test_a_good_exam_entry_passes():
    assert shape_errors(GOOD_EXAM, "ExaminationEntry") == []


@pytest.mark.parametrize("change, expected", [
    ({"professor": None}, "$.professor: is null, but the app reads it as non-nullable"),
    ({"time": None}, "$.time: is null"),
    ({"classroom": 6}, "$.classroom: is not a string"),
    ({"date": "20.01.2027."}, "$.date: is '20.01.2027.', not a YYYY-MM-DD date"),
    ({"date": "2027-02-30"}, "$.date: is '2027-02-30', not a YYYY-MM-DD date"),
    ({"course": {"id": "3", "name": "Uvod u programiranje"}}, "$.course.id: is not an integer"),
    ({"course": {"id": 3}}, "$.course.name: is missing"),
    ({"id": True}, "$.id: is not an integer"),
])
def test_a_broken_exam_entry_is_reported(change, expected):
    errors = shape_errors({**GOOD_EXAM, **change}, "ExaminationEntry")
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_a_missing_field_is_reported_and_an_extra_one_is_not():
    exam = {key: value for key, value in GOOD_EXAM.items() if key != "classroom"}
    assert shape_errors({**exam, "examination_period": {"id": 1}}, "ExaminationEntry") == ["$.classroom: is missing"]


@pytest.mark.parametrize("entry_change, expected", [
    ({"type": "LAB"}, None), ({"professor": None}, None),
    ({"type": "V"}, "$.type: is 'V', not one of LEC, LAB"),
    ({"day": "MON"}, "$.day: is 'MON', not one of PON"),
    ({"start_time": "09:15"}, "$.start_time: is '09:15', not an HH:MM:SS time"),
    ({"groups": None}, "$.groups: is null"),
])
def test_timetable_entry_rules(entry_change, expected):
    entry = {"id": 1, "course": {"id": 1, "name": "X"}, "professor": "A", "type": "LEC", "day": "ČET",
             "start_time": "09:15:00", "end_time": "11:00:00", "classroom": "Raf01", "groups": "101, 102"}
    errors = shape_errors({**entry, **entry_change}, "CourseScheduleEntry")
    assert errors == [] if expected is None else (len(errors) == 1 and errors[0].startswith(expected)), errors


def test_network_shapes_nullable_only_where_the_contract_says():
    author = {"id": 1, "full_name": "Jelena Zorić", "biography": "", "profile_picture": None, "social_id_1": None}
    post = {"id": 1, "title": "T", "text": "", "date_created": "2026-11-30T10:00:00+00:00", "author": author,
            "comments": [{"id": 2, "text": "Bravo", "date_created": "2026-11-30T11:00:00Z", "author": author}]}
    assert shape_errors(post, "Post") == []
    assert shape_errors({**author, "profile_picture": "media/a.jpg"}, "AlumniUser") == [
        "$.profile_picture: is 'media/a.jpg', not a path starting with /"]
    assert shape_errors({**author, "social_id_1": "https://linkedin.com/in/jelena-zoric"}, "AlumniUser")
    assert shape_errors({**author, "biography": None}, "AlumniUser") == [
        "$.biography: is null, but the app reads it as non-nullable"]
    broken = {**post, "comments": [{**post["comments"][0], "date_created": "yesterday"}]}
    assert shape_errors(broken, "Post") == ["$.comments[0].date_created: is 'yesterday', not an ISO 8601 date-time"]
    history = {"id": 1, "alumni_user": 1, "student_number": "RN10/21", "start_date": "2021-10-01", "end_date": None,
               "academic_degree": {"id": 1, "ects": 240, "name": "Računarske nauke", "title": "Diplomirani inženjer",
                                   "level": "1", "level_name": "Основне академске студије"},
               "thesis": None}
    assert shape_errors(history, "AcademicHistory") == []
    assert shape_errors({**history, "academic_degree": {**history["academic_degree"], "level": 1}},
                        "AcademicHistory") == ["$.academic_degree.level: is not a string"]
    job = {"id": 1, "company": {"id": 1, "name": "RAF"}, "role": "Dev", "description": "", "start_date": None,
           "end_date": None}
    assert shape_errors(job, "EmploymentHistory") == []
    assert shape_errors({**job, "role": None}, "EmploymentHistory") == ["$.role: is null, but the app reads it as "
                                                                        "non-nullable"]


def test_a_list_answer_must_be_a_plain_array():
    assert list_errors({"items": []}, "ExaminationPeriod") == ["$: is not an array"]
    assert list_errors([{"id": 1, "name": "Jun", "start_date": "2027-06-01", "end_date": None}],
                       "ExaminationPeriod") == ["$[0].end_date: is null, but the app reads it as non-nullable"]
