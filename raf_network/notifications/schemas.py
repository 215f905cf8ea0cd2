"""Marshmallow schemas of notifications: broadcasts, the inbox and push preferences."""
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from raf_network.notifications.preferences import PREFERENCE_OF_CATEGORY
from raf_network.schemas import BaseSchema, Text, UtcDateTime
from raf_network.users.models import ROLES

AUDIENCE_KEYS = ("all", "role", "course_id", "schedule_entry_id", "user_ids")
RESERVED_DATA_KEYS = {"type", "notification_id", "from", "message_type", "collapse_key"}
ID = validate.Range(min=1, max=2**31 - 1)
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
DATA_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,39}$"
# 10 × (40 + 150) ≤ 2000: any data the spec allows fits the total checked below.
DATA_VALUE_MAX = 150


class AudienceSchema(BaseSchema):
    all = fields.Boolean(validate=validate.Equal(True), metadata={"description": "Every active user",
                                                                  "enum": [True]})
    role = fields.String(validate=validate.OneOf(ROLES))
    course_id = fields.Integer(strict=True, validate=ID, metadata={"description": "Subscribers of the course"})
    schedule_entry_id = fields.Integer(strict=True, validate=ID,
                                       metadata={"description": "Subscribers of one timetable entry"})
    user_ids = fields.List(fields.Integer(strict=True, validate=ID), validate=validate.Length(min=1, max=10000))

    @validates_schema
    def exactly_one(self, data, **_kwargs):
        if len(data) != 1:
            raise ValidationError(f"give exactly one of: {', '.join(AUDIENCE_KEYS)}")


class BroadcastSchema(BaseSchema):
    title = Text(required=True, max_length=100)
    body = Text(required=True, max_length=1000, multiline=True)
    audience = fields.Nested(AudienceSchema, required=True, metadata={
        "description": "Exactly one of `all` (true), `role`, `course_id`, `schedule_entry_id`, `user_ids`",
        # "Exactly one" in OpenAPI terms, beside the $ref (AudienceSchema.exactly_one enforces it).
        "minProperties": 1, "maxProperties": 1})
    data = fields.Dict(
        keys=fields.String(validate=validate.Regexp(DATA_KEY_PATTERN)),
        values=Text(max_length=DATA_VALUE_MAX, min_length=0, multiline=True, trim=False),
        load_default=None,
        metadata={"description": "Extra string fields for the app: at most 10, keys like `room_change` (not "
                                 f"{', '.join(sorted(RESERVED_DATA_KEYS))}), values up to {DATA_VALUE_MAX} "
                                 "characters", "maxProperties": 10, "reserved_keys": RESERVED_DATA_KEYS},
    )
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Count recipients; store and send nothing"})

    @validates("data")
    def data_allowed(self, value, **_kwargs):
        if value is None:
            return
        reserved = sorted(set(value) & RESERVED_DATA_KEYS)
        if reserved:
            raise ValidationError(f"reserved keys: {', '.join(reserved)}")
        if len(value) > 10 or sum(len(key) + len(item) for key, item in value.items()) > 2000:
            raise ValidationError("at most 10 fields and 2000 characters")


class BroadcastResultSchema(BaseSchema):
    notification_id = fields.Integer(allow_none=True, metadata={"description": "null for a dry run"})
    recipients = fields.Integer(metadata={"description": "Users who get it in their inbox"})
    devices = fields.Integer(metadata={"description": "Their registered devices (before push preferences)"})
    dry_run = fields.Boolean()


class InboxQuerySchema(BaseSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    before = fields.Integer(validate=ID, metadata={"description": "`next_before` of the previous page"})


class InboxItemSchema(BaseSchema):
    id = fields.Integer()
    category = fields.String(metadata={"enum": list(PREFERENCE_OF_CATEGORY)})
    title = fields.String(metadata={"description": "In the caller's locale"})
    body = fields.String()
    data = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = UtcDateTime()
    read_at = UtcDateTime(allow_none=True)


class InboxSchema(BaseSchema):
    items = fields.List(fields.Nested(InboxItemSchema), metadata={"description": "Newest first"})
    unread_count = fields.Integer()
    next_before = fields.Integer(allow_none=True, metadata={"description": "Pass as `before` for the next page"})


class QuietHoursSchema(BaseSchema):
    start = fields.Time(required=True, format="%H:%M", metadata={"example": "22:00", "pattern": CLOCK_PATTERN})
    end = fields.Time(required=True, format="%H:%M", metadata={"example": "07:00", "pattern": CLOCK_PATTERN})

    @validates_schema
    def not_empty(self, data, **_kwargs):
        # A PATCH loads with partial=True, which reaches nested schemas too: check both are there.
        missing = [name for name in ("start", "end") if name not in data]
        if missing:
            raise ValidationError("give both start and end", missing[0])


class NotificationPreferencesSchema(BaseSchema):
    timetable_changes = fields.Boolean(metadata={"description": "Pushes about changes to my timetable"})
    announcements = fields.Boolean(metadata={"description": "Pushes of announcements"})
    exam_schedule = fields.Boolean(metadata={
        "description": "Pushes about exams of my courses when an exam period is published or its exams move"})
    comments = fields.Boolean(metadata={"description": "Pushes about comments on my posts in the alumni network"})
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True, metadata={
        "description": "Non-urgent pushes wait until the end; null (or an equal start and end) = off. "
                       "A change to a class today or tomorrow "
                       "is sent at once. The inbox records everything regardless."})
    timezone = fields.String(dump_only=True, metadata={"example": "Europe/Belgrade"})


class NotificationPreferencesUpdateSchema(NotificationPreferencesSchema):
    """PATCH body: any subset of the preferences."""
