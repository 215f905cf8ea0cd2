"""Hostile input on every endpoint, found by walking the OpenAPI spec (so an operation added later is covered
without touching this file): deeply nested and non-text JSON, bodies sent anonymously, unknown and
out-of-range query parameters. Each gets its 4xx in the one error format and writes nothing."""
import json
import re

import pytest
from sqlalchemy import func, select

from raf_network.extensions import db
from raf_network.users.models import User
from tests.factories import bearer, user_create

METHODS = {"get", "post", "put", "patch", "delete"}
NESTED = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"


def _spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def _operations(spec, *, body=None, secured=None):
    """(METHOD, path with every path parameter filled with a plausible value, operation)."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            takes_json = "application/json" in operation.get("requestBody", {}).get("content", {})
            if body is not None and takes_json != body:
                continue
            if secured is not None and bool(operation.get("security")) != secured:
                continue
            concrete = path.replace("{token}", "some-device-token").replace("{secret}", "x" * 20)
            concrete = concrete.replace("{key}", "0" * 64).replace("{ext}", "jpg")  # a stored picture's address
            concrete = re.sub(r"\{[^}]+\}", "1", concrete)  # every id-like path parameter
            yield method.upper(), concrete, operation


def _assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    return body


def _user_rows(app):
    with app.app_context():
        return db.session.execute(select(User.id, User.first_name, User.bio).order_by(User.id)).all()


# ---- JSON that the decoder refuses -------------------------------------------------------------------

def test_deeply_nested_json_is_400_on_every_json_endpoint(embedded_app):
    embedded_app.config["RATELIMIT_ENABLED"] = False
    headers = bearer(embedded_app, user_create(embedded_app, role="admin"))
    client = embedded_app.test_client()
    checked = []
    for method, path, _operation in _operations(_spec(embedded_app), body=True):
        if path == "/api/webhooks/courses":
            continue  # signed first (401 unsigned); the signed nested body is in tests/webhook/test_hostile.py
        response = client.open(path, method=method, data=NESTED, content_type="application/json",
                               headers=headers)
        assert "nested deeper" in _assert_error(response, 400)["message"], (method, path)
        checked.append(path)
    assert len(checked) >= 8


@pytest.mark.parametrize("path", ["/api/google-login", "/api/auth/refresh"])
def test_deeply_nested_json_is_400_on_anonymous_endpoints(embedded_app, path):
    response = embedded_app.test_client().post(path, data=NESTED, content_type="application/json")
    _assert_error(response, 400)


def test_nesting_within_the_bound_reaches_validation(embedded_app):
    body = b'{"id_token": ' + b"[" * 60 + b"]" * 60 + b"}"
    response = embedded_app.test_client().post("/api/google-login", data=body, content_type="application/json")
    _assert_error(response, 422)


@pytest.mark.parametrize("raw, why", [
    (b'{"bio": "\\ud800"}', "a lone high surrogate"),
    (b'{"bio": "x\\udfff"}', "a lone low surrogate"),
    (b'{"first_name": "\\udc00\\ud800"}', "reversed pair"),
    (b'{"links": ["https://raf.rs/\\ud83d"]}', "inside a list"),
    (b'{"bio": "ok", "\\ud800": 1}', "in a key"),
])
def test_lone_surrogates_are_400_and_nothing_is_written(app, raw, why):
    user_id = user_create(app)
    before = _user_rows(app)
    response = app.test_client().patch("/api/me", data=raw, content_type="application/json",
                                       headers=bearer(app, user_id))
    assert "surrogate" in _assert_error(response, 400)["message"], why
    assert _user_rows(app) == before


def test_a_surrogate_pair_is_text_and_accepted(app):
    user_id = user_create(app)
    response = app.test_client().patch("/api/me", data=b'{"bio": "\\ud83d\\ude00 hi"}',
                                       content_type="application/json", headers=bearer(app, user_id))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["bio"] == "\U0001F600 hi"


@pytest.mark.parametrize("raw", [
    b'{"bio": "a", "bio": "b"}',
    b'{"bio": NaN}',
    b'{"bio": Infinity}',
    b'{"phone": 1e999}',
    b'{"bio": "\xff"}',
    b'{"bio": ',
])
def test_duplicate_keys_constants_and_broken_json_are_400(app, raw):
    user_id = user_create(app)
    before = _user_rows(app)
    response = app.test_client().patch("/api/me", data=raw, content_type="application/json",
                                       headers=bearer(app, user_id))
    _assert_error(response, 400)
    assert _user_rows(app) == before


def test_request_get_json_uses_the_same_decoder(embedded_app):
    with embedded_app.test_request_context("/", method="POST", data=b'{"a": 1, "a": 2}',
                                           content_type="application/json"):
        from flask import request

        from raf_network.json_input import JsonRefused

        with pytest.raises(JsonRefused):
            request.get_json()


def test_depth_prescan_ignores_brackets_inside_strings():
    from raf_network.json_input import json_depth, json_parse

    assert json_depth('{"a": "[[[[[[[[[[[[", "b": ["\\"]]]"]}') == 2
    assert json_parse('["' + "[" * 1000 + '"]') == ["[" * 1000]
    # An unterminated string runs to the end, consumed once (not retried at every later quote: quadratic).
    assert json_depth('["\\"\\"\\"' * 100_000) == 1


def test_refused_bodies_write_nothing(app):
    """A refused sign-in body creates no account."""
    app.config["RATELIMIT_ENABLED"] = False
    client = app.test_client()
    for raw in (NESTED, b'{"id_token": "\\ud800"}', b'{"id_token": "a", "id_token": "b"}'):
        _assert_error(client.post("/api/google-login", data=raw, content_type="application/json"), 400)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_body_that_is_not_json_at_all_is_400_in_the_error_format(embedded_app):
    response = embedded_app.test_client().post("/api/auth/refresh", data=json.dumps({"x": 1})[:-1],
                                               content_type="application/json")
    _assert_error(response, 400)


# ---- authentication comes before the body ------------------------------------------------------------

def test_every_protected_operation_authenticates_before_reading_its_input(embedded_app):
    """Anonymous requests with a bad body and an unknown query parameter: 401 (never 422, 400 or 404
    from parsing), on every operation the spec marks as needing a bearer token."""
    client = embedded_app.test_client()
    protected = list(_operations(_spec(embedded_app), secured=True))
    assert len(protected) >= 20
    for method, path, _operation in protected:
        for kwargs in ({"data": b'{"no_such_field": 1}', "content_type": "application/json"},
                       {"data": NESTED, "content_type": "application/json"},
                       {"query_string": {"no_such_parameter": "1", "page": "-5"}}):
            response = client.open(path, method=method, **kwargs)
            _assert_error(response, 401)
            assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_role_is_403_before_its_body_is_read(embedded_app):
    headers = bearer(embedded_app, user_create(embedded_app, role="student"))
    response = embedded_app.test_client().post("/api/notifications/broadcast", json={"nonsense": True},
                                               headers=headers)
    _assert_error(response, 403)


# ---- personal responses are never cached by others; the catalogue is --------------------------------

def test_personal_responses_are_private_and_not_stored(app):
    app.config["RATELIMIT_ENABLED"] = False
    headers = bearer(app, user_create(app, role="admin"))
    client = app.test_client()
    checked = 0
    for method, path, _operation in _operations(_spec(app), secured=True):
        if method != "GET":
            continue
        response = client.get(path, headers=headers)
        if "ETag" in response.headers:  # kept by the caller's device only, and revalidated (the network's lists)
            assert response.headers["Cache-Control"] == "private, max-age=0, must-revalidate", path
        else:
            assert response.headers["Cache-Control"] == "private, no-store", (path, response.status_code)
        checked += 1
    assert checked >= 8
    for response in (client.patch("/api/me", json={"bio": "hi"}, headers=headers),
                     client.get("/api/me"),  # 401 of a personal endpoint
                     client.post("/api/auth/refresh", json={"refresh_token": "nope"})):
        assert response.headers["Cache-Control"] == "private, no-store", response.status_code


def test_catalogue_reads_stay_public_and_cacheable(app):
    headers = bearer(app, user_create(app))
    for path in ("/api/courses", "/api/course-schedule", "/api/examination-periods"):
        response = app.test_client().get(path, headers=headers)  # the released app sends its token anyway
        assert response.headers["Cache-Control"].startswith("public, max-age="), path


# ---- query parameters: bounded, and only the declared ones ----------------------------------------------

HUGE = "9223372036854775807"


@pytest.mark.parametrize("path, query", [
    ("/api/webhooks/deliveries", {"page": HUGE}),
    ("/api/webhooks/deliveries", {"page": "100001"}),
    ("/api/webhooks/deliveries", {"page": "0"}),
    ("/api/webhooks/deliveries", {"page_size": "101"}),
    ("/api/webhooks/deliveries", {"page_size": HUGE}),
    ("/api/notifications", {"limit": HUGE}),
    ("/api/notifications", {"before": HUGE}),
    ("/api/notifications", {"limit": "0"}),
])
def test_pagination_parameters_past_their_bound_are_422(app, path, query):
    headers = bearer(app, user_create(app, role="admin"))
    body = _assert_error(app.test_client().get(path, query_string=query, headers=headers), 422)
    assert set(body["errors"]["query"]) == set(query)


def test_the_largest_page_is_an_empty_page_not_an_error(app):
    headers = bearer(app, user_create(app, role="admin"))
    response = app.test_client().get("/api/webhooks/deliveries?page=100000&page_size=100", headers=headers)
    assert response.status_code == 200 and response.get_json() == []
    assert json.loads(response.headers["X-Pagination"]) == {"total": 0, "total_pages": 0}


def test_every_query_parameter_in_the_spec_is_bounded(embedded_app):
    """Integers have a minimum and a maximum, strings a maxLength or an enum: nothing reaches SQL unbounded."""
    checked = 0
    for _method, path, operation in _operations(_spec(embedded_app)):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            schema = parameter["schema"]
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (path, parameter["name"])
            elif schema.get("type") == "string":
                assert "maxLength" in schema or "enum" in schema, (path, parameter["name"])
            checked += 1
    assert checked >= 10


def test_an_undeclared_query_parameter_is_422_on_every_operation(embedded_app):
    """One rule for all: including operations that declare no query parameters at all."""
    embedded_app.config["RATELIMIT_ENABLED"] = False
    headers = bearer(embedded_app, user_create(embedded_app, role="admin"))
    client = embedded_app.test_client()
    checked = 0
    for method, path, _operation in _operations(_spec(embedded_app)):
        response = client.open(path, method=method, query_string={"no_such_parameter": "1"}, headers=headers)
        body = _assert_error(response, 422)
        assert body["errors"]["query"]["no_such_parameter"] == ["Unknown field."], (method, path)
        checked += 1
    assert checked >= 30


# ---- text shown to other people, and moments in responses --------------------------------------------

def test_text_fields_trim_refuse_controls_and_allow_newlines_only_where_multiline():
    from marshmallow import ValidationError

    from raf_network.schemas import Text

    name, bio = Text(max_length=5), Text(max_length=20, min_length=0, multiline=True)
    assert name.deserialize("  Ana  ") == "Ana"
    assert bio.deserialize("first\r\nsecond\tthird") == "first\r\nsecond\tthird"
    assert bio.deserialize("   ") == ""
    for bad in ("A\nB", "A\tB", "\x00", "\x1b", "\x7f", "\x9b", "   ", "", "abcdef"):
        with pytest.raises(ValidationError):
            name.deserialize(bad)
    assert name.deserialize("  abcde  ") == "abcde"  # lengths count after trimming
    for bad in ("\x00", "\x07", "\x1b[2J"):
        with pytest.raises(ValidationError):
            bio.deserialize(bad)


def test_text_documents_what_it_accepts(embedded_app):
    import re

    schemas = _spec(embedded_app)["components"]["schemas"]
    first_name = schemas["ProfileUpdate"]["properties"]["first_name"]
    assert (first_name["minLength"], first_name["maxLength"]) == (1, 100)
    pattern = re.compile(first_name["pattern"])
    assert pattern.search("Ana") and pattern.search(" Ana ")
    assert not pattern.search("Ana\x1b") and not pattern.search("   ") and not pattern.search("A\nB")
    bio = re.compile(schemas["ProfileUpdate"]["properties"]["bio"]["pattern"])
    assert bio.search("a\nb") and bio.search("") and not bio.search("a\x00")


def test_broadcast_text_refuses_control_characters(embedded_app):
    headers = bearer(embedded_app, user_create(embedded_app, role="admin"))
    client = embedded_app.test_client()
    for body in ({"title": "Hi\x1b", "body": "x"}, {"title": "Hi", "body": "\x00"}, {"title": " ", "body": "x"},
                 {"title": "Two\nlines", "body": "x"}):
        response = client.post("/api/notifications/broadcast", headers=headers,
                               json={**body, "audience": {"all": True}, "dry_run": True})
        assert response.status_code == 422, body
    ok = client.post("/api/notifications/broadcast", headers=headers,
                     json={"title": " Hi ", "body": "line one\nline two", "audience": {"all": True}, "dry_run": True})
    assert ok.status_code == 202


def test_every_moment_in_a_response_is_utc_whole_seconds(app):
    """created_at, last_seen_at, received_at, read_at … all read `YYYY-MM-DDTHH:MM:SSZ`, on SQLite (naive
    values) as on PostgreSQL (aware values)."""
    import re

    moment = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    headers = bearer(app, user_create(app, role="admin"))
    client = app.test_client()
    client.post("/api/devices", json={"token": "fcm-moment-token", "platform": "android"}, headers=headers)
    client.post("/api/notifications/broadcast", headers=headers,
                json={"title": "Hi", "body": "x", "audience": {"all": True}})
    client.post("/api/notifications/read-all", headers=headers)
    found = []
    for path in ("/api/me", "/api/devices", "/api/notifications"):
        body = client.get(path, headers=headers).get_json()
        pending = [body]
        while pending:
            value = pending.pop()
            if isinstance(value, dict):
                found += [(path, key, item) for key, item in value.items() if key.endswith("_at") and item]
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)
    assert {key for _, key, _ in found} >= {"created_at", "last_seen_at", "read_at"}
    for path, key, value in found:
        assert moment.match(value), (path, key, value)
