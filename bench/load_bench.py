"""Mixed load test (make bench step `load`): the app's real use at rising concurrency against the running
`web` process, with a signed webhook delivery and a broadcast fired in the middle of every step.

Mix per request (bench/mixed.lua): 55% timetable revalidation (If-None-Match → 304 until a delivery changes
it), 10% full timetable (gzip), 5% exam periods revalidation, 10% GET /api/me, 10% subscriptions, 10% inbox —
the signed-in calls spread over BENCH_USERS students, each with subscriptions and a device. Reports, per
step: throughput, p50/p99 latency and errors (socket errors and HTTP ≥ 400), plus how the mid-step webhook
delivery and broadcast were answered. Needs the environment bench/run.sh provides.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from raf_network import create_app  # noqa: E402
from raf_network.extensions import db  # noqa: E402


def _setup(users):
    """Students with two subscriptions and a device each, an admin, and their tokens (the real services)."""
    from sqlalchemy import select

    from raf_network.courses.models import ScheduleEntry
    from raf_network.users.models import Device, Subscription
    from raf_network.users.services import user_create, user_token_issue

    app = create_app()
    with app.app_context():
        entry_ids = list(db.session.scalars(select(ScheduleEntry.id).where(ScheduleEntry.deleted_at.is_(None))))
        tokens = []
        for number in range(users):
            email = f"load{number}{1000 + number}rn@raf.rs"
            user = user_create(email=email, role="student")
            for entry_id in random.Random(number).sample(entry_ids, 2):
                db.session.add(Subscription(user_id=user.id, schedule_entry_id=entry_id))
            db.session.add(Device(user_id=user.id, token=f"load-device-{number}", platform="android"))
            db.session.commit()
            tokens.append(user_token_issue(email=email))
        user_create(email="load-admin@raf.rs", role="admin")
        admin = user_token_issue(email="load-admin@raf.rs")
    return app, tokens, admin


def _delta_body(app, step):
    """A one-entry change (room swap) in the course service's format, newer than any before."""
    from sqlalchemy import select

    from raf_network.courses.models import DAY_CODES, Course, ScheduleEntry

    with app.app_context():
        entry, code = db.session.execute(
            select(ScheduleEntry, Course.code).join(Course).where(ScheduleEntry.deleted_at.is_(None))
            .order_by(ScheduleEntry.id).limit(1)).one()
        item = {"id": entry.external_id, "course": code, "kind": entry.kind, "professor": entry.professor,
                "groups": entry.groups.split(", "), "day": DAY_CODES[entry.day],
                "start": entry.start_time.strftime("%H:%M"), "end": entry.end_time.strftime("%H:%M"),
                "classroom": f"Load room {step}"}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"type": "courses.delta", "timestamp": stamp, "data": {"schedule": [item]}}).encode()


def _mid_step_events(app, base, admin, step, delay, outcomes):
    from raf_network.webhook.services import signature_sign

    time.sleep(delay)
    body = _delta_body(app, step)
    webhook_id, stamp = f"load-{step}-{time.time_ns()}", str(int(time.time()))
    signature = signature_sign(webhook_id=webhook_id, timestamp=stamp, body=body,
                               secret=os.environ["WEBHOOK_SECRET"].split()[0])
    started = time.perf_counter()
    response = requests.post(f"{base}/api/webhooks/courses", data=body, timeout=30, headers={
        "Content-Type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": stamp,
        "webhook-signature": signature})
    outcomes["webhook"] = f"{response.status_code} in {1000 * (time.perf_counter() - started):.0f} ms"
    started = time.perf_counter()
    response = requests.post(f"{base}/api/notifications/broadcast", timeout=30, json={
        "title": f"Load step {step}", "body": "Announcement during the load test", "audience": {"all": True}},
        headers={"Authorization": f"Bearer {admin}"})
    outcomes["broadcast"] = f"{response.status_code} in {1000 * (time.perf_counter() - started):.0f} ms"


def _wrk(base, connections, duration, env):
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}", "--latency",
               "-s", "bench/mixed.lua", f"{base}/api/course-schedule"]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=600).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line[len("WRK_JSON "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--steps", default=os.environ.get("LOAD_STEPS", "4,16,32,64"))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("LOAD_DURATION", "10")))
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_USERS", "50")))
    args = parser.parse_args()
    base = os.environ["BENCH_WEB_URL"]

    app, tokens, admin = _setup(args.users)
    rows = []
    for step, connections in enumerate(int(c) for c in args.steps.split(",")):
        etags = {path: requests.get(base + path, timeout=10).headers["ETag"]
                 for path in ("/api/course-schedule", "/api/examination-periods")}
        env = {**os.environ, "BENCH_TOKENS": " ".join(tokens),
               "BENCH_ETAG_SCHEDULE": etags["/api/course-schedule"],
               "BENCH_ETAG_PERIODS": etags["/api/examination-periods"]}
        outcomes = {}
        events = threading.Thread(target=_mid_step_events, args=(app, base, admin, step, args.duration / 2, outcomes))
        events.start()
        result = _wrk(base, connections, f"{args.duration}s", env)
        events.join()
        errors = (result["errors_connect"] + result["errors_read"] + result["errors_write"]
                  + result["errors_status"] + result["errors_timeout"])
        rows.append((connections, result["requests"] / (result["duration_us"] / 1e6), result["latency_p50_us"] / 1000,
                     result["latency_p99_us"] / 1000, result["requests"], errors, outcomes.get("webhook", "not sent"),
                     outcomes.get("broadcast", "not sent")))

    lines = [
        f"Run finished {datetime.now(timezone.utc).isoformat(timespec='seconds')}. Generated by `make bench` "
        "(`bench/load_bench.py`, `bench/mixed.lua`); do not edit between the markers.",
        "",
        f"Mix: 55% timetable revalidation (304 until a delivery changes it), 10% full timetable (gzip), 5% exam "
        f"periods revalidation, 10% `GET /api/me`, 10% subscriptions, 10% inbox, over {args.users} signed-in "
        f"students; {args.duration} s per step; in the middle of each step one signed webhook delivery (a room "
        "change, which also changes the timetable ETag) and one broadcast to everyone (202, queued for the "
        f"worker). Web process: gunicorn, {os.environ.get('WEB_CONCURRENCY', '2')} sync workers.",
        "",
        "| connections | req/s | p50 | p99 | requests | errors | webhook mid-step | broadcast mid-step |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for connections, rps, p50, p99, total, errors, webhook, broadcast in rows:
        lines.append(f"| {connections} | {rps:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {total:,} | {errors} | "
                     f"{webhook} | {broadcast} |")
    lines.append("")
    lines.append("Errors are socket errors plus HTTP responses ≥ 400 counted by wrk (304s are successes).")
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
