"""Schema pieces every blueprint shares: the strict base schema and common validators."""
import re

from marshmallow import RAISE, Schema, ValidationError

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
