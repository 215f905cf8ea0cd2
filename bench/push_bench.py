"""Push fan-out benchmark: one timetable change, 5,000 subscribed students × 2 devices (10,000 tokens), one worker.

    .venv/bin/python bench/push_bench.py [--students 5000] [--runs 2]

Creates and drops a PostgreSQL database of its own (``BENCH_DATABASE_URL``'s server, default the local one),
uses Redis DB 10 (``BENCH_REDIS_URL``; flushed), answers FCM from a local stub (tests/stubs/fcm.py, an offline
service account) and runs one real RQ worker (``SimpleWorker`` with its scheduler) in a child process. Reports the
time from the commit of the change until every push reached the stub, SQL statements per 500-message batch, and
the worker's RSS before and its peak after each run (flat memory = the peak does not grow from run to run).
Prints Markdown.
"""
import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")  # flushed: pick a DB nobody else uses
BATCH = 500


def _memory():
    status = Path("/proc/self/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(values["VmRSS"].split()[0]) // 1024, int(values["VmHWM"].split()[0]) // 1024


# --------------------------------------------------------------------------------------------------
# The worker (child process)
# --------------------------------------------------------------------------------------------------

def worker_main(stats_path):
    from rq import SimpleWorker
    from sqlalchemy import event

    from raf_network import create_app
    from raf_network.extensions import db
    from raf_network.jobs import queue_get, redis_connection

    app = create_app("development")
    statements = [0]
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.__setitem__(0, statements[0] + 1))
        import raf_network.notifications.push  # noqa: F401  (imported up front, as after a first job)

        before = _memory()

        def report():
            while True:
                rss, hwm = _memory()
                partial = Path(f"{stats_path}.tmp")  # replaced in one step: the driver never reads half a file
                partial.write_text(json.dumps(
                    {"ready": True, "statements": statements[0], "rss_before": before[0], "rss": rss, "hwm": hwm,
                     "cpu": time.process_time()}))
                os.replace(partial, stats_path)
                time.sleep(0.05)

        threading.Thread(target=report, daemon=True).start()
        worker = SimpleWorker([queue_get("notifications")], connection=redis_connection())
        worker.work(with_scheduler=True, logging_level="WARNING")


# --------------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------------

def _database_create():
    import psycopg

    admin = psycopg.connect(SERVER_URL, autocommit=True)
    name = f"raf_pushbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return admin, name, urlunsplit(urlsplit(SERVER_URL)._replace(path="/" + name))


def _populate(app, students):
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from raf_network.courses.models import ScheduleEntry
    from raf_network.extensions import db
    from raf_network.users.models import Device, Subscription, User

    with app.app_context():
        upgrade()
        _timetable(classroom="Kolarac2")
        entry_id = db.session.scalar(select(ScheduleEntry.id))
        db.session.execute(insert(User), [
            {"email": f"s{n}@bench.test", "role": "student", "first_name": "S", "last_name": str(n),
             "locale": "en" if n % 5 == 0 else "sr-Latn"} for n in range(students)])
        user_ids = list(db.session.scalars(select(User.id).order_by(User.id)))
        db.session.execute(insert(Subscription), [{"user_id": u, "schedule_entry_id": entry_id} for u in user_ids])
        db.session.execute(insert(Device), [
            {"user_id": u, "token": f"tok-{u}-{k}", "platform": "android" if k else "ios"}
            for u in user_ids for k in range(2)])
        db.session.commit()


def _timetable(*, classroom):
    from raf_network.courses.catalogue import catalogue_plan, catalogue_write

    # Thursday: with quiet hours unset no push waits, and "urgent" does not change the path.
    plan = catalogue_plan(
        courses=[{"code": "uup", "name": "Uvod u programiranje"}],
        schedule=[{"id": "bench-1", "course": "uup", "kind": "P", "professor": "Prof. A", "groups": ["101"],
                   "day": 3, "start": clock(10, 15), "end": clock(12, 0), "classroom": classroom}],
        replace={"schedule"},
    )
    return catalogue_write(plan)


def _stats(path):
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def _idle(app, stats_path):
    """The job finished: nothing queued or started, and the statement counter is stable."""
    from raf_network.jobs import queue_get

    with app.app_context():
        queue = queue_get("notifications")
        previous = None
        while True:
            time.sleep(0.3)
            current = _stats(stats_path)["statements"]
            if not queue.count and not queue.started_job_registry.count and current == previous:
                return current
            previous = current


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="also write the Markdown report to this file")
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return

    import redis

    from raf_network import create_app
    from raf_network.extensions import db
    from raf_network.notifications.catalogue_changes import timetable_changes_notify
    from tests.stubs.fcm import FcmStub, service_account

    redis.Redis.from_url(REDIS_URL).flushdb()
    admin, name, database_url = _database_create()
    stub = FcmStub(record_bodies=False).start()
    workdir = Path(tempfile.mkdtemp(prefix="push-bench-"))
    credentials = service_account(workdir, token_uri=f"{stub.url}/token")
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "JOBS_INLINE": "false", "PUSH_BACKEND": "fcm", "FIREBASE_CREDENTIALS": str(credentials),
           "FCM_URL": stub.url, "LOG_LEVEL": "WARNING", "PUSH_BATCH_SIZE": str(BATCH)}
    os.environ.update({key: env[key] for key in ("DATABASE_URL", "REDIS_URL", "JOBS_INLINE", "LOG_LEVEL")})
    worker = None
    rows = []
    try:
        app = create_app("development")
        _populate(app, args.students)
        tokens = args.students * 2
        stats_path = workdir / "worker-stats.json"
        worker = subprocess.Popen([sys.executable, __file__, "--worker", str(stats_path)], env=env, cwd=ROOT)
        _wait(lambda: (_stats(stats_path) or {}).get("ready"), 60, "the worker")
        for run in range(1, args.runs + 1):
            before = _stats(stats_path)
            sent_before = stub.sent
            started, driver_cpu = time.perf_counter(), time.process_time()
            with app.app_context():
                changes = _timetable(classroom=f"Raf0{run}")
                db.session.commit()
                timetable_changes_notify(changes=changes.to_json(), source=f"bench:{run}")
                db.session.commit()  # the push job is enqueued after this commit
            _wait(lambda target=sent_before + tokens: stub.sent >= target, 600, "the pushes")
            elapsed = time.perf_counter() - started
            driver_cpu = time.process_time() - driver_cpu
            statements = _idle(app, stats_path) - before["statements"]
            after = _stats(stats_path)
            rows.append((run, tokens, elapsed, statements, statements / (tokens / BATCH),
                         before["rss"], after["hwm"], after["cpu"] - before["cpu"], driver_cpu))
        first_rss = _stats(stats_path)["rss_before"]
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        stub.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        redis.Redis.from_url(REDIS_URL).flushdb()

    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        print(f"\nPush fan-out: 1 changed entry, {args.students} subscribed students × 2 devices, one RQ worker, "
              f"FCM stub on 127.0.0.1, {os.cpu_count()} CPUs\n")
        print("| run | tokens | commit → last push at stub | pushes/s | SQL statements (job) | statements per 500 "
              "| worker RSS before (MB) | worker peak RSS after (MB) | worker CPU | driver + stub CPU |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for run, tokens, elapsed, statements, per_batch, rss_before, hwm, worker_cpu, driver_cpu in rows:
            print(f"| {run} | {tokens} | {elapsed:.2f} s | {tokens / elapsed:.0f} | {statements} | {per_batch:.1f} "
                  f"| {rss_before} | {hwm} | {worker_cpu:.1f} s | {driver_cpu:.1f} s |")
        print(f"\nWorker RSS when idle before the first run: {first_rss} MB (the push sender imported). "
              "Statements are the worker's push job (planning + sending deliveries); the summary "
              "(timetable_changes_notify) runs in the driver, as the webhook job would before enqueueing it.")
    print(report.getvalue())
    if args.output:  # bench/run.sh splices this Markdown into docs/benchmarks.md
        Path(args.output).write_text(report.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    main()
