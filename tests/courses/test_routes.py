"""The course API as the released mobile app sees it (contract: shared/contract/mobile-client.md)."""
import gzip
import re
from datetime import time

import pytest

from raf_network.cache import cache_families_invalidate
from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.csv_import import schedule_import
from raf_network.courses.models import DAY_CODES
from raf_network.extensions import db
from tests.conftest import count_queries, shared_data_text


def test_full_timetable_in_the_contract_shape(seeded):
    client = seeded.test_client()
    response = client.get("/api/course-schedule")
    assert response.status_code == 200 and response.mimetype == "application/json"
    entries = response.get_json()
    assert len(entries) == 326
    for entry in entries:
        assert isinstance(entry["id"], int)
        assert isinstance(entry["course"]["id"], int) and isinstance(entry["course"]["name"], str)
        assert entry["type"] in ("LEC", "LAB")
        assert entry["day"] in DAY_CODES
        assert re.fullmatch(r"\d\d:\d\d:\d\d", entry["start_time"])
        assert re.fullmatch(r"\d\d:\d\d:\d\d", entry["end_time"])
        assert isinstance(entry["classroom"], str) and isinstance(entry["groups"], str)
        assert entry["professor"] is None or isinstance(entry["professor"], str)
    assert len({entry["course"]["id"] for entry in entries}) == 74
    assert not any(entry["course"]["name"].startswith("\ufeff") for entry in entries)


def test_kinds_map_to_lec_and_lab(seeded):
    entries = seeded.test_client().get("/api/course-schedule").get_json()
    mapping = {(entry["kind"], entry["type"]) for entry in entries}
    assert mapping == {("P", "LEC"), ("PiV", "LEC"), ("V", "LAB"), ("D", "LAB")}


def test_timetable_order_course_type_day_start(seeded):
    entries = seeded.test_client().get("/api/course-schedule").get_json()
    keys = [(e["course"]["name"].casefold(), e["type"], DAY_CODES.index(e["day"]), e["start_time"])
            for e in entries]
    assert keys == sorted(keys)


def test_real_row_time_end_without_minutes(seeded):
    """`11:15-13` in the CSV is served as 11:15:00–13:00:00."""
    entries = seeded.test_client().get("/api/course-schedule?classroom=Kolarac2&day=PON").get_json()
    uup = [e for e in entries if e["course"]["name"] == "Uvod u programiranje" and e["type"] == "LEC"]
    assert uup and uup[0]["start_time"] == "11:15:00" and uup[0]["end_time"] == "13:00:00"


def test_group_filter_matches_shared_entries(seeded):
    entries = seeded.test_client().get("/api/course-schedule?group=101").get_json()
    assert entries and all("101" in [g.strip() for g in e["groups"].split(",")] for e in entries)
    assert any(e["groups"] == "101, 102, 103" for e in entries)
    assert not seeded.test_client().get("/api/course-schedule?group=10").get_json()


@pytest.mark.parametrize("query, check", [
    ("day=PON", lambda e: e["day"] == "PON"),
    ("day=MON", lambda e: e["day"] == "PON"),
    ("type=LAB", lambda e: e["type"] == "LAB"),
    ("professor=urosevic", lambda e: "Urosevic" in e["professor"]),
    ("classroom=kolarac", lambda e: "Kolarac" in e["classroom"]),
])
def test_filters(seeded, query, check):
    entries = seeded.test_client().get(f"/api/course-schedule?{query}").get_json()
    assert entries and all(check(entry) for entry in entries)


def test_course_filter(seeded):
    client = seeded.test_client()
    course = client.get("/api/courses").get_json()[0]
    entries = client.get(f"/api/course-schedule?course={course['id']}").get_json()
    assert entries and {e["course"]["id"] for e in entries} == {course["id"]}


@pytest.mark.parametrize("query", ["day=XYZ", "type=SEM", "course=abc", "course=0", "group=1%25",
                                   "professor=", "unknown=1", "professor=a%00b", "classroom=%07",
                                   "course=99999999999999999999"])
def test_invalid_filters_are_422(seeded, query):
    response = seeded.test_client().get(f"/api/course-schedule?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity" and body["errors"]


def test_courses_list_and_detail(seeded):
    client = seeded.test_client()
    courses = client.get("/api/courses").get_json()
    names = [c["name"].casefold() for c in courses]
    assert len(courses) == 74 and names == sorted(names)
    detail = client.get(f"/api/courses/{courses[0]['id']}")
    assert detail.status_code == 200 and detail.get_json()["name"] == courses[0]["name"]
    missing = client.get("/api/courses/999999")
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    beyond_int32 = client.get("/api/courses/19105462960825996")  # found by fuzzing: was a 500
    assert beyond_int32.status_code == 404 and beyond_int32.get_json()["code"] == 404


def test_examination_periods_visible_only_and_entries_by_date(seeded):
    client = seeded.test_client()
    periods = client.get("/api/examination-periods").get_json()
    assert [p["name"] for p in periods] == ["Kolokvijumska nedelja 1, 2023/24"]
    assert periods[0]["start_date"] == "2023-11-18" and periods[0]["end_date"] == "2023-11-26"
    exams = client.get(f"/api/examination-entries?examination_period={periods[0]['id']}").get_json()
    assert len(exams) == 78 and [e["date"] for e in exams] == sorted(e["date"] for e in exams)
    assert {"id", "time", "classroom", "professor", "date", "course"} <= set(exams[0])
    assert exams[0]["examination_period"]["id"] == periods[0]["id"]

    with seeded.app_context():
        from raf_network.courses.models import ExamPeriod

        db.session.query(ExamPeriod).update({"visible": False})
        db.session.commit()
        cache_families_invalidate(["exams"])
    assert client.get("/api/examination-periods").get_json() == []
    assert client.get(f"/api/examination-entries?examination_period={periods[0]['id']}").get_json() == []


@pytest.mark.parametrize("query", ["", "?examination_period=", "?examination_period=abc",
                                   "?examination_period=-1"])
def test_examination_entries_parameter_is_required_and_an_integer(seeded, query):
    response = seeded.test_client().get(f"/api/examination-entries{query}")
    assert response.status_code == 422 and response.get_json()["errors"]["query"]["examination_period"]


def test_unknown_period_is_an_empty_list(seeded):
    response = seeded.test_client().get("/api/examination-entries?examination_period=987654")
    assert response.status_code == 200 and response.get_json() == []


def test_etag_revalidation_and_gzip(seeded):
    client = seeded.test_client()
    first = client.get("/api/course-schedule")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and "max-age" in first.headers["Cache-Control"]
    assert first.headers["Vary"] == "Accept-Encoding"
    not_modified = client.get("/api/course-schedule", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b"" and not_modified.headers["ETag"] == etag
    zipped = client.get("/api/course-schedule", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data
    assert len(zipped.data) <= 0.15 * len(first.data)
    assert client.get("/api/course-schedule", headers={"Accept-Encoding": "gzip;q=0"}).data == first.data


def _cache_ready(app):
    """With Redis, wait until the process's invalidation subscriber holds the generations (reads then ask nothing)."""
    from tests.cache.conftest import subscribed

    if app.config["REDIS_URL"]:
        assert subscribed(app)


def test_hot_read_is_served_from_the_cache_with_at_most_the_generations_query(seeded):
    _cache_ready(seeded)
    client = seeded.test_client()
    client.get("/api/course-schedule")
    with count_queries(seeded) as statements:
        response = client.get("/api/course-schedule")
    assert response.status_code == 200 and response.headers["X-Cache"] == "hit-local"
    if seeded.config["REDIS_URL"]:
        assert statements == []  # the generations are in memory, kept current by the channel
    else:  # the embedded default asks the database, where every local process's changes are
        assert len(statements) == 1 and "cache_generation" in statements[0]


def test_import_invalidates_the_cache_and_changes_the_etag(seeded):
    client = seeded.test_client()
    before = client.get("/api/course-schedule")
    text = shared_data_text("raspored.csv").replace('"Kolarac2"', '"Kolarac9"', 1)
    with seeded.app_context():
        changes = schedule_import(text=text)
    assert changes.counts == {"created": 0, "updated": 1, "removed": 0}
    after = client.get("/api/course-schedule", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert sum(e["classroom"] == "Kolarac9" for e in after.get_json()) == 1


def _generated_catalogue(n_entries):
    courses = [{"code": f"c{i}", "name": f"Course {i:03d}"} for i in range(max(1, n_entries // 10))]
    schedule = [{
        "id": f"e{i}", "course": courses[i % len(courses)]["code"], "kind": ("P", "V", "D", "PiV")[i % 4],
        "professor": f"Prof {i}", "groups": [str(100 + i % 30)], "day": i % 5,
        "start": time(8 + i % 10), "end": time(9 + i % 10), "classroom": f"Room {i % 20}",
    } for i in range(n_entries)]
    return courses, schedule


@pytest.mark.parametrize("path", ["/api/course-schedule", "/api/courses", "/api/course-schedule?group=101"])
def test_query_count_is_constant_whatever_the_size(app, path):
    """A cache miss costs the same number of queries for 20 entries as for 400."""
    counts = []
    client = app.test_client()
    _cache_ready(app)
    for size in (20, 400):
        with app.app_context():
            courses, schedule = _generated_catalogue(size)
            plan = catalogue_plan(courses=courses, schedule=schedule, replace={"schedule"})
            catalogue_write(plan)
            cache_families_invalidate(["schedule", "courses"])
            db.session.commit()
        with count_queries(app) as statements:
            response = client.get(path)
        assert response.status_code == 200 and response.headers["X-Cache"] in ("miss", "bypass")
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[0] <= 2
