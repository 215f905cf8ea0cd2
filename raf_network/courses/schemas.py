"""Marshmallow schemas of the course catalogue: the mobile app's shapes and the query filters.

Every string of the app's shapes is an ``AppString``: the released app reads them non-nullably, so a value the
source left out (a webhook exam without a professor) is sent as ``""``."""

from marshmallow import ValidationError, fields, validate, validates

from raf_network.courses.models import DAY_CODES
from raf_network.courses.values import day_index
from raf_network.schemas import AppString, BaseSchema, Text


class CourseSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = AppString(dump_only=True)
    code = AppString(dump_only=True, metadata={"description": "The course service's stable code"})


class ScheduleEntrySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    course = fields.Nested(CourseSchema, dump_only=True)
    professor = AppString(dump_only=True, metadata={"description": "\"\" when the source names no teacher"})
    type = AppString(dump_only=True, metadata={"enum": ["LEC", "LAB"]})
    kind = AppString(dump_only=True, metadata={
        "enum": ["P", "V", "D", "PiV"], "description": "The source's own class kind"})
    day = AppString(attribute="day_code", dump_only=True, metadata={"enum": list(DAY_CODES)})
    start_time = fields.Time(format="%H:%M:%S", dump_only=True)
    end_time = fields.Time(format="%H:%M:%S", dump_only=True)
    classroom = AppString(dump_only=True)
    groups = AppString(dump_only=True, metadata={"example": "101, 102, 103"})


class ExamPeriodSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = AppString(dump_only=True)
    start_date = fields.Date(dump_only=True)
    end_date = fields.Date(dump_only=True)


class ExamEntrySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    time = AppString(dump_only=True, metadata={"example": "9-14", "description": "Free text, as the office writes it"})
    classroom = AppString(dump_only=True, metadata={"example": "6,9,10,11"})
    professor = AppString(dump_only=True, metadata={"description": "\"\" when the source names no teacher"})
    date = fields.Date(dump_only=True)
    course = fields.Nested(CourseSchema, dump_only=True)
    examination_period = fields.Nested(ExamPeriodSchema, attribute="period", dump_only=True)


class ScheduleQuerySchema(BaseSchema):
    course = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**31 - 1),
                            metadata={"description": "Course id"})
    group = fields.String(validate=[validate.Length(min=1, max=16), validate.Regexp(r"^[0-9A-Za-z]{1,16}$")], metadata={
        "description": "A student group; also matches entries shared by several groups", "example": "101"})
    day = fields.String(metadata={"enum": list(DAY_CODES), "description": "PON…NED (MON…SUN also accepted)"})
    type = fields.String(validate=validate.OneOf(["LEC", "LAB"]))
    professor = Text(max_length=100, trim=False,
                     metadata={"description": "Case-insensitive part of the teacher's name"})
    classroom = Text(max_length=100, trim=False, metadata={"description": "Case-insensitive part of the classroom"})

    @validates("day")
    def _day_known(self, value, **_kwargs):
        try:
            day_index(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class ExamEntriesQuerySchema(BaseSchema):
    examination_period = fields.Integer(required=True, strict=False,
                                        validate=validate.Range(min=1, max=2**31 - 1),
                                        metadata={"description": "Examination period id"})
