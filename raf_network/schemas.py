"""Schema pieces every blueprint shares: the strict base schema and common validators."""
import re
from datetime import timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

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


# --------------------------------------------------------------------------------------------------
# Shared text and date-time fields. Minimal versions with the agreed signatures; the hardening branch's
# versions (same names, same behaviour) replace these at merge.
# --------------------------------------------------------------------------------------------------

MULTILINE_CONTROL_CHARACTERS = CONTROL_CHARACTERS  # everything but \t, \n and \r
SINGLE_LINE_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class Text(fields.String):
    """Text people write for others to read: trimmed (unless ``trim=False``), without control characters
    (newlines and tabs only when ``multiline``), between ``min_length`` and ``max_length`` characters after
    trimming. The bounds are documented in the OpenAPI spec (``minLength``/``maxLength``)."""

    def __init__(self, *, max_length, min_length=1, multiline=False, trim=True, **kwargs):
        self.multiline = multiline
        self.trim = trim
        validators = [validate.Length(min=min_length, max=max_length), self._printable]
        extra = kwargs.pop("validate", None)
        if extra is not None:
            validators.extend(extra if isinstance(extra, (list, tuple)) else [extra])
        super().__init__(validate=validators, **kwargs)

    def _printable(self, value):
        pattern = MULTILINE_CONTROL_CHARACTERS if self.multiline else SINGLE_LINE_CONTROL_CHARACTERS
        if pattern.search(value):
            raise ValidationError("Control characters are not allowed." if self.multiline
                                  else "Control characters (including line breaks) are not allowed.")

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.strip() if self.trim else text


class UtcDateTime(fields.DateTime):
    """A moment as ISO 8601 in UTC, to the second: ``2026-12-01T17:46:12Z``. Naive values (SQLite hands them
    back) are UTC, as everything is stored in UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
