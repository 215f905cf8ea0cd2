"""The cheaper hot-read path (see docs/benchmarks.md) keeps the read's behaviour: a change is still seen by
the next read of another process, and skipping the parse of an empty query changes no answer. (Freshness
through the invalidation channel, in detail: test_invalidation.py.)"""
import pytest

from raf_network.courses import services
from raf_network.courses.routes import CatalogueParser
from raf_network.courses.schemas import ExamEntriesQuerySchema, ScheduleQuerySchema
from tests.conftest import real_data_seed, shared_data_text


def test_a_change_is_seen_by_the_next_read_of_another_process(make_pg_app):
    first, second = make_pg_app(), make_pg_app()
    real_data_seed(first)
    reader = second.test_client()
    before = reader.get("/api/course-schedule")
    assert reader.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    text = shared_data_text("raspored.csv").replace('"Kolarac2"', '"Kolarac9"', 1)
    with first.app_context():
        services.schedule_import(text=text)
    after = reader.get("/api/course-schedule", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["X-Cache"] == "miss" and b"Kolarac9" in after.data


def test_only_schemas_that_load_an_empty_query_as_nothing_skip_parsing():
    schedule, exam_entries = ScheduleQuerySchema(), ExamEntriesQuerySchema()
    parser = CatalogueParser([schedule, exam_entries])
    assert schedule.load({}) == {}
    assert id(schedule) in parser._nothing_from_empty_query  # all optional, no schema hooks
    assert id(exam_entries) not in parser._nothing_from_empty_query  # a required field


@pytest.mark.parametrize("query", ["", "?", "?&"])
def test_the_whole_timetable_without_filters(seeded, query):
    response = seeded.test_client().get(f"/api/course-schedule{query}")
    assert response.status_code == 200 and len(response.get_json()) == 326


@pytest.mark.parametrize("query", ["?day=", "?bogus=1", "?group=", "?day=XYZ"])
def test_any_query_string_is_still_validated(seeded, query):
    response = seeded.test_client().get(f"/api/course-schedule{query}")
    assert response.status_code == 422 and response.get_json()["code"] == 422
