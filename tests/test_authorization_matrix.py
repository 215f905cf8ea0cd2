"""Authorization matrix: every operation in the OpenAPI spec × every kind of caller → the expected status.

Callers: anonymous, the student who owns the resources in the path, another student, alumni, a
faculty administrator and an admin. The same table is rendered into the README (between the
`authorization-matrix` markers); a test keeps the two identical, and another fails when an operation is
added to the API without a row here.
"""
import io
from datetime import time
from pathlib import Path

import pytest
from PIL import Image

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.extensions import db
from raf_network.network.models import Comment, Company, EmploymentHistory, Post, Profile
from raf_network.network.pictures import picture_store
from raf_network.notifications.models import Notification, NotificationRecipient
from raf_network.users.models import Device, Subscription, User
from raf_network.users.timetable import calendar_token_rotate
from raf_network.webhook.models import WebhookDelivery
from tests.conftest import report_figure
from tests.factories import bearer, user_create

CALLERS = ("anonymous", "student", "other_student", "alumni", "faculty_administrator", "admin")
ROLE_OF = {"student": "student", "other_student": "student", "alumni": "alumni",
           "faculty_administrator": "faculty_administrator", "admin": "admin"}

PUBLIC_200 = dict.fromkeys(CALLERS, 200)
SIGNED_IN = {"anonymous": 401, **dict.fromkeys(CALLERS[1:], 200)}
OWNER_ONLY = {"anonymous": 401, "student": 204, **dict.fromkeys(CALLERS[2:], 404)}
STAFF_ONLY = {"anonymous": 401, "student": 403, "other_student": 403, "alumni": 403,
              "faculty_administrator": 200, "admin": 200}


def _signed_in(status):
    return {"anonymous": 401, **dict.fromkeys(CALLERS[1:], status)}


def _owner_or_staff(owner_status, staff_status):
    """The owner (`student`), and staff as moderators; everyone else signed in is refused (403: the resource is
    shown to all of them, there is nothing to hide)."""
    return {"anonymous": 401, "student": owner_status, "other_student": 403, "alumni": 403,
            "faculty_administrator": staff_status, "admin": staff_status}


class Raw:
    """A request body that is not JSON (e.g. a picture)."""

    def __init__(self, data, content_type):
        self.data, self.content_type = data, content_type


def _png():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


# (method, spec path, concrete path template, JSON body or None, expected status by caller, note)
# {entry}, {other_entry}, {subscription}, {device}, {secret}, {delivery}, {course} are filled per test.
MATRIX = [
    ("GET", "/healthz", "/healthz", None, PUBLIC_200, "liveness"),
    ("GET", "/readyz", "/readyz", None, PUBLIC_200, "readiness"),
    ("GET", "/metrics", "/metrics", None, PUBLIC_200, "bearer METRICS_TOKEN when configured"),
    ("GET", "/api/courses", "/api/courses", None, PUBLIC_200, "public catalogue"),
    ("GET", "/api/courses/{course_id}", "/api/courses/{course}", None, PUBLIC_200, "public catalogue"),
    ("GET", "/api/course-schedule", "/api/course-schedule", None, PUBLIC_200, "public catalogue"),
    ("GET", "/api/examination-periods", "/api/examination-periods", None, PUBLIC_200, "public catalogue"),
    ("GET", "/api/examination-entries", "/api/examination-entries?examination_period=1", None, PUBLIC_200,
     "public catalogue"),
    ("POST", "/api/google-login", "/api/google-login", {"id_token": "not-a-google-token"},
     dict.fromkeys(CALLERS, 401), "the Google ID token is the credential"),
    ("POST", "/api/auth/refresh", "/api/auth/refresh", {"refresh_token": "not-a-refresh-token"},
     dict.fromkeys(CALLERS, 401), "the refresh token is the credential"),
    ("POST", "/api/auth/logout", "/api/auth/logout", None, _signed_in(204), "own session"),
    ("GET", "/api/me", "/api/me", None, SIGNED_IN, "own profile"),
    ("PATCH", "/api/me", "/api/me", {"bio": "Hello"}, SIGNED_IN, "own profile"),
    ("DELETE", "/api/me", "/api/me", None, _signed_in(204), "own account"),
    ("GET", "/api/me/schedule", "/api/me/schedule", None, SIGNED_IN, "own subscriptions"),
    ("POST", "/api/me/calendar-token", "/api/me/calendar-token", None, _signed_in(201), "own feed"),
    ("GET", "/api/calendar/{secret}.ics", "/api/calendar/{secret}.ics", None, PUBLIC_200,
     "the URL's secret is the credential"),
    ("GET", "/api/devices", "/api/devices", None, SIGNED_IN, "own devices only"),
    ("POST", "/api/devices", "/api/devices", {"token": "fresh-device-token-0123456789", "platform": "android"},
     _signed_in(201), "registers for the caller"),
    ("DELETE", "/api/devices/{token}", "/api/devices/{device}", None, OWNER_ONLY, "another's device is 404"),
    ("GET", "/api/course-schedule-student-subscriptions", "/api/course-schedule-student-subscriptions", None,
     SIGNED_IN, "own subscriptions only"),
    ("POST", "/api/course-schedule-student-subscriptions", "/api/course-schedule-student-subscriptions",
     {"course_schedule_entry": "{other_entry}"}, _signed_in(201), "subscribes the caller"),
    ("DELETE", "/api/course-schedule-student-subscriptions",
     "/api/course-schedule-student-subscriptions?course_schedule_student_subscription={subscription}", None,
     OWNER_ONLY, "another's subscription is 404"),
    ("DELETE", "/api/course-schedule-student-subscriptions/{subscription_id}",
     "/api/course-schedule-student-subscriptions/{subscription}", None, OWNER_ONLY,
     "another's subscription is 404"),
    ("POST", "/api/webhooks/courses", "/api/webhooks/courses", {"type": "courses.delta"},
     dict.fromkeys(CALLERS, 401), "the webhook signature is the credential"),
    ("GET", "/api/webhooks/deliveries", "/api/webhooks/deliveries", None, STAFF_ONLY, "staff only"),
    ("GET", "/api/webhooks/deliveries/{delivery_id}", "/api/webhooks/deliveries/{delivery}", None, STAFF_ONLY,
     "staff only"),
    ("POST", "/api/notifications/broadcast", "/api/notifications/broadcast",
     {"title": "Hello", "body": "World", "audience": {"all": True}, "dry_run": True},
     {**STAFF_ONLY, "faculty_administrator": 202, "admin": 202}, "staff only"),
    ("GET", "/api/notifications", "/api/notifications", None, SIGNED_IN, "own inbox only"),
    ("POST", "/api/notifications/{notification_id}/read", "/api/notifications/{notification}/read", None,
     OWNER_ONLY, "a notification not in the caller's inbox is 404"),
    ("POST", "/api/notifications/read-all", "/api/notifications/read-all", None, _signed_in(204), "own inbox"),
    ("GET", "/api/me/notification-preferences", "/api/me/notification-preferences", None, SIGNED_IN,
     "own preferences"),
    ("PATCH", "/api/me/notification-preferences", "/api/me/notification-preferences", {"announcements": False},
     SIGNED_IN, "own preferences"),
    ("GET", "/api/posts", "/api/posts", None, SIGNED_IN, "the feed"),
    ("POST", "/api/posts", "/api/posts", {"title": "Hello", "text": "World"},
     {"anonymous": 401, "student": 403, "other_student": 403, "alumni": 201, "faculty_administrator": 201,
      "admin": 201}, "alumni and staff; `notify` staff only"),
    ("PATCH", "/api/posts/{post_id}", "/api/posts/{post}", {"title": "Edited"}, _owner_or_staff(200, 403),
     "the author only"),
    ("DELETE", "/api/posts/{post_id}", "/api/posts/{post}", None, _owner_or_staff(204, 204),
     "the author, or staff (moderation)"),
    ("POST", "/api/posts/{post_id}/comments", "/api/posts/{post}/comments", {"text": "Nice"}, _signed_in(201),
     "anyone signed in"),
    ("DELETE", "/api/posts/{post_id}/comments/{comment_id}", "/api/posts/{post}/comments/{comment}", None,
     _owner_or_staff(204, 204), "the author, or staff (moderation)"),
    ("GET", "/api/alumni-users", "/api/alumni-users", None, SIGNED_IN, "the directory"),
    ("GET", "/api/companies", "/api/companies", None, SIGNED_IN, "network data"),
    ("GET", "/api/academic-history", "/api/academic-history?alumni_user={profile}", None, SIGNED_IN,
     "network data"),
    ("GET", "/api/employment-history", "/api/employment-history?alumni_user={profile}", None, SIGNED_IN,
     "network data"),
    ("GET", "/api/me/profile", "/api/me/profile", None, SIGNED_IN, "own network profile (404 before it exists)"),
    ("PATCH", "/api/me/profile", "/api/me/profile", {"visible": True}, SIGNED_IN, "own network profile"),
    ("PUT", "/api/me/profile/picture", "/api/me/profile/picture", Raw(_png(), "image/png"), SIGNED_IN,
     "own picture"),
    ("DELETE", "/api/me/profile/picture", "/api/me/profile/picture", None, _signed_in(204), "own picture"),
    ("POST", "/api/me/employment-history", "/api/me/employment-history", {"company_name": "Firma", "role": "Dev"},
     _signed_in(201), "own jobs"),
    ("PATCH", "/api/me/employment-history/{employment_id}", "/api/me/employment-history/{job}", {"role": "Lead"},
     {"anonymous": 401, "student": 200, **dict.fromkeys(CALLERS[2:], 404)}, "another's job is 404"),
    ("DELETE", "/api/me/employment-history/{employment_id}", "/api/me/employment-history/{job}", None, OWNER_ONLY,
     "another's job is 404"),
    ("GET", "/media/{key}.{extension}", "/media/{media}", None, PUBLIC_200,
     "a picture: its unguessable sha256 key is the credential"),
]

README = Path(__file__).resolve().parent.parent / "README.md"
CHECKED = []


def matrix_markdown():
    short = {"anonymous": "anon", "student": "student (owner)", "other_student": "other student",
             "alumni": "alumni", "faculty_administrator": "faculty admin", "admin": "admin"}
    lines = ["| operation | " + " | ".join(short[c] for c in CALLERS) + " | note |",
             "| --- |" + " --- |" * (len(CALLERS) + 1)]
    for method, spec_path, _, _, expected, note in MATRIX:
        lines.append(f"| `{method} {spec_path}` | " + " | ".join(str(expected[c]) for c in CALLERS)
                     + f" | {note} |")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if CHECKED:
        report_figure("authorization", f"{len(CHECKED)} cells checked ({len(MATRIX)} operations × "
                                       f"{len(CALLERS)} callers)")


def _world(app):
    """A small catalogue, one user per caller kind, and resources owned by `student`."""
    with app.app_context():
        plan = catalogue_plan(
            courses=[{"code": "UUP", "name": "Uvod u programiranje"}],
            schedule=[{"id": f"e{n}", "course": "UUP", "kind": "P", "professor": "Urosevic Dragan",
                       "groups": ["101"], "day": n, "start": time(9), "end": time(11), "classroom": "Kolarac2"}
                      for n in (0, 1)],
        )
        catalogue_write(plan)
        db.session.commit()
    ids = {caller: user_create(app, role=ROLE_OF[caller]) for caller in CALLERS[1:]}
    with app.app_context():
        from raf_network.courses.models import Course, ScheduleEntry

        entries = {e.external_id: e.id for e in db.session.query(ScheduleEntry)}
        student = db.session.get(User, ids["student"])
        subscription = Subscription(user_id=student.id, schedule_entry_id=entries["e0"])
        device = Device(user_id=student.id, token="student-device-token-0123456789", platform="android")
        delivery = WebhookDelivery(webhook_id="msg-matrix", signature="valid", status="applied",
                                   http_status=200, raw_body=b"{}")
        notification = Notification(category="announcement", source="matrix", texts={
            "sr-Latn": {"title": "Zdravo", "body": "Svete"}, "en": {"title": "Hello", "body": "World"}})
        db.session.add_all([subscription, device, delivery, notification])
        db.session.flush()
        db.session.add(NotificationRecipient(notification_id=notification.id, user_id=student.id, source="matrix"))
        # The network: every caller has a profile; the student wrote a post, a comment, and entered a job.
        media = picture_store(data=_png(), max_bytes=app.config["MAX_PICTURE_BYTES"])
        profiles = {caller: Profile(user_id=user_id, first_name=caller, last_name="", edited_fields=[])
                    for caller, user_id in ids.items()}
        profiles["student"].picture_key = media.key
        company = Company(name="Firma")
        db.session.add_all([*profiles.values(), company])
        db.session.flush()
        post = Post(author_id=profiles["student"].id, title="Mine", text="Post")
        db.session.add(post)
        db.session.flush()
        comment = Comment(post_id=post.id, author_id=profiles["student"].id, text="Comment")
        job = EmploymentHistory(profile_id=profiles["student"].id, company_id=company.id, role="Dev", source="self")
        db.session.add_all([comment, job])
        db.session.commit()
        values = {"entry": entries["e0"], "other_entry": entries["e1"], "subscription": subscription.id,
                  "device": device.token, "delivery": delivery.id, "notification": notification.id,
                  "course": db.session.query(Course).first().id,
                  "secret": calendar_token_rotate(user=student), "post": post.id, "comment": comment.id,
                  "job": job.id, "profile": profiles["student"].id, "media": media.path.removeprefix("/media/")}
    return ids, values


def _fill(template, values):
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, str):
        filled = template.format(**values)
        return int(filled) if template.startswith("{") and filled.isdigit() else filled
    return template


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method, spec_path, path, body, expected, note", MATRIX,
                         ids=[f"{row[0]} {row[1]}" for row in MATRIX])
def test_matrix_cell(embedded_app, caller, method, spec_path, path, body, expected, note):
    embedded_app.config["RATELIMIT_ENABLED"] = False
    ids, values = _world(embedded_app)
    headers = bearer(embedded_app, ids[caller]) if caller != "anonymous" else {}
    if isinstance(body, Raw):
        content = {"data": body.data, "content_type": body.content_type}
    else:
        content = {"json": _fill(body, values)}
    response = embedded_app.test_client().open(_fill(path, values), method=method, headers=headers, **content)
    CHECKED.append((method, spec_path, caller))
    assert response.status_code == expected[caller], response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert {"code", "status", "message"} <= set(response.get_json())


def test_every_operation_has_a_row(embedded_app):
    spec = embedded_app.test_client().get("/api/openapi.json").get_json()
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    assert documented == {(row[0], row[1]) for row in MATRIX}


def test_readme_mirrors_the_matrix():
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- authorization-matrix:begin -->", "<!-- authorization-matrix:end -->"
    assert begin in text and end in text, "README lacks the authorization matrix markers"
    assert text.split(begin)[1].split(end)[0].strip() == matrix_markdown()
