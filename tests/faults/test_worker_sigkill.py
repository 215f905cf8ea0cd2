"""The worker SIGKILLed in the middle of a 10,000-device fan-out, then started again: every device gets its push,
none is lost, and the only copies are pushes that were in flight at the kill — with the real `flask worker`
process, PostgreSQL, a private Redis and the FCM stub counting requests per token."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from raf_network.extensions import db
from raf_network.notifications.broadcasts import broadcast_create
from raf_network.notifications.models import Notification, PushDelivery
from raf_network.users.models import Device, User
from tests.conftest import _make_app, report_figure
from tests.processes import ROOT, wait_until
from tests.stubs.fcm import FcmStub, service_account

pytestmark = pytest.mark.slow

STUDENTS = 5000
DEVICES = STUDENTS * 2
CHUNK = 50  # PUSH_CHUNK_SIZE: the most pushes a run has claimed and not yet recorded


@pytest.fixture
def fcm_stub():
    stub = FcmStub(record_bodies=False).start()  # tokens and answers only: 10,000+ requests
    yield stub
    stub.stop()


@pytest.fixture
def fcm_settings(fcm_stub, tmp_path):
    credentials = service_account(tmp_path, token_uri=f"{fcm_stub.url}/token")
    return {"PUSH_BACKEND": "fcm", "FIREBASE_CREDENTIALS": str(credentials), "FCM_URL": fcm_stub.url}


class WorkerProcess:
    """`flask --app wsgi worker` (the Procfile's worker) in a session of its own: SIGKILL takes the worker and its
    scheduler child together, as when a container or host dies."""

    def __init__(self, env):
        self.log = tempfile.NamedTemporaryFile(prefix="raf-worker-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", "worker",
             "--queue", "notifications"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        else:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # a scheduler child left behind, if any
            except ProcessLookupError:
                pass
        self.log.close()

    def output(self):
        return Path(self.log.name).read_text()[-3000:]


def _population(app):
    """5,000 students with two devices each, in a few bulk statements."""
    with app.app_context():
        db.session.execute(insert(User), [
            {"email": f"s{n}@sigkill.test", "role": "student", "first_name": "S", "last_name": str(n),
             "locale": "en" if n % 5 == 0 else "sr-Latn"} for n in range(STUDENTS)])
        user_ids = list(db.session.scalars(select(User.id).order_by(User.id)))
        db.session.execute(insert(Device), [
            {"user_id": user_id, "token": f"tok-{user_id}-{k}", "platform": "android" if k else "ios"}
            for user_id in user_ids for k in range(2)])
        db.session.commit()
        return set(db.session.scalars(select(Device.token)))


def _deliveries(app, notification_id):
    with app.app_context():
        rows = db.session.execute(select(PushDelivery.status, func.count()).where(
            PushDelivery.notification_id == notification_id).group_by(PushDelivery.status)).all()
        db.session.rollback()
        return dict(rows)


def _notification(app, notification_id):
    with app.app_context():
        notification = db.session.get(Notification, notification_id)
        db.session.expunge_all()
        return notification


def test_a_worker_killed_mid_fan_out_and_restarted_loses_no_push(make_pg_app, pg_url, private_redis, fcm_stub,
                                                                  fcm_settings):
    from rq import Worker

    make_pg_app()  # empty tables
    app = _make_app(pg_url, redis_url=private_redis.url, JOBS_INLINE=False, **fcm_settings)
    tokens = _population(app)
    assert len(tokens) == DEVICES
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "fault-test-secret-key-" + "x" * 20,
           "WEBHOOK_SECRET": "whsec_" + "A" * 32, "DATABASE_URL": pg_url, "REDIS_URL": private_redis.url,
           "PUSH_BACKEND": "fcm", "FIREBASE_CREDENTIALS": fcm_settings["FIREBASE_CREDENTIALS"],
           "FCM_URL": fcm_stub.url, "PUSH_CHUNK_SIZE": str(CHUNK), "LOG_LEVEL": "WARNING"}

    first = WorkerProcess(env)
    second = None
    try:
        with app.app_context():
            from raf_network.jobs import redis_connection

            assert wait_until(lambda: Worker.count(connection=redis_connection()) >= 1, 30), first.output()
        with app.app_context():
            notification_id = broadcast_create(sender_id=None, title="Obaveštenje", body="Sutra nema nastave",
                                               audience={"all": True})["notification_id"]
        # Mid fan-out: the stub has some, far from all; anywhere within a chunk.
        kill_after = DEVICES // 5 + random.randrange(CHUNK)
        assert wait_until(lambda: fcm_stub.received >= kill_after, 60, 0.002), first.output()
        first.kill()  # the fault
        killed_at = time.monotonic()
        received_at_kill = fcm_stub.received
        time.sleep(0.5)  # requests the dead worker had already written are still answered by the stub
        received_before_restart = fcm_stub.received
        at_kill = _deliveries(app, notification_id)
        in_flight = at_kill.get("sending", 0)  # claimed, not recorded: the only pushes that can be copied
        assert 0 < received_at_kill < DEVICES // 2
        assert in_flight <= CHUNK

        second = WorkerProcess(env)  # recovers the interrupted fan-out when it starts
        assert wait_until(lambda: _notification(app, notification_id).pushed_at is not None, 60, 0.2), \
            second.output()
        recovery_seconds = time.monotonic() - killed_at
    finally:
        first.close()
        if second is not None:
            second.close()

    per_token = Counter(fcm_stub.tokens_received())
    lost = tokens - set(per_token)
    duplicates = sum(copies - 1 for copies in per_token.values())
    assert not lost, f"{len(lost)} device(s) never got the push"
    assert set(per_token) == tokens
    # Copies are possible only for the pushes in flight at the kill (FCM has no idempotency key); their collapse
    # id makes a phone show one. Our records are exactly-once: one outcome per device, counted once.
    assert duplicates <= in_flight
    assert _deliveries(app, notification_id) == {"sent": DEVICES}
    notification = _notification(app, notification_id)
    assert notification.sent_count == DEVICES and notification.failed_count == 0
    report_figure("faults", f"worker SIGKILLed mid fan-out and restarted: {DEVICES} devices, "
                            f"{received_at_kill} pushes at the stub at the kill ({received_before_restart} once "
                            f"in-flight requests landed), {at_kill.get('sent', 0)} recorded sent, {in_flight} "
                            f"claimed in flight; after restart: 0 lost, {duplicates} duplicate(s) (bound: "
                            f"{in_flight} in flight ≤ {CHUNK}), all {DEVICES} recorded sent once, done "
                            f"{recovery_seconds:.1f} s after the kill")
