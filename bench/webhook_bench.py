"""Webhook apply benchmark: a 10,000-entry snapshot, its identical re-delivery, and a one-entry delta.

Runs the real HTTP endpoint (Flask test client, signed requests) against a PostgreSQL database it creates
and drops itself (on ``BENCH_DATABASE_URL``'s server, default the test server), without Redis unless
``BENCH_REDIS_URL`` is set. Prints a Markdown table of times and SQL statement counts.

    .venv/bin/python bench/webhook_bench.py [--entries 10000] [--courses 500] [--repeats 5]

Targets: snapshot ≤ 3 s; identical re-delivery ≤ 0.5 s with zero catalogue writes; one-entry delta ≤ 50 ms.
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from config import database_url_normalize  # noqa: E402

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
CATALOGUE_TABLES = {"course", "schedule_entry", "exam_period", "exam_entry"}
DAYS = ("PON", "UTO", "SRE", "ČET", "PET")
KINDS = ("P", "V", "D", "PiV")


def snapshot_generate(*, entries, courses, timestamp):
    """A plausible faculty-sized snapshot: ``courses`` courses sharing ``entries`` timetable entries."""
    course_items = [{"code": f"C{number:04d}", "name": f"Predmet {number:04d}"} for number in range(courses)]
    schedule = []
    for number in range(entries):
        start_hour = 8 + number % 12
        schedule.append({
            "id": f"entry-{number:05d}", "course": course_items[number % courses]["code"],
            "kind": KINDS[number % 4], "professor": f"Profesor {number % 300}",
            "groups": [str(101 + number % 9), str(201 + number % 7)], "day": DAYS[number % 5],
            "start": f"{start_hour:02d}:15", "end": f"{start_hour + 1:02d}:00", "classroom": f"Raf{number % 40:02d}",
        })
    periods = [{"id": "jan-2027", "name": "Januarski rok 2027", "start_date": "2027-01-18",
                "end_date": "2027-02-07", "visible": True}]
    exams = [{"id": f"jan-2027-{item['code']}", "period": "jan-2027", "course": item["code"],
              "date": "2027-01-20", "time": "9-12", "classroom": "Raf06 (a)", "professor": None}
             for item in course_items]
    return {"type": "courses.snapshot", "timestamp": timestamp,
            "data": {"courses": course_items, "schedule": schedule, "exam_periods": periods, "exams": exams}}


@contextmanager
def database():
    import psycopg

    admin_url = SERVER_URL.replace("postgresql+psycopg://", "postgresql://")
    admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    name = f"raf_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url_normalize(urlunsplit(urlsplit(admin_url)._replace(path="/" + name)))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def app_create(url):
    from flask_migrate import upgrade

    from raf_network import create_app

    os.environ["DATABASE_URL"] = url
    redis_url = os.environ.get("BENCH_REDIS_URL")
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    app = create_app("testing", JOBS_INLINE=True, RATELIMIT_ENABLED=False, LOG_LEVEL="WARNING")
    with app.app_context():
        upgrade()
    return app


class Statements:
    """Counts the SQL statements the engine executes (and those writing catalogue tables)."""

    def __init__(self, engine):
        self.all = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, *_args):
        self.all.append(statement)

    def take(self):
        taken, self.all = self.all, []
        writes = 0
        for statement in taken:
            words = statement.split()
            position = {"INSERT": 2, "UPDATE": 1, "DELETE": 2}.get(words[0].upper() if words else "")
            if position is not None and len(words) > position and words[position].strip('"') in CATALOGUE_TABLES:
                writes += 1
        return len(taken), writes


def deliver(app, client, payload):
    from raf_network.webhook.services import signature_sign

    body = json.dumps(payload, ensure_ascii=False).encode()
    webhook_id, timestamp = "msg_" + uuid.uuid4().hex, str(int(time.time()))
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "content-type": "application/json",
               "webhook-signature": signature_sign(webhook_id=webhook_id, timestamp=timestamp, body=body,
                                                   secret=app.config["WEBHOOK_SECRET"])}
    started = time.perf_counter()
    response = client.post("/api/webhooks/courses", data=body, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"delivery failed: {response.status_code} {response.get_data(as_text=True)[:500]}")
    return elapsed, response.get_json(), len(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5,
                        help="identical re-deliveries and one-entry deltas to time (median reported)")
    parser.add_argument("--output", help="also write the Markdown report to this file")
    args = parser.parse_args()

    snapshot = snapshot_generate(entries=args.entries, courses=args.courses, timestamp="2026-11-26T09:00:00Z")
    with database() as url:
        app = app_create(url)
        from raf_network.extensions import db

        with app.app_context():
            statements = Statements(db.engine)
        client = app.test_client()
        rows = []

        elapsed, outcome, size = deliver(app, client, snapshot)
        total, writes = statements.take()
        assert outcome["created"] == args.entries + 2 * args.courses + 1, outcome
        rows.append(("snapshot (new)", elapsed, total, writes, outcome, "≤ 3 s", elapsed <= 3.0))

        timings = []
        for _ in range(args.repeats):  # each under a new webhook-id
            elapsed, outcome, _ = deliver(app, client, snapshot)
            total, writes = statements.take()
            assert writes == 0 and outcome["created"] == outcome["updated"] == outcome["removed"] == 0, outcome
            timings.append(elapsed)
        median = statistics.median(timings)
        rows.append((f"identical snapshot, new webhook-id (median of {args.repeats})", median, total, writes,
                     outcome, "≤ 0.5 s, 0 writes", median <= 0.5))

        timings = []
        for number in range(args.repeats):
            entry = dict(snapshot["data"]["schedule"][number * 997 % args.entries], classroom=f"Moved{number}")
            payload = {"type": "courses.delta", "timestamp": "2026-11-26T10:00:00Z", "data": {"schedule": [entry]}}
            elapsed, outcome, _ = deliver(app, client, payload)
            total, writes = statements.take()
            assert outcome["updated"] == 1, outcome
            timings.append(elapsed)
        median = statistics.median(timings)
        rows.append((f"one-entry delta (median of {args.repeats})", median, total, writes, outcome, "≤ 50 ms",
                     median <= 0.05))

        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        print(f"\n{args.entries:,} entries, {args.courses} courses, snapshot body {size / 1e6:.1f} MB, "
              f"PostgreSQL, {'Redis' if os.environ.get('BENCH_REDIS_URL') else 'in-process'} cache\n")
        print("| delivery | time | SQL statements | catalogue writes | created / updated / removed | target |")
        print("| --- | ---: | ---: | ---: | --- | --- |")
        for name, elapsed, total, writes, outcome, target, met in rows:
            counts = f"{outcome['created']} / {outcome['updated']} / {outcome['removed']}"
            print(f"| {name} | {elapsed * 1000:,.0f} ms | {total} | {writes} | {counts} | {target} "
                  f"{'✓' if met else '✗ MISSED'} |")
    print(report.getvalue())
    if args.output:  # bench/run.sh splices this Markdown into docs/benchmarks.md
        Path(args.output).write_text(report.getvalue(), encoding="utf-8")
    return 0  # a missed target is a figure (marked in the table), not a failed run


if __name__ == "__main__":
    sys.exit(main())
