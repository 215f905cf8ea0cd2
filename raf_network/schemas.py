"""Schema pieces every blueprint shares: the strict base schema, common validators and fields, pagination, and the
one place that decides how a string the released app reads non-nullably is sent (``AppString``: never null)."""
import json
import re
from datetime import timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value):
    """A marshmallow validator: text without control characters (NUL cannot even be stored)."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError("Control characters are not allowed.")


# Control characters (Unicode Cc: C0, DEL, C1) a text shown to other people may not hold; a multi-line
# text may hold line breaks and tabs. The same sets, as JSON Schema patterns, document Text in OpenAPI.
_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"
_CONTROLS_MULTILINE = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
_CONTROL_RE = re.compile(f"[{_CONTROLS}]")
# For single-line text checked outside marshmallow (the webhook's rule tables): the regex and its pattern.
SINGLE_LINE_CONTROLS = _CONTROL_RE
SINGLE_LINE_PATTERN = f"^[^{_CONTROLS}]*$"
_CONTROL_MULTILINE_RE = re.compile(f"[{_CONTROLS_MULTILINE}]")


class Text(fields.String):
    """Text that other people see (names, biographies, announcements): no control characters (line breaks
    and tabs only when ``multiline``), trimmed when ``trim``, ``min_length``–``max_length`` characters after
    trimming (``min_length`` ≥ 1: not blank). Documented in OpenAPI with ``minLength``/``maxLength``/
    ``pattern``, so a generator of valid requests produces only what is accepted."""

    def __init__(self, *, max_length, min_length=1, multiline=False, trim=True, **kwargs):
        self.max_length, self.min_length, self.multiline, self.trim = max_length, min_length, multiline, trim
        controls = _CONTROLS_MULTILINE if multiline else _CONTROLS
        # Not blank (when a minimum is asked for, or when the value is trimmed to nothing) and no control anywhere.
        pattern = (f"^[^{controls}]*[^\\s{controls}][^{controls}]*$" if min_length >= 1 and trim
                   else f"^[^{controls}]*$")
        documented = {"minLength": min_length, "maxLength": max_length, "pattern": pattern}
        super().__init__(metadata={**documented, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        # Checked before trimming: Python's strip() also removes some controls (\x1c–\x1f, \x85).
        if (_CONTROL_MULTILINE_RE if self.multiline else _CONTROL_RE).search(text):
            allowed = " (line breaks and tabs are)" if self.multiline else ""
            raise ValidationError(f"Control characters are not allowed{allowed}.")
        if self.trim:
            text = text.strip()
        if len(text) < self.min_length:
            raise ValidationError("Must not be blank." if self.min_length == 1 else
                                  f"Shorter than minimum length {self.min_length}.")
        if len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return text


class UtcDateTime(fields.DateTime):
    """A moment as every response gives it: UTC, ISO 8601, whole seconds, ``2026-12-01T17:46:12Z``. Naive values
    (SQLite hands them back) are UTC. Loads ISO 8601 with an offset (naive input is taken as UTC), as UTC."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        moment = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


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


def nullable_nested2properties(self, field, ret):
    """apispec documents a nullable nested schema (OpenAPI 3.0) as ``anyOf: [{type: object, nullable}, $ref]``,
    which admits *any* object; say what is accepted instead: that schema, or null."""
    if not (isinstance(field, fields.Nested) and field.allow_none and "anyOf" in ret):
        return {}
    refs = [item for item in ret.pop("anyOf") if "$ref" in item]
    return {"nullable": True, "allOf": refs}


def dict_keys2properties(self, field, ret):
    """A ``Dict`` whose keys must match a pattern (and may not be one of ``metadata["reserved_keys"]``):
    OpenAPI 3.0 has no word for key rules, so they are said as JSON Schema draft 4 does — ``patternProperties``
    with ``additionalProperties: false``, reserved names as properties nothing satisfies. Tools that read the
    schema as JSON Schema (schemathesis does) honour it; others ignore the keyword."""
    if not isinstance(field, fields.Dict) or field.key_field is None:
        return {}
    patterns = [validator.regex.pattern for validator in field.key_field.validators
                if isinstance(validator, validate.Regexp)]
    if not patterns:
        return {}
    values = ret.pop("additionalProperties", {})
    documented = {"patternProperties": {patterns[0]: values}, "additionalProperties": False}
    reserved = sorted(field.metadata.get("reserved_keys", ()))
    if reserved:
        documented["properties"] = {key: {"not": {}} for key in reserved}
    return documented


def openapi_conventions_register(api):
    """Attribute functions (apispec's public extension point) that make the spec say what the server does."""
    api.ma_plugin.converter.add_attribute_function(nullable_nested2properties)
    api.ma_plugin.converter.add_attribute_function(dict_keys2properties)


# --------------------------------------------------------------------------------------------------
# Pagination (page numbers): bounded, so no page number can overflow an SQL OFFSET (it was a 500)
# --------------------------------------------------------------------------------------------------

MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100


class PageQuerySchema(BaseSchema):
    """``?page=&page_size=``; subclass it to add an operation's filters (one query schema per operation)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                          metadata={"description": "Page number, from 1"})
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                               metadata={"description": "Items per page"})


PAGINATION_HEADER = "X-Pagination"
PAGINATION_HEADER_DOC = {PAGINATION_HEADER: {
    "description": "JSON object: `total`, `total_pages`, and when there are items `first_page`, `last_page`, "
                   "`page` (if within range), `previous_page`, `next_page`",
    "schema": {"type": "string"},
}}


def pagination_header(*, page, page_size, total):
    """The ``X-Pagination`` header (flask-smorest's format) of one page of ``total`` items."""
    metadata = {"total": total, "total_pages": -(-total // page_size)}
    if total:
        metadata.update(first_page=1, last_page=metadata["total_pages"])
        if page <= metadata["last_page"]:
            metadata["page"] = page
            if page > 1:
                metadata["previous_page"] = page - 1
            if page < metadata["last_page"]:
                metadata["next_page"] = page + 1
    return {PAGINATION_HEADER: json.dumps(metadata)}
