"""The released app's subscription calls and the personal timetable: own data only, constant query cost."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.models import DAY_CODES, ScheduleEntry
from raf_network.extensions import db
from tests.conftest import count_queries
from tests.factories import bearer, user_create

PATH = "/api/course-schedule-student-subscriptions"


@pytest.fixture
def entry_ids(seeded):
    """Timetable entry ids in timetable order, as the public timetable lists them."""
    return [entry["id"] for entry in seeded.test_client().get("/api/course-schedule").get_json()]


def _subscribe(app, headers, entry_id):
    return app.test_client().post(PATH, json={"course_schedule_entry": entry_id}, headers=headers)


def _listed(app, headers):
    response = app.test_client().get(PATH, headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_subscribe_list_unsubscribe_as_the_released_app_does(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    response = _subscribe(app, headers, entry_ids[5])
    assert response.status_code == 201
    subscription = response.get_json()
    assert isinstance(subscription["id"], int)
    public = {entry["id"]: entry for entry in app.test_client().get("/api/course-schedule").get_json()}
    assert subscription["course_schedule_entry"] == public[entry_ids[5]]
    entry = subscription["course_schedule_entry"]
    assert entry["type"] in ("LEC", "LAB") and entry["day"] in DAY_CODES and entry["course"]["name"]

    assert _listed(app, headers) == [subscription]
    response = app.test_client().delete(f"{PATH}?course_schedule_student_subscription={subscription['id']}",
                                        headers=headers)
    assert 200 <= response.status_code < 300
    assert _listed(app, headers) == []


def test_subscribing_twice_returns_the_existing_subscription(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    first = _subscribe(app, headers, entry_ids[0])
    second = _subscribe(app, headers, entry_ids[0])
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json() == first.get_json()
    assert len(_listed(app, headers)) == 1


def test_string_entry_id_from_a_lenient_client_is_accepted(seeded, entry_ids):
    assert _subscribe(seeded, bearer(seeded, user_create(seeded)), str(entry_ids[0])).status_code == 201


@pytest.mark.parametrize("body", [{}, {"course_schedule_entry": "abc"}, {"course_schedule_entry": 0},
                                  {"course_schedule_entry": 1, "user": 2}, {"course_schedule_entry": None}])
def test_invalid_subscribe_body_is_422(seeded, body):
    response = seeded.test_client().post(PATH, json=body, headers=bearer(seeded, user_create(seeded)))
    assert response.status_code == 422 and response.get_json()["code"] == 422


def test_unknown_or_removed_entry_is_404(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    assert _subscribe(app, headers, 10**6).status_code == 404
    with app.app_context():
        db.session.execute(update(ScheduleEntry).where(ScheduleEntry.id == entry_ids[0])
                           .values(deleted_at=datetime.now(timezone.utc)))
        db.session.commit()
    response = _subscribe(app, headers, entry_ids[0])
    assert response.status_code == 404 and response.get_json()["message"]
    assert _listed(app, headers) == []


def test_subscriptions_of_removed_entries_are_hidden(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    _subscribe(app, headers, entry_ids[0])
    _subscribe(app, headers, entry_ids[1])
    with app.app_context():
        external_id = db.session.get(ScheduleEntry, entry_ids[0]).external_id
        catalogue_write(catalogue_plan(deleted={"schedule": [external_id]}))
        db.session.commit()
    assert [s["course_schedule_entry"]["id"] for s in _listed(app, headers)] == [entry_ids[1]]
    assert [e["id"] for e in app.test_client().get("/api/me/schedule", headers=headers).get_json()] == [entry_ids[1]]


def test_list_is_in_timetable_order_and_costs_constant_queries(seeded, entry_ids):
    app = seeded
    few, many = bearer(app, user_create(app)), bearer(app, user_create(app))
    _subscribe(app, few, entry_ids[0])
    chosen = entry_ids[::-30]  # out of order on purpose
    for entry_id in chosen:
        _subscribe(app, many, entry_id)
    client = app.test_client()
    with count_queries(app) as one_statements:
        assert len(client.get(PATH, headers=few).get_json()) == 1
    with count_queries(app) as many_statements:
        listed = client.get(PATH, headers=many).get_json()
    assert len(listed) == len(chosen) > 10
    assert len(many_statements) == len(one_statements) <= 3
    assert [s["course_schedule_entry"]["id"] for s in listed] == sorted(chosen, key=entry_ids.index)

    with count_queries(app) as schedule_one:
        client.get("/api/me/schedule", headers=few)
    with count_queries(app) as schedule_many:
        schedule = client.get("/api/me/schedule", headers=many).get_json()
    assert len(schedule_many) == len(schedule_one) <= 3
    assert [entry["id"] for entry in schedule] == sorted(chosen, key=entry_ids.index)


def test_another_users_subscription_is_invisible_and_undeletable(seeded, entry_ids):
    app = seeded
    owner, intruder = bearer(app, user_create(app)), bearer(app, user_create(app))
    subscription_id = _subscribe(app, owner, entry_ids[0]).get_json()["id"]
    client = app.test_client()
    assert _listed(app, intruder) == []
    assert app.test_client().get("/api/me/schedule", headers=intruder).get_json() == []
    response = client.delete(f"{PATH}?course_schedule_student_subscription={subscription_id}", headers=intruder)
    assert response.status_code == 404 and response.get_json()["code"] == 404
    assert client.delete(f"{PATH}/{subscription_id}", headers=intruder).status_code == 404
    assert [s["id"] for s in _listed(app, owner)] == [subscription_id]
    # The intruder subscribing to the same entry gets a subscription of their own.
    theirs = _subscribe(app, intruder, entry_ids[0])
    assert theirs.status_code == 201 and theirs.get_json()["id"] != subscription_id


def test_restful_delete(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    subscription_id = _subscribe(app, headers, entry_ids[0]).get_json()["id"]
    client = app.test_client()
    assert client.delete(f"{PATH}/{subscription_id}", headers=headers).status_code == 204
    assert client.delete(f"{PATH}/{subscription_id}", headers=headers).status_code == 404
    assert client.delete(f"{PATH}?course_schedule_student_subscription={subscription_id}",
                         headers=headers).status_code == 404


@pytest.mark.parametrize("query", ["", "?course_schedule_student_subscription=abc",
                                   "?course_schedule_student_subscription=1&extra=2"])
def test_invalid_unsubscribe_query_is_422(seeded, query):
    response = seeded.test_client().delete(PATH + query, headers=bearer(seeded, user_create(seeded)))
    assert response.status_code == 422


@pytest.mark.parametrize("method, path", [
    ("get", PATH), ("post", PATH), ("delete", PATH + "?course_schedule_student_subscription=1"),
    ("delete", PATH + "/1"), ("get", "/api/me/schedule"),
])
def test_subscriptions_need_a_token(app, method, path):
    response = getattr(app.test_client(), method)(path, json={"course_schedule_entry": 1})
    assert response.status_code == 401 and response.get_json()["code"] == 401


def test_every_role_may_keep_a_timetable(seeded, entry_ids):
    for role in ("student", "alumni", "faculty_administrator", "admin"):
        headers = bearer(seeded, user_create(seeded, role=role))
        assert _subscribe(seeded, headers, entry_ids[0]).status_code == 201


def test_entry_shape_matches_the_public_timetable_in_my_schedule(seeded, entry_ids):
    app, headers = seeded, bearer(seeded, user_create(seeded))
    _subscribe(app, headers, entry_ids[3])
    public = {entry["id"]: entry for entry in app.test_client().get("/api/course-schedule").get_json()}
    assert app.test_client().get("/api/me/schedule", headers=headers).get_json() == [public[entry_ids[3]]]
