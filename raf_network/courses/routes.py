"""HTTP routes of the course catalogue. Reads are public data (the faculty publishes its timetable)."""
from flask import request
from flask.views import MethodView
from marshmallow import ValidationError

from raf_network.cache import conditional_response
from raf_network.courses import reads
from raf_network.courses.schemas import (
    CourseSchema,
    ExamEntriesQuerySchema,
    ExamEntrySchema,
    ExamPeriodSchema,
    ScheduleEntrySchema,
    ScheduleQuerySchema,
)
from raf_network.courses.values import day_index
from raf_network.extensions import Blueprint, StrictParser


def _loads_empty_query_as_nothing(schema):
    """True when this (stateless) query schema loads an empty query as ``{}``: no field is required or has a
    default, and no hook adds or refuses anything. Found out by loading ``{}`` once, through marshmallow's
    public API, rather than by inspecting its hook registry."""
    try:
        return schema.load({}) == {}
    except ValidationError:
        return False


class CatalogueParser(StrictParser):
    """The strict parser, minus the work of parsing nothing. The timetable is mostly read whole, without a
    query string, and loading an empty query through the schema costs a sizeable part of a cached read's
    Python work. For such a request and one of ``schemas`` that loads it as ``{}``, the result is ``{}`` at
    once; every other request (any query string, even ``?&``) is parsed and validated as before, so an unknown
    or invalid parameter is 422 like everywhere else."""

    def __init__(self, schemas=()):
        super().__init__()
        # By id, holding each instance so that its id stays its own.
        self._nothing_from_empty_query = {id(schema): schema for schema in schemas
                                          if _loads_empty_query_as_nothing(schema)}

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        if (location == "query" and id(argmap) in self._nothing_from_empty_query and not kwargs.get("validate")
                and not request.query_string):
            return {}
        return super().parse(argmap, req, location=location, **kwargs)


# Query schemas are stateless, so one instance each serves every request. Given the class, webargs builds
# a new instance per request, deep-copying every field: about a sixth of the Python work of a cached read.
SCHEDULE_QUERY = ScheduleQuerySchema()
EXAM_ENTRIES_QUERY = ExamEntriesQuerySchema()

blp = Blueprint("courses", __name__, url_prefix="/api",
                description="Courses, the weekly timetable and examination periods")
blp.ARGUMENTS_PARSER = CatalogueParser([SCHEDULE_QUERY, EXAM_ENTRIES_QUERY])

NOT_MODIFIED = {"description": "Not modified (the `If-None-Match` ETag is current)"}


@blp.route("/courses")
class Courses(MethodView):
    @blp.response(200, CourseSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self):
        """All courses, by name"""
        return conditional_response(*reads.course_list())


@blp.route("/courses/<int:course_id>")
class CourseDetail(MethodView):
    @blp.response(200, CourseSchema)
    @blp.alt_response(404, description="No such course")
    def get(self, course_id):
        """One course"""
        return reads.course_get(course_id=course_id)


@blp.route("/course-schedule")
class Schedule(MethodView):
    @blp.arguments(SCHEDULE_QUERY, location="query", as_kwargs=True)
    @blp.response(200, ScheduleEntrySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self, **filters):
        """The weekly timetable

        Ordered by course name, type, day (Monday first) and start time. Supports `ETag`/`If-None-Match`
        and gzip. A `group` filter also matches entries shared by several groups.
        """
        if "day" in filters:
            filters["day"] = day_index(filters["day"])
        return conditional_response(*reads.schedule_list(**filters))


@blp.route("/examination-periods")
class ExamPeriods(MethodView):
    @blp.response(200, ExamPeriodSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self):
        """Visible examination periods, by start date"""
        return conditional_response(*reads.exam_period_list())


@blp.route("/examination-entries")
class ExamEntries(MethodView):
    @blp.arguments(EXAM_ENTRIES_QUERY, location="query", as_kwargs=True)
    @blp.response(200, ExamEntrySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self, examination_period):
        """Exams of one examination period, by date and time

        An unknown or hidden period gives an empty list (not 404), as the released app expects a list.
        """
        return conditional_response(*reads.exam_entry_list(examination_period=examination_period))
