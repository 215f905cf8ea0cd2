"""HTTP routes of the course catalogue. Reads are public data (the faculty publishes its timetable)."""
from flask.views import MethodView

from raf_network.cache import conditional_response
from raf_network.courses import services
from raf_network.courses.schemas import (
    CourseSchema,
    ExamEntriesQuerySchema,
    ExamEntrySchema,
    ExamPeriodSchema,
    ScheduleEntrySchema,
    ScheduleQuerySchema,
)
from raf_network.extensions import Blueprint

blp = Blueprint("courses", __name__, url_prefix="/api",
                description="Courses, the weekly timetable and examination periods")

NOT_MODIFIED = {"description": "Not modified (the `If-None-Match` ETag is current)"}


@blp.route("/courses")
class Courses(MethodView):
    @blp.response(200, CourseSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self):
        """All courses, by name"""
        return conditional_response(*services.course_list())


@blp.route("/courses/<int:course_id>")
class CourseDetail(MethodView):
    @blp.response(200, CourseSchema)
    @blp.alt_response(404, description="No such course")
    def get(self, course_id):
        """One course"""
        return services.course_get(course_id=course_id)


@blp.route("/course-schedule")
class Schedule(MethodView):
    @blp.arguments(ScheduleQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, ScheduleEntrySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self, **filters):
        """The weekly timetable

        Ordered by course name, type, day (Monday first) and start time. Supports `ETag`/`If-None-Match`
        and gzip. A `group` filter also matches entries shared by several groups.
        """
        if "day" in filters:
            filters["day"] = services.day_index(filters["day"])
        return conditional_response(*services.schedule_list(**filters))


@blp.route("/examination-periods")
class ExamPeriods(MethodView):
    @blp.response(200, ExamPeriodSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self):
        """Visible examination periods, by start date"""
        return conditional_response(*services.exam_period_list())


@blp.route("/examination-entries")
class ExamEntries(MethodView):
    @blp.arguments(ExamEntriesQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, ExamEntrySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    def get(self, examination_period):
        """Exams of one examination period, by date and time

        An unknown or hidden period gives an empty list (not 404), as the released app expects a list.
        """
        return conditional_response(*services.exam_entry_list(examination_period=examination_period))
