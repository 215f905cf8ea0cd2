"""Marshmallow schemas of the users blueprint: the app's ``User`` and ``Subscription`` shapes, sign-in,
profile edits and devices. Bodies are allow-listed (``BaseSchema``: unknown fields are 422)."""
from marshmallow import fields, validate

from raf_network.courses.schemas import ScheduleEntrySchema
from raf_network.schemas import AppString, BaseSchema, Text, UtcDateTime
from raf_network.users.models import LOCALES, PLATFORMS, ROLES

ID_RANGE = validate.Range(min=1, max=2**31 - 1)
# An http(s) URL with a host name (or IPv4 address) and printable ASCII after it; what is checked is exactly
# what the spec shows (marshmallow's Url validator accepts things no pattern describes).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
LINK_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?(?:[/?#][\x21-\x7e]*)?$"

# FCM registration tokens are URL-safe base64 with ':' separators ("cXk…:APA91b…", ~150–300 characters
# today). Nothing else is accepted, so that every stored token can be named in DELETE /api/devices/<token>
# and none carries a NUL or spaces; 512 is the column's size.
FCM_TOKEN_PATTERN = r"^[A-Za-z0-9_:-]+$"
FCM_TOKEN = [validate.Length(min=1, max=512),
             validate.Regexp(FCM_TOKEN_PATTERN, error="not an FCM registration token (letters, digits, _ : -)")]


# ---- sign-in and sessions ----

class GoogleLoginSchema(BaseSchema):
    id_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=8192),
                             metadata={"description": "The Google ID token (a JWT) from Sign in with Google"})
    access_token = fields.String(load_only=True, allow_none=True, validate=validate.Length(max=8192), metadata={
        "description": "Sent by the released app; accepted and ignored (the ID token alone proves identity)"})


class RefreshSchema(BaseSchema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class LogoutSchema(BaseSchema):
    device_token = fields.String(load_only=True, validate=FCM_TOKEN, metadata={
        "description": "FCM token of a device of yours to remove; default: the device this session registered"})


class TokensSchema(BaseSchema):
    token = fields.String(dump_only=True, metadata={"description": "Access token (bearer): what the app reads"})
    token_type = fields.String(dump_only=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(dump_only=True, metadata={"description": "Access-token lifetime in seconds"})
    refresh_token = fields.String(dump_only=True, metadata={
        "description": "Single-use; exchange it at /api/auth/refresh for the next pair"})


# ---- users ----

class UserSchema(BaseSchema):
    """The app's ``User`` (id, first_name, last_name, email, role) plus the profile, as responses give it (input
    rules live in ``ProfileUpdateSchema``: a name Google never gave is "" here, never null)."""

    id = fields.Integer(dump_only=True)
    # The contract's five fields are read non-nullably: AppString sends "" rather than null.
    first_name = AppString(dump_only=True)
    last_name = AppString(dump_only=True)
    email = AppString(dump_only=True)
    role = AppString(dump_only=True, metadata={"enum": list(ROLES)})
    student_number = fields.String(dump_only=True, allow_none=True, metadata={"example": "RN10/21"})
    phone = fields.String(dump_only=True, allow_none=True, metadata={"example": "+381 64 123 4567"})
    bio = fields.String(dump_only=True, allow_none=True)
    links = fields.List(fields.String(), dump_only=True, metadata={"description": "Up to 10 http(s) links"})
    locale = fields.String(dump_only=True, metadata={"enum": list(LOCALES)})
    created_at = UtcDateTime(dump_only=True)


class SignInSchema(TokensSchema):
    user = fields.Nested(UserSchema, dump_only=True)


# ---- devices ----

class DeviceSchema(BaseSchema):
    token = fields.String(required=True, validate=FCM_TOKEN, metadata={"description": "FCM registration token"})
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    app_version = Text(max_length=32, min_length=0, allow_none=True, load_default=None)
    locale = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(LOCALES))
    created_at = UtcDateTime(dump_only=True)
    last_seen_at = UtcDateTime(dump_only=True)


# ---- timetable subscriptions ----

class SubscriptionSchema(BaseSchema):
    """The app's ``Subscription``."""

    id = fields.Integer(dump_only=True)
    course_schedule_entry = fields.Nested(ScheduleEntrySchema, attribute="schedule_entry", dump_only=True)


class SubscriptionCreateSchema(BaseSchema):
    course_schedule_entry = fields.Integer(required=True, strict=False, validate=ID_RANGE,
                                           metadata={"description": "Timetable entry id"})


class SubscriptionDeleteQuerySchema(BaseSchema):
    course_schedule_student_subscription = fields.Integer(required=True, strict=False, validate=ID_RANGE,
                                                          metadata={"description": "Subscription id"})


class CalendarTokenSchema(BaseSchema):
    url = fields.String(dump_only=True, metadata={
        "description": "The secret iCalendar feed URL; shown once, rotating it kills the previous one"})


class ProfileUpdateSchema(BaseSchema):
    """PATCH /api/me: the editable fields of ``User`` (any subset); every other field is unknown here (422)."""

    first_name = Text(max_length=100)
    last_name = Text(max_length=100)
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()/-]{4,30}$", error="not a phone number"), metadata={"example": "+381 64 123 4567"})
    bio = Text(max_length=1000, min_length=0, multiline=True, allow_none=True)
    links = fields.List(
        fields.String(validate=[validate.Length(max=300), validate.Regexp(LINK_PATTERN, error="Not a valid URL.")],
                      metadata={"description": "An http(s) URL"}),
        validate=validate.Length(max=10), metadata={"description": "Up to 10 http(s) links"})
    locale = fields.String(validate=validate.OneOf(LOCALES))
