"""The one decoder of JSON that clients send: every ``@blp.arguments`` body (the strict webargs parser),
``request.get_json()`` (the app's JSON provider) and the course-service webhook go through ``json_parse``.

It refuses, as 400 in the one error format and before anything is stored:
- text that is not UTF-8, or not JSON (RFC 8259) — ``NaN``/``Infinity`` and numbers too large for a float
  included;
- nesting deeper than ``MAX_DEPTH`` arrays/objects, found by a linear pre-scan before the parser (which
  recurses, so thousands of levels would exhaust the stack and end in a 500);
- an object with a key given twice (parsers disagree on which value counts);
- a lone UTF-16 surrogate (``"\\ud800"``): valid JSON syntax, but not text — no database can store it.
"""
import json
import math
import re
from itertools import accumulate

from flask import Request
from flask.json.provider import DefaultJSONProvider

from raf_network.errors import ApiError

# Far beyond any body this API takes (the webhook's envelope is 5 levels deep), far below the stack.
MAX_DEPTH = 64

# A JSON string, also one left unterminated at the end of the text: every attempt at a '"' matches and
# consumes, so substituting it is linear (a pattern that could fail there would retry at every later '"').
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A \uD800–\uDFFF escape: only then can the document hold a surrogate (raw UTF-8 cannot encode one).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonRefused(ApiError, ValueError):
    """The body is not JSON this API accepts (see the module docstring). Also a ValueError, as a JSON provider's
    ``loads`` must raise: ``get_json(silent=True)`` and Flask's own 400 for ``request.get_json()`` rely on it."""

    code = 400


def json_parse(data, *, max_depth=MAX_DEPTH):
    """``bytes`` (UTF-8) or ``str`` → the document. Raises ``JsonRefused`` (400)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        text = data
    # Counting is far cheaper than scanning: a body with few brackets cannot be deep.
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise JsonRefused(f"the JSON body is nested deeper than {max_depth} levels")
    try:
        document = json.loads(text, parse_constant=_constant_refuse, parse_float=_finite_float,
                              object_pairs_hook=_object_without_duplicates)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so are ours
        raise JsonRefused(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        _surrogates_refuse(document)
    return document


def json_depth(text):
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings not counted. Linear in
    the text and run in C (regex, map, accumulate): no Python loop per character."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _object_without_duplicates(pairs):
    document = dict(pairs)
    if len(document) != len(pairs):
        seen, duplicates = set(), set()
        for key, _ in pairs:
            (duplicates if key in seen else seen).add(key)
        raise ValueError(f"duplicated key(s) {', '.join(sorted(duplicates))}")
    return document


def _constant_refuse(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _surrogates_refuse(document):
    """Walk the (depth-bounded) document; every string and key must be encodable as UTF-8."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("the body contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff "
                                  "escape), which is not text") from None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, decoding with ``json_parse`` (``request.get_json()`` included); encoding is
    Flask's own."""

    def loads(self, s, **kwargs):
        return json_parse(s)


class StrictRequest(Request):
    """Flask's request, whose ``get_json()`` refuses a body with ``json_parse``'s own reason (not Flask's generic
    400 message)."""

    def on_json_loading_failed(self, e):
        if isinstance(e, JsonRefused):
            raise e
        return super().on_json_loading_failed(e)
