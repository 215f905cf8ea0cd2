"""Marshmallow schemas of the webhook: the envelope the course service sends, and the delivery records.

The envelope is a marshmallow schema; its item lists are ``Records`` fields, checked with tables of
plain-Python rules. A snapshot carries ~10,000 items: nested marshmallow schemas spend ~0.4 s on
them, the rule table ~0.03 s, and errors are still reported per field (``data.schedule[17].start``).
"""
import functools
import re
from datetime import date, time

from marshmallow import ValidationError, fields, validate, validates_schema

from raf_network.courses.catalogue import FAMILIES, ChangeSet
from raf_network.courses.models import DAY_CODES, KINDS
from raf_network.courses.values import GROUP_PATTERN, day_index
from raf_network.schemas import (
    SINGLE_LINE_CONTROLS,
    SINGLE_LINE_PATTERN,
    BaseSchema,
    PageQuerySchema,
    UtcDateTime,
)
from raf_network.webhook.models import STATUSES

SNAPSHOT, DELTA = "courses.snapshot", "courses.delta"
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
REQUIRED = "Missing data for required field."

# --------------------------------------------------------------------------------------------------
# Item rules: parse(value) → the value to apply, or ValueError(message)
# --------------------------------------------------------------------------------------------------

class Rule:
    """One field of a payload item: how it is parsed, whether it must be present, how OpenAPI shows it."""

    __slots__ = ("parse", "openapi", "required", "default")

    def __init__(self, parse, openapi, *, required=True, default=None):
        self.parse, self.openapi, self.required, self.default = parse, openapi, required, default


def text(max_length, *, optional=False):
    """A non-blank string; ``optional``: may also be absent, null or "" (all stored as null)."""
    def parse(value):
        if optional and value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError("Not a valid string.")
        if not value.strip():
            raise ValueError("Must not be blank.")
        if len(value) > max_length:
            raise ValueError(f"Longer than maximum length {max_length}.")
        if SINGLE_LINE_CONTROLS.search(value):  # course names, teachers, classrooms: shown to every student
            raise ValueError("Control characters are not allowed.")
        return value

    openapi = {"type": "string", "maxLength": max_length, "pattern": SINGLE_LINE_PATTERN,
               **({"nullable": True} if optional else {"minLength": 1})}
    return Rule(parse, openapi, required=not optional)


def choice(values):
    def parse(value):
        if value not in values:
            raise ValueError(f"Must be one of: {', '.join(values)}.")
        return value

    return Rule(parse, {"type": "string", "enum": list(values)})


@functools.lru_cache(maxsize=2048)  # a timetable repeats a few dozen start and end times
def _clock_parse(value):
    match = CLOCK.match(value)
    if match is None:
        raise ValueError("Not a time like 09:15 (HH:MM, 24-hour).")
    return time(int(match[1]), int(match[2]))


def clock():
    def parse(value):
        if not isinstance(value, str):
            raise ValueError("Not a time like 09:15 (HH:MM, 24-hour).")
        return _clock_parse(value)

    return Rule(parse, {"type": "string", "pattern": CLOCK.pattern, "example": "11:15"})


_day_parse = functools.lru_cache(maxsize=64)(day_index)


def weekday():
    def parse(value):
        if not isinstance(value, str):
            raise ValueError("Not a valid string.")
        return _day_parse(value)  # its ValueError names the accepted codes

    return Rule(parse, {"type": "string", "enum": list(DAY_CODES),
                        "description": "PON…NED (MON…SUN also accepted)"})


def iso_date():
    def parse(value):
        if isinstance(value, str) and len(value) == 10:  # fromisoformat alone would also take 20270120
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError("Not a date like 2027-01-20 (YYYY-MM-DD).")

    return Rule(parse, {"type": "string", "format": "date"})


def boolean(default):
    def parse(value):
        if not isinstance(value, bool):
            raise ValueError("Not a valid boolean.")
        return value

    return Rule(parse, {"type": "boolean", "default": default}, required=False, default=default)


def groups(max_total=500):
    def parse(value):
        if not isinstance(value, list) or not value:
            raise ValueError("Must be a non-empty list of student groups.")
        for group in value:
            if not isinstance(group, str) or not GROUP_PATTERN.match(group):
                raise ValueError(f"Group {group!r} is not 1–16 letters and digits.")
        if len(value) != len(set(value)):
            raise ValueError("A group is listed twice.")
        if len(", ".join(value)) > max_total:
            raise ValueError(f"Too many groups (longer than {max_total} characters together).")
        return value

    return Rule(parse, {"type": "array", "items": {"type": "string", "pattern": GROUP_PATTERN.pattern},
                        "minItems": 1, "example": ["101", "102"]})


COURSE_RULES = {"code": text(64), "name": text(200)}
SCHEDULE_RULES = {
    "id": text(64), "course": text(64), "kind": choice(KINDS), "professor": text(200, optional=True),
    "groups": groups(), "day": weekday(), "start": clock(), "end": clock(), "classroom": text(100),
}
EXAM_PERIOD_RULES = {"id": text(64), "name": text(200), "start_date": iso_date(), "end_date": iso_date(),
                     "visible": boolean(default=True)}
EXAM_RULES = {"id": text(64), "period": text(64), "course": text(64), "date": iso_date(), "time": text(50),
              "classroom": text(100), "professor": text(200, optional=True)}


class Records(fields.Field):
    """A JSON list of objects, each checked field by field with a rule table; unknown fields are errors.
    Errors come out as marshmallow's ``{index: {field: [message]}}``."""

    def __init__(self, rules, **kwargs):
        self.rules = list(rules.items())
        self.names = frozenset(rules)
        item_schema = {
            "type": "object", "additionalProperties": False,
            "properties": {name: rule.openapi for name, rule in rules.items()},
            "required": [name for name, rule in rules.items() if rule.required],
        }
        super().__init__(metadata={"type": "array", "items": item_schema}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        items, errors = [], {}
        for index, raw in enumerate(value):
            try:
                items.append(self._item(raw))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return items

    def _item(self, raw):
        if not isinstance(raw, dict):
            raise ValidationError("Not an object.")
        errors = {name: ["Unknown field."] for name in raw.keys() - self.names}
        item = {}
        for name, rule in self.rules:
            if name in raw:
                try:
                    item[name] = rule.parse(raw[name])
                except ValueError as exc:
                    errors[name] = [str(exc)]
            elif rule.required:
                errors[name] = [REQUIRED]
            else:
                item[name] = rule.default
        if errors:
            raise ValidationError(errors)
        return item


# --------------------------------------------------------------------------------------------------
# The envelope
# --------------------------------------------------------------------------------------------------

def _keys(max_length=64):
    return fields.List(fields.String(validate=validate.Length(min=1, max=max_length)))


class DeletedSchema(BaseSchema):
    courses = _keys()
    schedule = _keys()
    exam_periods = _keys()
    exams = _keys()


class PayloadDataSchema(BaseSchema):
    courses = Records(COURSE_RULES)
    schedule = Records(SCHEDULE_RULES)
    exam_periods = Records(EXAM_PERIOD_RULES)
    exams = Records(EXAM_RULES)
    deleted = fields.Nested(DeletedSchema, metadata={"description": "courses.delta only: keys to remove"})


class EnvelopeSchema(BaseSchema):
    type = fields.String(required=True, validate=validate.OneOf([SNAPSHOT, DELTA]))
    timestamp = fields.AwareDateTime(required=True, metadata={
        "description": "When the course service produced this state; older than the last applied → 409"})
    data = fields.Nested(PayloadDataSchema, required=True)
    force = fields.Boolean(load_default=False, truthy={True}, falsy={False}, metadata={
        "description": "Apply a snapshot even if it removes more than WEBHOOK_MAX_DELETE_SHARE of the timetable"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _snapshot_complete(self, _envelope, original, **_kwargs):
        # On the original input, so a missing family is reported alongside the items' own errors.
        if not isinstance(original, dict) or original.get("type") != SNAPSHOT:
            return
        data = original.get("data")
        if not isinstance(data, dict):
            return
        errors = {family: ["A snapshot lists every family; an empty list removes them all."]
                  for family in FAMILIES if family not in data}
        if "deleted" in data:
            errors["deleted"] = ["A snapshot removes by omission; \"deleted\" belongs to courses.delta."]
        if errors:
            raise ValidationError({"data": errors})


def errors_flatten(messages, path=""):
    """marshmallow's nested errors → ``{"data.schedule[17].start": [messages]}``."""
    if not isinstance(messages, dict):
        return {path or "_schema": list(messages) if isinstance(messages, list) else [messages]}
    flat = {}
    for key, value in messages.items():
        if isinstance(key, int):
            sub_path = f"{path}[{key}]"
        elif key == "_schema":
            sub_path = path
        else:
            sub_path = f"{path}.{key}" if path else str(key)
        for location, found in errors_flatten(value, sub_path).items():
            flat.setdefault(location, []).extend(found)
    return flat


# --------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------

class DeliveryOutcomeSchema(BaseSchema):
    delivery = fields.Integer(dump_only=True, metadata={
        "description": "The delivery record's id (for a duplicate: the delivery that applied this webhook-id)"})
    status = fields.String(dump_only=True, metadata={"enum": ["applied", "duplicate"]})
    created = fields.Integer(dump_only=True)
    updated = fields.Integer(dump_only=True)
    removed = fields.Integer(dump_only=True)


class DeliveryQuerySchema(PageQuerySchema):
    """The delivery log's filters (``GET /api/webhooks/deliveries``, the console's Isporuke): all optional, combined
    with AND. Days are UTC days, both ends inclusive (an end before the start matches nothing)."""

    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"description": "Only deliveries with this outcome"})
    type = fields.String(validate=validate.OneOf([SNAPSHOT, DELTA]),
                         metadata={"description": "Only deliveries of this payload type"})
    received_from = fields.Date(metadata={"maxLength": 10,
                                          "description": "Received on or after this day (UTC), YYYY-MM-DD"})
    received_to = fields.Date(metadata={"maxLength": 10,
                                        "description": "Received on or before this day (UTC), YYYY-MM-DD"})
    webhook_id = fields.String(validate=validate.Length(min=1, max=255), metadata={
        "description": "Only deliveries whose webhook-id contains this text (case-insensitive)"})


class DeliverySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    webhook_id = fields.String(dump_only=True)
    received_at = UtcDateTime(dump_only=True)
    source_address = fields.String(dump_only=True, allow_none=True)
    signature = fields.String(dump_only=True, metadata={"enum": ["valid", "replay"]})
    type = fields.String(dump_only=True, allow_none=True)
    payload_timestamp = UtcDateTime(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True, metadata={"enum": ["applied", "duplicate", "rejected", "failed"]})
    http_status = fields.Integer(dump_only=True)
    created = fields.Integer(attribute="created_count", dump_only=True)
    updated = fields.Integer(attribute="updated_count", dump_only=True)
    removed = fields.Integer(attribute="removed_count", dump_only=True)
    original_id = fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "Duplicate: the delivery that was applied. Replay: the delivery replayed."})


def _delivery_changes(delivery):
    if delivery.change is not None:
        return delivery.change.changes
    return ChangeSet().to_json() if delivery.status == "applied" else None


class DeliveryDetailSchema(DeliverySchema):
    changes = fields.Function(_delivery_changes, dump_only=True, allow_none=True, metadata={
        "type": "object", "description": "created / updated {key: {field: [old, new]}} / removed, per family "
                                          "(an applied delivery that changed nothing: all empty; not applied: null)"})
    error = fields.Dict(dump_only=True, allow_none=True)
    body = fields.Function(lambda delivery: delivery.raw_body.decode("utf-8", "replace"), dump_only=True)
