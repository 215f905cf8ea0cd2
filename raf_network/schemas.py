"""Schema pieces every blueprint shares: the strict base schema, common validators, and the one place that
decides how a string the released app reads non-nullably is sent (``AppString``: never null)."""
import re

from marshmallow import RAISE, Schema, ValidationError, fields

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value):
    """A marshmallow validator: text without control characters (NUL cannot even be stored)."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError("Control characters are not allowed.")


class BaseSchema(Schema):
    """Allow-list input: unknown fields are errors (422), never silently dropped."""

    class Meta:
        unknown = RAISE
        ordered = True


class AppString(fields.String):
    """A string the released app parses as a non-nullable ``String``: a null (or absent) value is sent as
    ``""``, never ``null`` — one null makes the app drop the whole list it came in (see
    ../shared/contract/mobile-client.md). Loading is unchanged (``fields.String``); in the OpenAPI spec it is a
    plain, non-nullable string. Fields the contract declares nullable keep ``fields.String(allow_none=True)``."""

    def __init__(self, **kwargs):
        if kwargs.get("allow_none"):
            raise ValueError("AppString is never null; use fields.String(allow_none=True) for a nullable field")
        kwargs.setdefault("dump_default", "")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return ""
        return super()._serialize(value, attr, obj, **kwargs)
