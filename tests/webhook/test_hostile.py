"""Hostile input for the webhook: each attack gets its 4xx in the one error format, and the database and the
cache are byte-for-byte unchanged afterwards — compared with a real `pg_dump` of the database and a dump
of every Redis key, before and after.

Excluded from the comparison, by design and documented: the delivery audit log (`webhook_delivery` and its id
sequence, where signed-but-rejected deliveries are recorded) and the rate limiter's counters (disabled here).
"""
import json
import subprocess
import time

import pytest
import redis

from tests.conftest import report_figure, service_unavailable
from tests.webhook.helpers import URL, deliver, delta, raf_snapshot, signed_headers

pytestmark = pytest.mark.slow
ATTACKS = []


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if ATTACKS:
        report_figure("hostile", f"{len(ATTACKS)} hostile webhook inputs, each answered 4xx with database "
                                 "(pg_dump) and cache (every Redis key) byte-for-byte unchanged")


@pytest.fixture
def target(make_pg_app, pg_url, redis_url):
    app = make_pg_app(RATELIMIT_ENABLED=False, WEBHOOK_MAX_BODY=256 * 1024)
    assert deliver(app, raf_snapshot(timestamp="2026-11-26T09:00:00Z")).status_code == 200
    client = app.test_client()
    for path in ("/api/course-schedule", "/api/courses", "/api/examination-periods"):
        client.get(path)  # the cache holds responses too
    return app, pg_url, redis_url


def database_dump(url):
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        result = subprocess.run(
            ["pg_dump", "--data-only", "--no-owner", "--exclude-table=webhook_delivery",
             "--exclude-table=webhook_delivery_id_seq", plain],
            check=True, capture_output=True, timeout=60)
    except FileNotFoundError:
        service_unavailable("pg_dump", "not installed")
    # Recent pg_dump wraps its output in \restrict/\unrestrict with a random key per run: not data.
    return b"\n".join(line for line in result.stdout.splitlines()
                      if not line.startswith((b"\\restrict ", b"\\unrestrict ")))


def cache_dump(url):
    client = redis.Redis.from_url(url)
    return {key: client.dump(key) for key in sorted(client.scan_iter("*"))}


def _signed(app, body, **kwargs):
    return signed_headers(app, body, **kwargs)


def _post(app, body, headers, content_type="application/json"):
    return app.test_client().post(URL, data=body, headers=headers, content_type=content_type)


def _valid_delta_body():
    return json.dumps(delta(timestamp="2026-11-26T10:00:00Z", schedule=[], courses=[])).encode()


def attack_truncated(app):
    body = json.dumps(raf_snapshot(timestamp="2026-11-26T11:00:00Z")).encode()[:5000]
    return _post(app, body, _signed(app, body)), 400


def attack_truncated_after_signing(app):
    body = json.dumps(raf_snapshot(timestamp="2026-11-26T11:00:00Z")).encode()
    return _post(app, body[:5000], _signed(app, body)), 401


def attack_huge(app):
    body = b'{"type": "courses.delta", "pad": "' + b"x" * (300 * 1024) + b'"}'
    return _post(app, body, _signed(app, body)), 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_wrong_content_type(target, content_type):
    app = target[0]
    body = _valid_delta_body()
    _check(target, lambda: (_post(app, body, _signed(app, body), content_type=content_type), 415))


def attack_deeply_nested(app):
    body = b'{"type": "courses.delta", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return _post(app, body, _signed(app, body)), 400


def attack_nested_inside_a_field(app):
    payload = delta(schedule=[{"id": {"a": [[[[{"b": [1]}]]]]}}])
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 422


def attack_invalid_utf8(app):
    body = (b'{"type": "courses.delta", "timestamp": "2026-11-26T10:00:00Z",'
            b' "data": {"courses": [{"code": "\xff\xfe"}]}}')
    return _post(app, body, _signed(app, body)), 400


def attack_duplicated_keys(app):
    body = (b'{"type": "courses.delta", "type": "courses.snapshot", "timestamp": "2026-11-26T10:00:00Z",'
            b' "data": {"courses": [], "schedule": [], "exam_periods": [], "exams": []}}')
    return _post(app, body, _signed(app, body)), 400


def attack_numbers_for_strings(app):
    payload = delta(courses=[{"code": 17, "name": 3.5}],
                    schedule=[{"id": 1, "course": 2, "kind": 3, "professor": 4, "groups": 5, "day": 6,
                               "start": 7, "end": 8, "classroom": 9}])
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 422


def attack_sql_and_html_where_codes_belong(app):
    payload = delta(schedule=[{"id": "x", "course": "UUP'; DROP TABLE course; --", "kind": "<script>alert(1)</script>",
                               "professor": "p", "groups": ["101"], "day": "PON' OR '1'='1", "start": "11:15",
                               "end": "13:00", "classroom": "<img src=x onerror=alert(1)>"}])
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 422


def attack_nan_and_infinity(app):
    body = b'{"type": "courses.delta", "timestamp": "2026-11-26T10:00:00Z", "data": {"courses": [{"code": NaN}]}}'
    return _post(app, body, _signed(app, body)), 400


def attack_lone_surrogate(app):
    """Valid JSON syntax, but not text: before the shared decoder, psycopg's UnicodeEncodeError was a 500."""
    payload = delta(timestamp="2026-11-26T10:00:00Z", courses=[{"code": "surrogate", "name": "x"}])
    body = json.dumps(payload).encode().replace(b'"name": "x"', b'"name": "\\ud800"')
    return _post(app, body, _signed(app, body)), 400


def attack_control_characters_in_names(app):
    payload = delta(timestamp="2026-11-26T10:00:00Z", courses=[{"code": "ctl", "name": "Uvod\x1b[2J\x07"}])
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 422


def attack_nested_just_past_the_bound(app):
    body = b'{"type": "courses.delta", "data": ' + b"[" * 65 + b"]" * 65 + b"}"
    return _post(app, body, _signed(app, body)), 400


def attack_stale_replay(app):
    """A captured delivery sent again ten minutes later: its signed timestamp is now stale."""
    body = _valid_delta_body()
    return _post(app, body, _signed(app, body, timestamp=int(time.time()) - 600)), 401


def attack_clock_skew_future(app):
    body = _valid_delta_body()
    return _post(app, body, _signed(app, body, timestamp=int(time.time()) + 360)), 401


def attack_timestamp_not_a_number(app):
    body = _valid_delta_body()
    headers = _signed(app, body)
    headers["webhook-timestamp"] = "tomorrow"
    return _post(app, body, headers), 401


def attack_forged_signature(app):
    body = _valid_delta_body()
    headers = _signed(app, body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    return _post(app, body, headers), 401


def attack_no_headers(app):
    return _post(app, _valid_delta_body(), {}), 401


def attack_stale_snapshot(app):
    payload = raf_snapshot(timestamp="2026-11-25T09:00:00Z")  # older than the applied one
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 409


def attack_mass_deletion(app):
    payload = raf_snapshot(timestamp="2026-11-26T12:00:00Z")
    payload["data"]["schedule"] = payload["data"]["schedule"][:10]
    body = json.dumps(payload).encode()
    return _post(app, body, _signed(app, body)), 409


ATTACK_FUNCTIONS = [value for name, value in sorted(globals().items()) if name.startswith("attack_")]


def _check(target, attack):
    app, pg_url, redis_url = target
    database_before, cache_before = database_dump(pg_url), cache_dump(redis_url)
    response, expected = attack()
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["code"] == expected and body["message"] and "Traceback" not in response.get_data(as_text=True)
    assert database_dump(pg_url) == database_before
    cache_after = cache_dump(redis_url)
    changed = sorted(key for key in set(cache_before) | set(cache_after)
                     if cache_before.get(key) != cache_after.get(key))
    assert changed == [], f"cache keys changed: {changed[:10]}"
    ATTACKS.append(response.status_code)


@pytest.mark.parametrize("attack", ATTACK_FUNCTIONS, ids=[f.__name__[len("attack_"):] for f in ATTACK_FUNCTIONS])
def test_hostile_input_is_refused_and_changes_nothing(target, attack):
    _check(target, lambda: attack(target[0]))


def test_an_immediate_replay_is_a_duplicate_that_changes_nothing(target):
    app, pg_url, redis_url = target
    body = json.dumps(delta(timestamp="2026-11-26T10:00:00Z", schedule=[], courses=[
        {"code": "new-course", "name": "<b>Bold</b> '; DROP TABLE course; --"}])).encode()
    headers = _signed(app, body)
    assert _post(app, body, headers).get_json()["status"] == "applied"
    database_before, cache_before = database_dump(pg_url), cache_dump(redis_url)
    again = _post(app, body, headers)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert database_dump(pg_url) == database_before and cache_dump(redis_url) == cache_before


def test_sql_and_html_in_free_text_are_stored_and_served_verbatim(target):
    """Free text is data: it is stored as sent and served JSON-encoded, never interpreted."""
    app = target[0]
    name = "<script>alert(1)</script> '; DROP TABLE course; --"
    response = deliver(app, delta(timestamp="2026-11-26T10:30:00Z", courses=[{"code": "evil", "name": name}]))
    assert response.status_code == 200
    courses = app.test_client().get("/api/courses")
    assert name in [course["name"] for course in courses.get_json()]
    # Served as JSON that browsers will not sniff or run as a page.
    assert courses.mimetype == "application/json" and courses.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in courses.headers["Content-Security-Policy"]
