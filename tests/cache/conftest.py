"""Helpers for the response-cache tests: a small timetable to change, and waiting for a subscriber."""
from datetime import time

from raf_network.cache import cache_families_invalidate
from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.extensions import db
from tests.processes import wait_until

COURSE = {"code": "uup", "name": "Uvod u programiranje"}


def timetable_set(app, classroom, *, invalidate=True):
    """One timetable entry in ``classroom``, written (and invalidated) in one transaction, as the catalogue does."""
    with app.app_context():
        plan = catalogue_plan(courses=[COURSE], replace={"schedule"}, schedule=[{
            "id": "uup-p", "course": "uup", "kind": "P", "professor": "Prof. A", "groups": ["101"], "day": 0,
            "start": time(10, 15), "end": time(12), "classroom": classroom}])
        changes = catalogue_write(plan)
        if invalidate:
            cache_families_invalidate(["schedule", "courses"])
        db.session.commit()
        return changes


def subscriber(app):
    return app.extensions["response_cache"].subscriber


def subscribed(app, timeout=10.0):
    """Start the app's subscriber (its first hot read does) and wait until it is healthy."""
    app.test_client().get("/api/course-schedule")
    return wait_until(lambda: subscriber(app).generations is not None, timeout, interval=0.005)


def classroom_served(client):
    entries = client.get("/api/course-schedule").get_json()
    return entries[0]["classroom"] if entries else None
