"""The cheaper hot-read path (see docs/benchmarks.md) keeps the read's behaviour: skipping the parse of an empty
query changes no answer. (Freshness across processes: tests/cache/.)"""
import pytest

from raf_network.courses.routes import CatalogueParser
from raf_network.courses.schemas import ExamEntriesQuerySchema, ScheduleQuerySchema


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
