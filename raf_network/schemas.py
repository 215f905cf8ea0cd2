"""Schema pieces every blueprint shares: the strict base schema, common validators and fields, pagination."""
import json
import re

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
